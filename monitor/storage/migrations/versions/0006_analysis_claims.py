"""analysis claims: one analysis per (content, analysis key) across processes

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 03:20:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('analysis_claims',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('analysis_key', sa.String(length=64), nullable=False),
    sa.Column('claimed_by', sa.String(length=300), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sha256', 'analysis_key')
    )


def downgrade() -> None:
    op.drop_table('analysis_claims')
