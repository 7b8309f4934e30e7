"""The current shape of every table (SQLAlchemy Core). The migrations in `migrations/versions/`
build exactly this; a test checks that they agree."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, Integer, LargeBinary, MetaData, String, Table, Text

metadata = MetaData()

# Thumbs up/down. `answer_text` and `sources` are kept after a thumbs down only (the answer, never
# the question), for the console's "answers most often marked unhelpful"; cleared after the
# retention period.
feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("answer_id", Text, nullable=False),
    Column("helpful", Boolean, nullable=False),
    Column("created_at", Float, nullable=False, index=True),
    Column("reason", Text),
    Column("answer_text", Text),
    Column("sources", Text),  # JSON list of "title: section"
)

# Declined questions and questions whose answer got a thumbs down, redacted before they are written.
kept_questions = Table(
    "kept_questions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", Float, nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # "declined" or "thumbs_down"
    Column("status", String(32), nullable=False),  # the answer's status
    Column("reason", String(32)),  # the reason given after a thumbs down, if any
    Column("text", Text, nullable=False),  # redacted
    Column("redacted", String(200), nullable=False, default=""),  # kinds of personal data replaced
    Column("embedder", String(200)),  # which embedder made `vector`
    Column("vector", LargeBinary),  # float32, for grouping by meaning
    Column("conversation", String(32)),  # digest of the chat's random conversation id (migration 0006)
)

# Counts only, no text: answers per ISO week (Monday's date) and outcome.
answer_counts = Table(
    "answer_counts",
    metadata,
    Column("week", String(10), primary_key=True),
    Column("outcome", String(16), primary_key=True),  # "answered" or "declined"
    Column("count", Integer, nullable=False, default=0),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False, index=True),
    Column("who", String(200), nullable=False),
    Column("action", String(64), nullable=False),
    Column("detail", Text, nullable=False, default=""),
)

admin_sessions = Table(
    "admin_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # SHA-256 of the cookie: the cookie itself is never stored
    Column("csrf", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False, index=True),
    Column("client", String(64), nullable=False, default=""),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False, index=True),
    Column("client", String(64), nullable=False),
)

ingest_jobs = Table(
    "ingest_jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", Float, nullable=False),
    Column("action", String(32), nullable=False),  # upload, replace, remove, edit
    Column("name", String(300), nullable=False),
    Column("state", String(16), nullable=False),  # running, done, failed
    Column("done", Integer, nullable=False, default=0),
    Column("total", Integer, nullable=False, default=0),
    Column("message", Text, nullable=False, default=""),
    Column("finished_at", Float),
    Column("owner", String(300)),  # "host|pid|process start": the process running it (console/jobs.py)
    Column("heartbeat_at", Float),  # written every half minute while it runs
)

document_status = Table(
    "document_status",
    metadata,
    Column("name", String(300), primary_key=True),
    Column("file_hash", String(64), nullable=False),
    Column("ingested_at", Float, nullable=False),
    Column("warnings", Text, nullable=False, default=""),  # from the last ingest, one a line
)

# The index shared by several app processes (stores/shared_index.py): each published version names
# its files by SHA-256; each file's content is stored once (zlib), whichever versions use it.
index_versions = Table(
    "index_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("version", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("files", Text, nullable=False),  # JSON: "corpus/<path>" or "index/<name>" -> SHA-256
)

shared_files = Table(
    "shared_files",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("data", LargeBinary, nullable=False),  # zlib-compressed
    Column("created_at", Float, nullable=False),
)

# Each answer of the last hour, redacted, so that a thumbs down reaching any process can keep its
# question (`stores/recent.py`); deleted an hour after the answer.
recent_answers = Table(
    "recent_answers",
    metadata,
    Column("answer_id", String(128), primary_key=True),
    Column("created_at", Float, nullable=False, index=True),
    Column("status", String(32), nullable=False),  # the answer's status
    Column("question", Text),  # redacted; None when questions are not kept
    Column("redacted", String(200), nullable=False, default="{}"),  # JSON: kind of personal data -> how many replaced
    Column("answer_text", Text, nullable=False),  # redacted
    Column("sources", Text, nullable=False, default="[]"),  # JSON list of "title: section"
    Column("kept_id", Integer),  # its row in kept_questions, once kept
    Column("conversation", String(32)),  # digest of the chat's random conversation id (migration 0006)
)
