"""Recent answers: each answer of the last hour, redacted (question, what was redacted, answer text,
sources), so that a thumbs down reaching any worker process or machine keeps its question.

Only an addition: a new table. Its rows are deleted an hour after their answer.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recent_answers",
        sa.Column("answer_id", sa.String(128), primary_key=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("question", sa.Text),
        sa.Column("redacted", sa.String(200), nullable=False),
        sa.Column("answer_text", sa.Text, nullable=False),
        sa.Column("sources", sa.Text, nullable=False),
        sa.Column("kept_id", sa.Integer),
    )
    op.create_index("ix_recent_answers_created_at", "recent_answers", ["created_at"])
