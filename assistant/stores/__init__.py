"""What the assistant keeps, in one database reached through SQLAlchemy: thumbs up/down, the
questions kept for the staff console (redacted), the last hour's answers (redacted, for a thumbs
down reaching any process), weekly answer counts, the audit log of admin actions, admin sessions
and ingest jobs.

SQLite in the data folder by default (`data/feedback.sqlite3`, the file feedback always lived in);
PostgreSQL when `ASSISTANT_DATABASE_URL` is set. The schema is brought up to date by Alembic
migrations when a store is first opened (`database.py`); a migration only ever adds, so no row is
lost. One module per kind of record.
"""
