"""Console ingest jobs name the process running them and its last heartbeat, so that a job whose
server stopped half-way is found at the next start and closed (console/jobs.py).

Only additions: two nullable columns. Jobs from before have neither, and are judged by their age.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ingest_jobs") as batch:
        batch.add_column(sa.Column("owner", sa.String(300)))
        batch.add_column(sa.Column("heartbeat_at", sa.Float))
