"""Tell listening servers when a tenant's data version changes: a NOTIFY from a trigger on `tenants`.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26

Each server process keeps the tenants' data versions in memory (tenants/versions.py), so a 304 or
a page it already holds needs no query. It learns of changes from these notifications, on channel
`moviemanager_data_versions`, with the payload `<tenant> <version>`, or `<tenant>` alone when the
tenant is gone. PostgreSQL sends them at commit, in commit order, and only for committed
transactions. A trigger, not the writers, sends them: every change of a version is told, whoever
makes it (an import, category administration, psql).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "moviemanager_data_versions"


def upgrade() -> None:
    op.execute(f"""
        CREATE FUNCTION notify_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP <> 'INSERT' AND (TG_OP = 'DELETE' OR OLD.name <> NEW.name) THEN
                PERFORM pg_notify('{CHANNEL}', OLD.name);
            END IF;
            IF TG_OP <> 'DELETE' THEN
                PERFORM pg_notify('{CHANNEL}', NEW.name || ' ' || NEW.data_version);
            END IF;
            RETURN NULL;
        END $$""")
    op.execute("""
        CREATE TRIGGER notify_data_version AFTER INSERT OR DELETE OR UPDATE OF name, data_version ON tenants
        FOR EACH ROW EXECUTE FUNCTION notify_data_version()""")


def downgrade() -> None:
    op.execute("DROP TRIGGER notify_data_version ON tenants")
    op.execute("DROP FUNCTION notify_data_version()")
