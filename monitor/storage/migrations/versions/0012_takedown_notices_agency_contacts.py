"""takedown notices (their detections, the steps of their life, the captures again of what they name) and how
an agency is reached

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 03:00:00
"""

from alembic import op
import sqlalchemy as sa

from monitor.storage.migrations.wall import OWN_AGENCY, wall_off


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

POLICIES = {
    'notices': OWN_AGENCY,
    'notice_events': OWN_AGENCY,
    'notice_rechecks': OWN_AGENCY,
    'notice_detections': (f"notice_id IN (SELECT id FROM notices WHERE "
                          f"{OWN_AGENCY.replace('agency_id', 'notices.agency_id', 1)})"),
}


def upgrade() -> None:
    with op.batch_alter_table('agencies') as batch_op:
        batch_op.add_column(sa.Column('contact_address', sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column('contact_phone', sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column('contact_email', sa.String(length=320), nullable=True))
    op.create_table(
        'notices',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.Column('basis', sa.String(length=20), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('recipient', sa.String(length=2000), nullable=False),
        sa.Column('host', sa.String(length=253), nullable=True),
        sa.Column('signer_email', sa.String(length=320), nullable=False),
        sa.Column('signer_name', sa.String(length=200), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('evidence_sha256', sa.String(length=64), nullable=False),
        sa.Column('evidence_fingerprint', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_notices_agency_id', 'notices', ['agency_id'])
    op.create_index('ix_notices_agency_status', 'notices', ['agency_id', 'status', 'id'])
    op.create_table(
        'notice_detections',
        sa.Column('notice_id', sa.Integer(), nullable=False),
        sa.Column('detection_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['notice_id'], ['notices.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['detection_id'], ['detections.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('notice_id', 'detection_id'),
    )
    op.create_index('ix_notice_detections_detection_id', 'notice_detections', ['detection_id'])
    op.create_table(
        'notice_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('notice_id', sa.Integer(), nullable=False),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor', sa.String(length=320), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['notice_id'], ['notices.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_notice_events_notice_id', 'notice_events', ['notice_id'])
    op.create_index('ix_notice_events_agency_id', 'notice_events', ['agency_id'])
    op.create_table(
        'notice_rechecks',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('notice_id', sa.Integer(), nullable=False),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.Column('url', sa.Text(), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('verdict', sa.String(length=20), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=True),
        sa.Column('sha256', sa.String(length=64), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('captured_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['notice_id'], ['notices.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_notice_rechecks_notice_id', 'notice_rechecks', ['notice_id'])
    op.create_index('ix_notice_rechecks_agency_id', 'notice_rechecks', ['agency_id'])
    wall_off(POLICIES)


def downgrade() -> None:
    op.drop_table('notice_rechecks')
    op.drop_table('notice_events')
    op.drop_table('notice_detections')
    op.drop_table('notices')
    with op.batch_alter_table('agencies') as batch_op:
        batch_op.drop_column('contact_email')
        batch_op.drop_column('contact_phone')
        batch_op.drop_column('contact_address')
