"""Personal data out of a question before it is sent anywhere; the facts asked about stay in."""

import pytest

from assistant.redact import redact


@pytest.mark.parametrize(
    "text,kind,secret",
    [
        ("my email is jo.bloggs+work@example.co.uk, can you help", "email", "jo.bloggs+work@example.co.uk"),
        ("ring me on 07912 345678 please", "phone", "07912 345678"),
        ("ring me on 07912345678", "phone", "07912345678"),
        ("our office is +44 20 7946 0958", "phone", "+44 20 7946 0958"),
        ("landline (0161) 496 0000", "phone", "496 0000"),
        ("his NI number is QQ 12 34 56 C", "ni_number", "QQ 12 34 56 C"),
        ("NI: ab123456c", "ni_number", "ab123456c"),
        ("she lives at SW1A 1AA in London", "postcode", "SW1A 1AA"),
        ("postcode m1 1ae", "postcode", "m1 1ae"),
        ("I paid with 4111 1111 1111 1111 yesterday", "card_number", "4111 1111 1111 1111"),
        ("card 5500-0000-0000-0004", "card_number", "5500-0000-0000-0004"),
        ("he was born on 12/03/1985", "date_of_birth", "12/03/1985"),
        ("DOB: 3rd March 1990, does that matter", "date_of_birth", "3rd March 1990"),
        ("date of birth is 1 April 1970", "date_of_birth", "1 April 1970"),
    ],
)
def test_personal_data_is_replaced_by_a_placeholder(text, kind, secret):
    result = redact(text)
    assert secret not in result.text and result.found.get(kind) == 1, result
    assert "[" in result.text


@pytest.mark.parametrize(
    "text",
    [
        "Does it cost anything to qualify onto the Dynamic Framework?",
        "what's the deadline, 31/03/2024 or 1 April 2024?",  # a date, but no one's birthday
        "In 2021/22 the ROIF totals £5m across 12 regions",
        "is the MoJ support line 0845 0100 132 still open",  # a phone number: redacted even so
        "what does PQQ_205 mean and is ITT the same as RFQ",
        "we have 250 volunteers and a £1,200,000 budget",
        "reference 1234 5678 9012 3456",  # 16 digits, but not a card number (fails the Luhn check)
    ],
)
def test_the_question_itself_survives(text):
    result = redact(text)
    if "0845" in text:
        assert result.text == "is the MoJ support line [phone number] still open"
    else:
        assert result.text == text and not result.changed


def test_several_kinds_at_once_are_counted():
    result = redact("Email a@b.org or c@d.org.uk, call 07700 900123, NI QQ123456C, postcode B1 1AA")
    assert result.found == {"email": 2, "phone": 1, "ni_number": 1, "postcode": 1}
    assert "@" not in result.text and "07700" not in result.text
