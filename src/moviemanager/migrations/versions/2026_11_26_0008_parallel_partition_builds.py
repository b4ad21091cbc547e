"""Owner functions for imports that build a new partition's indexes over several connections.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26

A big replace (movies/parallel_build.py) commits its new, unattached tables before indexing them,
so that other connections can build their indexes at the same time; the swap stays one
transaction. Committed tables outlive a crash, and any transaction of the app role could read
them, so:

- partition_hide: revokes the app role's rights on a new table before the transaction that made
  it commits. Nothing but the owner's functions touches it until the swap grants them again with
  the tenant policy (migration 0006's partitions_swap).
- partition_add_index: one index of the parent, as partition_add_indexes builds them all, so that
  several connections can each build some.
- partition_drop_new: drops a table of the transaction's tenant that was never attached: the
  import's own tables when it fails after committing them, or what an import killed midway left
  (the importer looks for those under the tenant's writer lock, so never for a running import's).

Each checks its table as migration 0006's functions do (partition_new_table: the tenant's prefix,
the owner's, not attached, the tenant's CHECK).
"""

from collections.abc import Sequence

from alembic import op

from moviemanager.migrations.tenant_isolation import APP_ROLE

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As migration 0006's: a partitioned index's definition, split into UNIQUE and what follows the table.
INDEX_DEFINITION = r"'^CREATE (UNIQUE )?INDEX \S+ ON ONLY \S+ (USING .+)$'"

FUNCTIONS = {
    "partition_hide(text, text, text)": f"""
        CREATE FUNCTION partition_hide(parent text, tenant text, table_name text) RETURNS void {{header}} AS $$
        BEGIN
            EXECUTE format('REVOKE ALL ON %s FROM {APP_ROLE}', partition_new_table(parent, tenant, table_name));
        END $$
        """,
    "partition_add_index(text, text, text, text)": f"""
        CREATE FUNCTION partition_add_index(parent text, tenant text, table_name text, index_name text) RETURNS void
        {{header}} AS $$
        DECLARE
            rel regclass := partition_new_table(parent, tenant, table_name);
            parts text[];
            -- Named, not left to PostgreSQL: two connections naming two expression indexes of one
            -- table at once could both pick <table>_tsvector_idx, and one build would fail.
            suffix text := regexp_replace(index_name, '^ix_' || parent || '_', '');
        BEGIN
            SELECT regexp_match(pg_get_indexdef(i.indexrelid), {INDEX_DEFINITION}) INTO parts
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = parent::regclass AND NOT i.indisprimary AND c.relname = index_name;
            IF parts IS NULL THEN
                RAISE EXCEPTION 'table % has no index % to copy', parent, index_name;
            END IF;
            EXECUTE format(
                'CREATE %sINDEX %I ON %s %s',
                coalesce(parts[1], ''), left(table_name, 62 - length(suffix)) || '_' || suffix, rel, parts[2]
            );
        END $$
        """,
    "partition_drop_new(text, text, text)": """
        CREATE FUNCTION partition_drop_new(parent text, tenant text, table_name text) RETURNS void {header} AS $$
        BEGIN
            EXECUTE format('DROP TABLE %s', partition_new_table(parent, tenant, table_name));
        END $$
        """,
}


def upgrade() -> None:
    schema = op.get_bind().exec_driver_sql("SELECT quote_ident(current_schema())").scalar()
    header = f"LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp"
    for signature, definition in FUNCTIONS.items():
        op.execute(definition.format(header=header))
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {APP_ROLE}")


def downgrade() -> None:
    for signature in FUNCTIONS:
        op.execute(f"DROP FUNCTION {signature}")
