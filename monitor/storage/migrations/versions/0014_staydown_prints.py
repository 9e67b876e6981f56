"""staydown: the perceptual fingerprints of confirmed clones, and the re-uploads linked to them

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 05:00:00
"""

from alembic import op
import sqlalchemy as sa

from monitor.storage.migrations.wall import OWN_AGENCY, wall_off


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None



def upgrade() -> None:
    op.create_table(
        'staydown_prints',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.Column('performer_id', sa.Integer(), nullable=False),
        sa.Column('detection_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('print_data', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['performer_id'], ['performers.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['detection_id'], ['detections.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('detection_id'),
    )
    op.create_index('ix_staydown_prints_agency_id', 'staydown_prints', ['agency_id'])
    op.create_index('ix_staydown_prints_performer_id', 'staydown_prints', ['performer_id'])
    with op.batch_alter_table('detections') as batch_op:
        batch_op.add_column(sa.Column('reupload_of_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_detections_reupload_of_id_detections', 'detections',
                                    ['reupload_of_id'], ['id'], ondelete='SET NULL')
    wall_off({'staydown_prints': OWN_AGENCY})


def downgrade() -> None:
    with op.batch_alter_table('detections') as batch_op:
        batch_op.drop_constraint('fk_detections_reupload_of_id_detections', type_='foreignkey')
        batch_op.drop_column('reupload_of_id')
    op.drop_table('staydown_prints')
