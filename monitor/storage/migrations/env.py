"""Alembic environment: runs on the connection given by ``monitor.storage.db.upgrade`` (or a URL)."""

from alembic import context
from sqlalchemy import create_engine

import monitor.storage.models  # noqa: F401  (registers the monitor tables on Base.metadata)
from enrollment.models import Base

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")

if connection is None:
    connection = create_engine(context.config.get_main_option("sqlalchemy.url")).connect()



def include_name(name, type_, _parent_names) -> bool:
    """APScheduler creates and owns its job table; the migrations leave it alone."""
    return not (type_ == "table" and name == "apscheduler_jobs")


context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                  include_name=include_name)
with context.begin_transaction():
    context.run_migrations()
