"""The deployer's file: name, scope and contacts come from it; a corpus without it still works,
and a decline never names a contact that neither the file nor the documents give."""

import re
import shutil

from assistant.answering.answer import Status
from assistant.corpus.deployer import load_profile
from assistant.service import Service
from tests.conftest import ROOT, make_settings

CONTACT = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+|\b0\d{3,4}[ \d]{6,9}\d\b")


def _other_corpus(tmp_path):
    folder = tmp_path / "corpus"
    shutil.copytree(ROOT / "evals" / "other-corpus" / "docs", folder)
    return folder


def test_a_corpus_without_deployer_file_or_glossary_declines_with_only_its_own_contacts(tmp_path):
    corpus = _other_corpus(tmp_path)
    service = Service(make_settings(tmp_path, corpus))
    service.ingest()
    text = " ".join((corpus / p.name).read_text() for p in corpus.glob("*.md")).lower()
    a = service.ask("what is the capital of peru")
    b = service.ask("how much does an enhanced police check cost")
    for answer in (a, b):
        assert answer.declined
        for contact in CONTACT.findall(answer.text):
            assert contact.lower() in text, f"{contact} is not in these documents"
        assert "esourcing" not in answer.text.lower() and "clinks" not in answer.text.lower()
    # the scope is said in the documents' own words (their titles)
    assert "I can help with the guidance in: Community Futures Trust grant guidance 2026" in b.text
    assert "and 5 more documents" in b.text
    # the first corpus's glossary is not applied to this one
    assert service.glossary.entries == []


def test_contacts_and_scope_come_from_the_deployer_file(tmp_path):
    corpus = _other_corpus(tmp_path)
    (corpus / "assistant.yaml").write_text(
        "name: Helpdesk\nscope: grants and safeguarding\ncontacts:\n"
        "  - name: the grants team\n    for: grant questions\n    email: grants@example.org\n"
        "  - name: Bad link\n    url: javascript:alert(1)\n",
        encoding="utf-8",
    )
    service = Service(make_settings(tmp_path, corpus))
    service.ingest()
    a = service.ask("how much does an enhanced police check cost")
    assert a.status is Status.DECLINED_NOT_COVERED
    assert "I can help with grants and safeguarding." in a.text and "grants@example.org" in a.text
    assert "javascript:" not in a.text
    assert service.ask("what is the capital of peru").text.startswith("Sorry, I can only answer questions about grants")


def test_a_broken_deployer_file_gives_defaults_not_a_crash(tmp_path, caplog):
    path = tmp_path / "assistant.yaml"
    path.write_text("name: [unclosed\n", encoding="utf-8")
    profile = load_profile(path)
    assert profile.name and profile.contacts == () and "could not be read" in caplog.text


def test_the_shipped_deployer_file_only_names_contacts_the_guidance_gives():
    corpus = (ROOT / "corpus" / "probation-services.md").read_text().lower()
    profile = load_profile(ROOT / "corpus" / "assistant.yaml")
    for contact in profile.contacts:
        for way in (contact.email, contact.phone):
            if way:
                assert way.lower() in corpus


def test_every_starter_question_the_welcome_offers_is_really_answered(service):
    """The welcome message offers these: each must be answered from the guidance, with sources."""
    starters = service.profile.starter_questions
    assert len(starters) >= 3
    for question in starters:
        answer = service.ask(question)
        assert answer.status is Status.ANSWERED and answer.confident, question
        assert answer.citations and all("#:~:text=" in c.url for c in answer.citations), question
