"""row-level security (PostgreSQL): the biometric and evidential tables show a request only its agency's rows

The application acts for a user of one agency as the role likeness_app, which does not own the tables, with
the agency in the setting likeness.agency_id (monitor.storage.tenancy.agency_sessions); row-level security
then hides every other agency's references, consents, voiceprints, detections, custody entries and audit
events, whatever the query. The tables' owner (the command line, the crawler, the scans) is not limited. Where
the database user may not create roles, the wall is not built and a notice says so; the ORM's filters stay.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 18:00:00
"""

from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

ROLE = 'likeness_app'
OWN_AGENCY = "agency_id = NULLIF(current_setting('likeness.agency_id', true), '')::integer"
OWN_PERFORMER = (f"performer_id IN (SELECT id FROM performers WHERE "
                 f"{OWN_AGENCY.replace('agency_id', 'performers.agency_id', 1)})")
POLICIES = {
    'detections': OWN_AGENCY,
    'custody_events': OWN_AGENCY,
    'audit_events': OWN_AGENCY,
    'consents': OWN_PERFORMER,
    'voice_references': OWN_PERFORMER,
    'face_references': OWN_PERFORMER,
    'voiceprints': OWN_PERFORMER,
}


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    statements = [
        f"IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}') THEN CREATE ROLE {ROLE} NOLOGIN; END IF;",
        f"GRANT {ROLE} TO CURRENT_USER;",
        f"GRANT USAGE ON SCHEMA public TO {ROLE};",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {ROLE};",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {ROLE};",
    ]
    for table, rule in POLICIES.items():
        statements += [f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;",
                       f"DROP POLICY IF EXISTS own_agency ON {table};",
                       f"CREATE POLICY own_agency ON {table} TO {ROLE} USING ({rule}) WITH CHECK ({rule});"]
    newline = "\n    "
    op.execute(f"""
DO $wall$
BEGIN
    {newline.join(statements)}
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'row-level security not set up: this database user may not create the role {ROLE}';
END
$wall$""")


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table in POLICIES:
        op.execute(f"DROP POLICY IF EXISTS own_agency ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
