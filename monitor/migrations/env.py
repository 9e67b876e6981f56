"""Alembic environment: runs on the connection given by ``monitor.db.upgrade`` (or a URL)."""

from alembic import context
from sqlalchemy import create_engine

import monitor.models  # noqa: F401  (registers the monitor tables on Base.metadata)
from enrollment.models import Base

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")

if connection is None:
    connection = create_engine(context.config.get_main_option("sqlalchemy.url")).connect()

context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
