"""tenancy: agencies own performers, sources, sightings, detections, alerts and custody chains; users,
memberships, API tokens, each agency's audit trail, and scans requested through the API

Existing rows move into the oldest agency (one named "default" is made where there is none), so a
single-agency install sees no difference; detections and alerts go with their performer's agency.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 17:40:00
"""

from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# names SQLite's reflection gives the unnamed constraints of earlier migrations, so that they can be dropped
SQLITE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_N_name)s",
                "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
OWNED = ('sources', 'sightings', 'detections', 'alerts', 'custody_events')


def upgrade() -> None:
    _account_tables()
    for table in OWNED:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column('agency_id', sa.Integer(), nullable=True))
    _move_rows_into_agencies()
    for table in OWNED:
        with op.batch_alter_table(table, naming_convention=SQLITE_NAMES) as batch_op:
            batch_op.alter_column('agency_id', existing_type=sa.Integer(), nullable=False)
            batch_op.create_foreign_key(f'fk_{table}_agency_id_agencies', 'agencies', ['agency_id'], ['id'],
                                        ondelete='CASCADE')
            batch_op.create_index(f'ix_{table}_agency_id', ['agency_id'], unique=False)
            if table == 'detections':
                batch_op.create_index('ix_detections_agency_status_score', ['agency_id', 'status', 'score', 'id'],
                                      unique=False)
            if table == 'sightings':
                batch_op.drop_constraint(_name('uq', 'sightings', ('media_id', 'source')), type_='unique')
                batch_op.create_unique_constraint('uq_sightings_agency_media_source',
                                                  ['agency_id', 'media_id', 'source'])
                batch_op.create_index('ix_sightings_agency_source', ['agency_id', 'source'], unique=False)
            if table == 'custody_events':
                batch_op.drop_constraint(_name('uq', 'custody_events', ('media_id', 'seq')), type_='unique')
                batch_op.create_unique_constraint('uq_custody_events_agency_media_seq',
                                                  ['agency_id', 'media_id', 'seq'])
    with op.batch_alter_table('performers', naming_convention=SQLITE_NAMES) as batch_op:
        batch_op.alter_column('agency_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_constraint(_name('fk', 'performers', ('agency_id',), 'agencies'), type_='foreignkey')
        batch_op.create_foreign_key('fk_performers_agency_id_agencies', 'agencies', ['agency_id'], ['id'],
                                    ondelete='CASCADE')
        batch_op.create_index('ix_performers_agency_id', ['agency_id'], unique=False)


def _name(kind: str, table: str, columns: tuple[str, ...], referred: str = '') -> str:
    """The name an earlier migration's unnamed constraint has: PostgreSQL's own, or SQLITE_NAMES'."""
    if op.get_bind().dialect.name == 'postgresql':
        return f"{table}_{'_'.join(columns)}_{'key' if kind == 'uq' else 'fkey'}"
    return f"uq_{table}_{'_'.join(columns)}" if kind == 'uq' else f"fk_{table}_{columns[0]}_{referred}"


def _move_rows_into_agencies() -> None:
    bind = op.get_bind()
    tables = ('performers', 'sources', 'sightings', 'custody_events')
    has_rows = any(bind.execute(sa.text(f'SELECT 1 FROM {table} LIMIT 1')).first() for table in tables)
    first = bind.execute(sa.text('SELECT min(id) FROM agencies')).scalar()
    if first is None and has_rows:
        bind.execute(sa.text('INSERT INTO agencies (name, created_at) VALUES (:name, :at)'),
                     {'name': 'default', 'at': datetime.now(UTC)})
        first = bind.execute(sa.text('SELECT min(id) FROM agencies')).scalar()
    if first is None:
        return
    for statement in (
        'UPDATE performers SET agency_id = :first WHERE agency_id IS NULL',
        'UPDATE sources SET agency_id = :first',
        'UPDATE sightings SET agency_id = :first',
        'UPDATE custody_events SET agency_id = :first',
        'UPDATE detections SET agency_id = (SELECT agency_id FROM performers WHERE performers.id = performer_id)',
        'UPDATE alerts SET agency_id = (SELECT agency_id FROM performers WHERE performers.id = performer_id)',
    ):
        bind.execute(sa.text(statement), {'first': first} if ':first' in statement else {})


def _account_tables() -> None:
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('email')
    )
    op.create_table('memberships',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'agency_id')
    )
    with op.batch_alter_table('memberships') as batch_op:
        batch_op.create_index('ix_memberships_agency_id', ['agency_id'], unique=False)
        batch_op.create_index('ix_memberships_user_id', ['user_id'], unique=False)
    op.create_table('membership_performers',
    sa.Column('membership_id', sa.Integer(), nullable=False),
    sa.Column('performer_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['membership_id'], ['memberships.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['performer_id'], ['performers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('membership_id', 'performer_id')
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('membership_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('scope', sa.String(length=10), nullable=False),
    sa.Column('secret_sha256', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['membership_id'], ['memberships.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('membership_id', 'name'),
    sa.UniqueConstraint('secret_sha256')
    )
    with op.batch_alter_table('api_tokens') as batch_op:
        batch_op.create_index('ix_api_tokens_membership_id', ['membership_id'], unique=False)
    op.create_table('web_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('secret_sha256', sa.String(length=64), nullable=False),
    sa.Column('membership_id', sa.Integer(), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['membership_id'], ['memberships.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('secret_sha256')
    )
    with op.batch_alter_table('web_sessions') as batch_op:
        batch_op.create_index('ix_web_sessions_membership_id', ['membership_id'], unique=False)
    op.create_table('audit_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('actor', sa.String(length=320), nullable=False),
    sa.Column('actor_kind', sa.String(length=10), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('entry', sa.JSON(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('agency_id', 'seq')
    )
    with op.batch_alter_table('audit_events') as batch_op:
        batch_op.create_index('ix_audit_events_action', ['action'], unique=False)
        batch_op.create_index('ix_audit_events_agency_id', ['agency_id'], unique=False)
    op.create_table('scan_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('requested_by', sa.String(length=320), nullable=False),
    sa.Column('target', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('size_bytes', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('scan_requests') as batch_op:
        batch_op.create_index('ix_scan_requests_agency_id', ['agency_id'], unique=False)
        batch_op.create_index('ix_scan_requests_status', ['status'], unique=False)


def downgrade() -> None:
    raise NotImplementedError('tenancy cannot be undone: restore the backup taken before upgrading')
