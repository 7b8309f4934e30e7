"""Alembic's entry point, run by `database.migrate` with an open connection (no alembic.ini)."""

from alembic import context

connection = context.config.attributes["connection"]
# Batch mode: SQLite cannot alter a table in place, so Alembic copies it (every row) into the new shape.
context.configure(connection=connection, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
