"""Feedback: the table the assistant always had, adopted as it is.

A store from before the database layer (plain sqlite3, no `id`, perhaps no `reason`) is copied
into the new shape row by row (Alembic's batch mode), keeping every verdict; a new store gets the
table outright.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if "feedback" not in inspector.get_table_names():
        op.create_table(
            "feedback",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("answer_id", sa.Text, nullable=False),
            sa.Column("helpful", sa.Boolean, nullable=False),
            sa.Column("created_at", sa.Float, nullable=False),
            sa.Column("reason", sa.Text),
        )
    else:
        columns = {c["name"] for c in inspector.get_columns("feedback")}
        with op.batch_alter_table("feedback", recreate="always") as batch:
            if "id" not in columns:
                batch.add_column(sa.Column("id", sa.Integer, primary_key=True, autoincrement=True))
            if "reason" not in columns:
                batch.add_column(sa.Column("reason", sa.Text))
    op.create_index("ix_feedback_created_at", "feedback", ["created_at"])
