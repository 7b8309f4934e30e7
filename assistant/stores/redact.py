"""Personal data out of text before it leaves the machine or is kept: email addresses, phone
numbers, National Insurance numbers, postcodes, payment card numbers, bank sort codes and account
numbers, dates of birth and people's names become plain placeholders ("[email]", "[name]"...).

Standalone: it needs nothing else from the assistant, so anything that sends text away (the
optional language model's prompt) or keeps it (a staff console's logs) can use it. Phone numbers
are found by Google's libphonenumber (the `phonenumberslite` package), which knows every UK
numbering format; the other kinds have one pattern each, and card numbers must also pass the Luhn
check, so an invoice or framework reference is not taken for a card. A date counts as a date of
birth only next to a word that says so ("born", "DOB", "date of birth"): a question about a
deadline keeps its date.

Names are found where they can be recognised without a language model (`names.py`): a first name
from the US census lists (the `names` package) or our list of names common in England and Wales
today, with the surname after it; any word after "Mr", "Mrs", "Dr"..., "my name is", "called" or
"my son", "my client"... Words that are far more often something else in these questions (Kent,
May, Grant, Will) count only after such a cue. A name that is none of these (an unusual name,
typed in lower case, with no cue) is missed: the chat still asks people not to share personal
details.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PLACEHOLDERS = {
    "email": "[email]",
    "card_number": "[card number]",
    "ni_number": "[NI number]",
    "date_of_birth": "[date of birth]",
    "phone": "[phone number]",
    "postcode": "[postcode]",
    "account_number": "[account number]",
    "name": "[name]",
}

_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
# Two letters, six digits, one of A-D, with spaces or not, any case. Any two letters: the rules on
# which prefixes HMRC issues would let a mistyped (or specimen "QQ") number through.
_NI = re.compile(r"\b[A-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]\b", re.IGNORECASE)
_MONTH = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_DATE = (
    r"(?:\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\.?,?\s+\d{{2,4}}"
    rf"|{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{2,4}})"
)
_BIRTH_CUE = r"(?:born|birth\s?day|date\s+of\s+birth|d\.?o\.?b\.?)"
_DOB = re.compile(rf"\b{_BIRTH_CUE}(?:\W+\w+){{0,3}}?\W+({_DATE})", re.IGNORECASE)
# The Royal Mail's postcode format (outward code, space optional, inward code), any case.
_POSTCODE = re.compile(r"\b(?:GIR ?0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2})\b", re.IGNORECASE)
# A sort code or an account number: after a word that says so (a date can look like a sort code).
_SORT_CODE = re.compile(r"\bsort\s*code(?:\s+is)?\W{0,3}(\d{2}[- ]?\d{2}[- ]?\d{2})\b", re.IGNORECASE)
_ACCOUNT = re.compile(r"\b(?:account|acct|a/c)(?:\s+(?:number|no\.?|num))?\W{0,3}(\d[\d ]{6,9}\d)\b", re.IGNORECASE)
MIN_PHONE_DIGITS = 10  # UK numbers have 10 or 11 digits; shorter runs are counts, years or references


@dataclass(frozen=True)
class Redacted:
    text: str
    found: dict[str, int] = field(default_factory=dict)  # kind -> how many were replaced

    @property
    def changed(self) -> bool:
        return bool(self.found)


def redact(text: str) -> Redacted:
    """The text with every piece of personal data replaced by its placeholder."""
    found: dict[str, int] = {}

    def replace(kind: str, pattern: re.Pattern, text: str, valid=lambda s: True, group: int = 0) -> str:
        def sub(match: re.Match) -> str:
            value = match.group(group)
            if not valid(value):
                return match.group(0)
            found[kind] = found.get(kind, 0) + 1
            start, end = match.start(group) - match.start(0), match.end(group) - match.start(0)
            whole = match.group(0)
            return whole[:start] + PLACEHOLDERS[kind] + whole[end:]

        return pattern.sub(sub, text)

    text = replace("email", _EMAIL, text)
    text = replace("card_number", _CARD, text, valid=_luhn)
    text = replace("ni_number", _NI, text)
    text = replace("date_of_birth", _DOB, text, group=1)
    text = replace("account_number", _SORT_CODE, text, group=1)
    text = replace("account_number", _ACCOUNT, text, group=1)
    text = _redact_phones(text, found)
    text = replace("postcode", _POSTCODE, text)
    text = _redact_names(text, found)
    return Redacted(text, found)


def _redact_names(text: str, found: dict[str, int]) -> str:
    from assistant.stores.names import name_spans  # the name lists load once, on first use

    spans = name_spans(text)
    for start, end in reversed(spans):
        text = text[:start] + PLACEHOLDERS["name"] + text[end:]
    if spans:
        found["name"] = found.get("name", 0) + len(spans)
    return text


def _redact_phones(text: str, found: dict[str, int]) -> str:
    import phonenumbers  # 15 ms; only where text is redacted

    spans = [
        (m.start, m.end)
        for m in phonenumbers.PhoneNumberMatcher(text, "GB", leniency=phonenumbers.Leniency.POSSIBLE)
        if sum(ch.isdigit() for ch in m.raw_string) >= MIN_PHONE_DIGITS
    ]
    for start, end in reversed(spans):
        text = text[:start] + PLACEHOLDERS["phone"] + text[end:]
    if spans:
        found["phone"] = found.get("phone", 0) + len(spans)
    return text


def _luhn(candidate: str) -> bool:
    digits = [int(ch) for ch in candidate if ch.isdigit()]
    if not 13 <= len(digits) <= 19 or len(set(digits)) == 1:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0
