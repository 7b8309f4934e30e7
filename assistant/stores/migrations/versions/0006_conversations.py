"""Kept questions (and the recent answers a thumbs down keeps them from) name the conversation they
came from, by a digest of the random id the chat gives each conversation: the console counts how
many different conversations asked about a topic, so one person asking 191 times is one, not 191.
The id identifies a conversation in one browser tab, never a person, and only its digest is kept.

Only additions: one nullable column each. Rows from before have none, and count one each.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("kept_questions", "recent_answers"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("conversation", sa.String(32)))


def downgrade() -> None:
    for table in ("kept_questions", "recent_answers"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("conversation")
