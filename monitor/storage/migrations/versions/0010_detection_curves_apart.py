"""detection curves apart: a voice detection's score over time moves from details to its own column

A list of detections then never decodes the curves (up to 240 points each) it does not show.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 18:50:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

BATCH = 1000


DETECTIONS = sa.table('detections', sa.column('id', sa.Integer), sa.column('details', sa.JSON),
                      sa.column('curve', sa.JSON))


def upgrade() -> None:
    with op.batch_alter_table('detections') as batch_op:
        batch_op.add_column(sa.Column('curve', sa.JSON(), nullable=True))
    for detection_id, details, _curve in _rows():
        if isinstance(details, dict) and 'curve' in details:
            kept = {key: value for key, value in details.items() if key != 'curve'}
            op.get_bind().execute(DETECTIONS.update().where(DETECTIONS.c.id == detection_id)
                                  .values(details=kept or None, curve=details['curve']))


def downgrade() -> None:
    for detection_id, details, curve in _rows():
        if curve is not None:
            op.get_bind().execute(DETECTIONS.update().where(DETECTIONS.c.id == detection_id)
                                  .values(details={**(details or {}), 'curve': curve}))
    with op.batch_alter_table('detections') as batch_op:
        batch_op.drop_column('curve')


def _rows():
    """(id, details, curve) of every detection, a batch at a time."""
    last_id = 0
    while rows := op.get_bind().execute(
            sa.select(DETECTIONS.c.id, DETECTIONS.c.details, DETECTIONS.c.curve).where(DETECTIONS.c.id > last_id)
            .order_by(DETECTIONS.c.id).limit(BATCH)).all():
        yield from rows
        last_id = rows[-1][0]
