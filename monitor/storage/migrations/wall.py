"""The row-level security wall of migration 0009, raised around tables that later migrations add."""

from __future__ import annotations

from alembic import op

ROLE = "likeness_app"  # made by 0009, where the database user could
OWN_AGENCY = "agency_id = NULLIF(current_setting('likeness.agency_id', true), '')::integer"


def wall_off(rules: dict[str, str]) -> None:
    """On PostgreSQL where ROLE exists: ROLE may use each table (and the sequences) and sees only the rows its
    rule (a USING/WITH CHECK expression) lets through; elsewhere nothing."""
    if op.get_bind().dialect.name != "postgresql":
        return
    statements = []
    for table, rule in rules.items():
        statements += [f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {ROLE};",
                       f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;",
                       f"CREATE POLICY own_agency ON {table} TO {ROLE} USING ({rule}) WITH CHECK ({rule});"]
    statements.append(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {ROLE};")
    newline = "\n        "
    op.execute(f"""
DO $wall$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}') THEN
        {newline.join(statements)}
    END IF;
END
$wall$""")
