"""detections know whether their agency has found the media (``sighted``): the visibility of a detection is a
column of its own row, so a page of an agency's detections is read straight from an index

Deciding it per row by looking for a sighting made PostgreSQL misjudge how many rows an agency sees (it
cannot know that an agency's detections are mostly of media it found) and sort all of them for every page.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 20:40:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('detections') as batch_op:
        batch_op.add_column(sa.Column('sighted', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute("UPDATE detections SET sighted = true WHERE EXISTS (SELECT 1 FROM sightings WHERE "
               "sightings.media_id = detections.media_id AND sightings.agency_id = detections.agency_id)")
    with op.batch_alter_table('detections') as batch_op:
        batch_op.drop_index('ix_detections_agency_status_score')
        batch_op.create_index('ix_detections_agency_sighted_newest', ['agency_id', 'sighted', 'id'], unique=False)
        batch_op.create_index('ix_detections_agency_sighted_status_score',
                              ['agency_id', 'sighted', 'status', 'score', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('detections') as batch_op:
        batch_op.drop_index('ix_detections_agency_sighted_status_score')
        batch_op.drop_index('ix_detections_agency_sighted_newest')
        batch_op.create_index('ix_detections_agency_status_score', ['agency_id', 'status', 'score', 'id'],
                              unique=False)
        batch_op.drop_column('sighted')
