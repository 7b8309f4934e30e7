"""What the console's views show, as plain data, for the Gradio UI and the JSON API alike."""

from __future__ import annotations

import time
from collections import Counter

from assistant.console import gaps
from assistant.corpus.index import Manifest
from assistant.service import Service
from assistant.stores.audit import AuditLog
from assistant.stores.database import Database
from assistant.stores.feedback import REASONS, FeedbackStore
from assistant.stores.records import Recorder

UNHELPFUL_SHOWN = 10


class Reports:
    def __init__(self, service: Service, db: Database, recorder: Recorder, audit: AuditLog) -> None:
        self.service = service
        self.db = db
        self.recorder = recorder
        self.feedback = FeedbackStore(db)
        self.audit = audit

    # ---- documents
    def documents(self, status: dict[str, dict]) -> list[dict]:
        """Every document in the index, and every file in the folder that is not (with why)."""
        manifest = Manifest.read(self.service.settings.index_dir)
        indexed_at = (self.service.settings.index_dir / "manifest.json").stat().st_mtime if manifest else 0
        by_doc: dict[str, dict] = {}
        for chunk in manifest.chunks if manifest else []:
            row = by_doc.setdefault(
                chunk.doc_id,
                {"file": chunk.doc_id, "title": chunk.title, "date": chunk.date, "passages": 0, "indexed": True},
            )
            row["passages"] += 1
        folder = self.service.settings.corpus_dir
        from assistant.corpus.documents import SUPPORTED

        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            if path.is_file() and path.suffix.lower() in SUPPORTED and not path.name.startswith("."):
                by_doc.setdefault(
                    path.name, {"file": path.name, "title": "", "date": "", "passages": 0, "indexed": False}
                )
        out = []
        for name, row in by_doc.items():
            known = status.get(name) or {}
            warnings = known.get("warnings", "")
            if not row["indexed"] and not warnings:
                warnings = "not indexed yet"
            elif row["indexed"] and not (folder / name).is_file():
                warnings = "no longer in the corpus folder: it leaves the index at the next change"
            first_indexed = (manifest.documents.get(name) or {}).get("indexed_at") if manifest else None
            row["last_ingested"] = _date(first_indexed or known.get("ingested_at") or indexed_at)
            row["warnings"] = warnings
            out.append(row)
        return out

    # ---- gaps
    def topics(self, days: float) -> list[gaps.Topic]:
        self.recorder.flush()
        embedder = self.service.embedder
        return gaps.topics(self.recorder.kept, days, embedder.embed_documents, getattr(embedder, "name", "embedder"))

    def unanswered(self, days: float) -> dict:
        found = self.topics(days)
        return {
            "days": days,
            "questions": sum(t.count for t in found),
            "topics": [t.to_json() for t in found],
            "keep_questions": self.recorder.keep_questions,
            "keep_days": self.recorder.kept.keep_days,
        }

    def weekly(self, weeks: int = 12) -> list[dict]:
        self.recorder.flush()
        return gaps.weekly(self.recorder.counts, self.feedback, weeks)

    # ---- feedback
    def feedback_report(self, days: float) -> dict:
        verdicts = self.feedback.since(days)
        reasons = Counter(v.reason for v in verdicts if not v.helpful)
        unhelpful: Counter = Counter()
        sources: dict[str, list[str]] = {}
        for v in verdicts:
            if not v.helpful and v.answer_text:
                unhelpful[v.answer_text] += 1
                sources.setdefault(v.answer_text, v.sources)
        rates = []
        for week in self.weekly(max(1, min(52, int(days // 7) + 1))):
            total = week["thumbs_up"] + week["thumbs_down"]
            rates.append({**week, "helpful_share": round(week["thumbs_up"] / total, 3) if total else None})
        return {
            "days": days,
            "thumbs_up": sum(1 for v in verdicts if v.helpful),
            "thumbs_down": sum(1 for v in verdicts if not v.helpful),
            "weekly": rates,
            "reasons": [
                {"reason": key or "none given", "label": REASONS.get(key, "No reason given"), "count": n}
                for key, n in reasons.most_common()
            ],
            "unhelpful_answers": [
                {"answer": text, "sources": sources[text], "thumbs_down": n}
                for text, n in unhelpful.most_common(UNHELPFUL_SHOWN)
            ],
        }

    def audit_entries(self, limit: int = 200) -> list[dict]:
        return [
            {"when": _date(e.at, with_time=True), "who": e.who, "action": e.action, "detail": e.detail}
            for e in self.audit.recent(limit)
        ]


def _date(at: float | None, with_time: bool = False) -> str:
    if not at:
        return ""
    return time.strftime("%Y-%m-%d %H:%M UTC" if with_time else "%Y-%m-%d %H:%M", time.gmtime(at))
