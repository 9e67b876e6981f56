"""voice condition embeddings, cohort members

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 13:20:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cohort_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('modality', sa.String(length=10), nullable=False),
    sa.Column('source_sha256', sa.String(length=64), nullable=False),
    sa.Column('source_name', sa.String(length=500), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('embeddings', sa.LargeBinary(), nullable=True),
    sa.Column('model_version', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('modality', 'source_sha256', 'model_version')
    )
    # existing references keep working: without condition embeddings they are compared clean only
    with op.batch_alter_table('voice_references', schema=None) as batch_op:
        batch_op.add_column(sa.Column('condition_embeddings', sa.LargeBinary(), nullable=True))
    with op.batch_alter_table('voiceprints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('condition_embeddings', sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('voiceprints', schema=None) as batch_op:
        batch_op.drop_column('condition_embeddings')
    with op.batch_alter_table('voice_references', schema=None) as batch_op:
        batch_op.drop_column('condition_embeddings')
    op.drop_table('cohort_members')
