"""content credentials: what a media's C2PA manifest declares, read at its analysis

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 12:40:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('media') as batch_op:
        batch_op.add_column(sa.Column('content_credentials', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('media') as batch_op:
        batch_op.drop_column('content_credentials')
