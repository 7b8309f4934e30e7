"""The deployer's file beside the documents (`assistant.yaml`): who the assistant is, what it can
help with, and whom to send people to when the guidance has no answer.

Nothing about one corpus lives in code or prompts: a corpus without this file still works, with
its scope taken from the documents' titles and no contacts beyond the documents' own pages.
A contact is only ever one the deployer wrote here; the decline message never invents one.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

log = logging.getLogger(__name__)

FILE_NAME = "assistant.yaml"
_SAFE_URL = re.compile(r"^(https?://|mailto:|tel:|/)", re.IGNORECASE)


@dataclass(frozen=True)
class Contact:
    name: str
    topic: str = ""  # what to contact them about ("the Jaggaer portal or your account")
    email: str = ""
    phone: str = ""
    url: str = ""

    def sentence(self) -> str:
        ways = [w for w in (self.email, self.phone, self.url) if w]
        about = f"For {self.topic}, contact" if self.topic else "You can contact"
        return f"{about} {self.name}" + (f": {' or '.join(ways)}." if ways else ".")


@dataclass(frozen=True)
class Profile:
    name: str = "Guidance assistant"
    title: str = "Ask about the guidance"  # heading of the chat page
    scope: str = ""  # "what I can help with", as the end of a sentence
    example_question: str = ""
    starter_questions: tuple[str, ...] = ()
    contacts: tuple[Contact, ...] = field(default_factory=tuple)
    language: str = "en-GB"  # the chat's interface language: "en-GB" or "cy" (the answers stay in English)

    def help_text(self, document_links: list[str] = ()) -> str:
        """What to do next after a decline: the scope, then the deployer's contacts, or, when the
        deployer gave none, the documents' own pages (never a contact from anywhere else)."""
        parts = [f"I can help with {self.scope}." if self.scope else ""]
        if self.contacts:
            parts += [c.sentence() for c in self.contacts]
        elif document_links:
            parts.append("You may find more in the guidance itself: " + ", ".join(document_links[:3]) + ".")
        return " ".join(p for p in parts if p)

    def values(self, document_links: list[str] = ()) -> dict[str, str]:
        """The variables every message template may use."""
        return {
            "assistant_name": self.name,
            "scope": self.scope or "the guidance documents I have been given",
            "help": self.help_text(document_links),
            "example": f', for example: "{self.example_question}"' if self.example_question else "",
        }

    def with_document_defaults(self, titles: list[str]) -> Profile:
        """Fill what the deployer left out from what the documents say about themselves."""
        if self.scope or not titles:
            return self
        names = list(dict.fromkeys(titles))
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        if len(names) > 3:  # a decline is read on a phone: three titles say enough
            listed = ", ".join(names[:3]) + f" and {len(names) - 3} more documents"
        return Profile(
            self.name,
            self.title,
            f"the guidance in: {listed}",
            self.example_question,
            self.starter_questions,
            self.contacts,
            self.language,
        )


def load_profile(path: Path) -> Profile:
    """The profile from `assistant.yaml`; defaults (and one warning) when it is missing or broken."""
    if not path.is_file():
        return Profile()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError("expected a mapping of settings")
        contacts = tuple(_contact(c) for c in data.get("contacts") or [])
        return Profile(
            name=_text(data.get("name")) or Profile.name,
            title=_text(data.get("title")) or Profile.title,
            scope=_text(data.get("scope")),
            example_question=_text(data.get("example_question")),
            starter_questions=tuple(_text(q) for q in data.get("starter_questions") or [] if _text(q)),
            contacts=tuple(c for c in contacts if c is not None),
            language=_language(data.get("language")),
        )
    except (OSError, ValueError, yaml.YAMLError, TypeError, AttributeError) as err:
        log.warning("Ignoring %s: it could not be read (%s). Using defaults.", path.name, err)
        return Profile()


def contact_url_problem(url: str) -> str | None:
    """Why a contact's link is refused beyond its scheme: one to the app's console or API, or to
    another host written as a path (`//host`), or to this server by its loopback address."""
    from assistant.corpus.source_urls import own_address_problem, own_hosts, relative_link_problem

    if url.startswith("/"):
        return relative_link_problem(url)
    if url.lower().startswith(("http://", "https://")):
        return own_address_problem(url, own_hosts())
    return None


LANGUAGES = ("en-GB", "cy")


def _language(value) -> str:
    """`language: cy` (or cy-GB, Welsh, Cymraeg) for a Welsh interface; English otherwise."""
    text = _text(value).lower()
    if text in ("cy", "cy-gb", "welsh", "cymraeg"):
        return "cy"
    if text and text not in ("en", "en-gb", "english", "saesneg"):
        log.warning("Ignoring language %r in %s: use en-GB or cy", value, FILE_NAME)
    return "en-GB"


def _text(value) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def _contact(data) -> Contact | None:
    if not isinstance(data, dict) or not _text(data.get("name")):
        log.warning("Ignoring a contact without a name in %s", FILE_NAME)
        return None
    url = _text(data.get("url"))
    if url and not _SAFE_URL.match(url):
        log.warning("Ignoring the contact URL %r: only http(s), mailto: and tel: links are allowed", url)
        url = ""
    problem = contact_url_problem(url) if url else None
    if problem:
        log.warning("Ignoring the contact URL %r: %s", url, problem)
        url = ""
    return Contact(
        name=_text(data["name"]),
        topic=_text(data.get("for")),
        email=_text(data.get("email")),
        phone=_text(data.get("phone")),
        url=url,
    )
