"""allow-lists: the places where a performer's voice or likeness is licensed, and the rule a detection was found
under

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 04:00:00
"""

from alembic import op
import sqlalchemy as sa

from monitor.storage.migrations.wall import OWN_AGENCY, wall_off


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None



def upgrade() -> None:
    op.create_table(
        'allow_rules',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.Column('performer_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('value', sa.Text(), nullable=False),
        sa.Column('valid_from', sa.DateTime(timezone=True), nullable=True),
        sa.Column('valid_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=320), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['performer_id'], ['performers.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_allow_rules_agency_id', 'allow_rules', ['agency_id'])
    op.create_index('ix_allow_rules_performer_id', 'allow_rules', ['performer_id'])
    with op.batch_alter_table('detections') as batch_op:
        batch_op.add_column(sa.Column('allowed_by_rule_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_detections_allowed_by_rule_id_allow_rules', 'allow_rules',
                                    ['allowed_by_rule_id'], ['id'], ondelete='SET NULL')
    wall_off({'allow_rules': OWN_AGENCY})


def downgrade() -> None:
    with op.batch_alter_table('detections') as batch_op:
        batch_op.drop_constraint('fk_detections_allowed_by_rule_id_allow_rules', type_='foreignkey')
        batch_op.drop_column('allowed_by_rule_id')
    op.drop_table('allow_rules')
