"""Row-level security for tenant-owned tables: one call per table, from any migration.

    from moviemanager.migrations.tenant_isolation import isolate_by_tenant
    isolate_by_tenant("category_counts")

The service serves requests as APP_ROLE (not a superuser, no BYPASSRLS, owns no table) and sets
`app.tenant` at the start of every transaction (see db.py); migrations run as the tables' owner.
FORCE makes the policy bind the owner too, so only superusers (tests, embedded) see every row.

Frozen, like the migrations that call it: it imports nothing of the app, and the SQL it writes
must not change, or old migrations would do something else on a fresh database (a new way to
isolate a table is a new function, or SQL in a new migration).
"""

from alembic import op

# Cluster-wide, like every role: shared by every database of the server, granted per database.
APP_ROLE = "moviemanager_app"
POLICY = "tenant_isolation"
# NULL when no tenant is set, or it is empty: the policy then matches no row, and raises nothing.
CURRENT_TENANT = "nullif(current_setting('app.tenant', true), '')"
APP_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"


def isolation_statements(table: str, *, column: str = "tenant") -> list[str]:
    """The SQL that isolates `table` (an SQL name, quoted if need be) by its tenant column."""
    condition = f"{column} = {CURRENT_TENANT}"
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY {POLICY} ON {table} USING ({condition}) WITH CHECK ({condition})",
        f"GRANT {APP_PRIVILEGES} ON {table} TO {APP_ROLE}",
    ]


def isolate_by_tenant(table: str, *, column: str = "tenant") -> None:
    """RLS enabled and forced on `table`, one policy for reads and writes, the app role granted DML.

    Expressions that a filter on such a table must use an index for are limited: see migration 0006.
    """
    for statement in isolation_statements(table, column=column):
        op.execute(statement)


def share_with_all_tenants(table: str, *, privileges: str = "SELECT") -> None:
    """A table every tenant may read (master data, the tenant registry): no policy, a plain grant."""
    op.execute(f"GRANT {privileges} ON {table} TO {APP_ROLE}")


def remove_isolation(table: str) -> None:
    op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
    op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute(f"REVOKE ALL ON {table} FROM {APP_ROLE}")
