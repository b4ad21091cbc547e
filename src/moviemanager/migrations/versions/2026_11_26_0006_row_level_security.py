"""Tenant isolation enforced by PostgreSQL: the app role, row-level security, the importer's DDL.

Revision ID: 0006
Revises: 0002
Create Date: 2026-11-26

- The app role (tenant_isolation.APP_ROLE) is cluster-wide: created once, if missing, by whichever
  database migrates first; each database grants it what it needs there. It owns nothing.
- `movies` and each of its partitions get the tenant policy (a partition named directly, as the
  export and the import's diff do, is checked against its own policies, not its parent's).
- The importer creates, indexes, attaches and drops partitions: DDL that only the owner may run.
  It calls the SECURITY DEFINER functions below, owned by the migrating role, each of which works
  only on the transaction's own tenant (`app.tenant`) and on tables made for it. A new table has
  no RLS until the swap (COPY refuses a table with RLS), but only its creator's transaction sees it.
- `tenants` is the registry, not tenant data: GET /tenants lists it and the first start checks it
  is empty, with no tenant set. `categories` is master data, read-only for the app.
- Under RLS a filter may use an index only if its functions are LEAKPROOF (otherwise the planner
  must check the policy first, row by row). The JSONB functions the filters use never fail on
  data, so a superuser migration marks them LEAKPROOF; the year index moves from
  `(data ->> 'year')::integer` (a cast that can fail, quoting the value) to the text
  `(data ->> 'year') COLLATE "C"` (a jsonb index would cost three times as much to build).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from moviemanager.migrations.tenant_isolation import (
    APP_ROLE,
    CURRENT_TENANT,
    isolate_by_tenant,
    isolation_statements,
    remove_isolation,
    share_with_all_tenants,
)

revision: str = "0006"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEAKPROOF_FUNCTIONS = [
    "pg_catalog.jsonb_object_field(jsonb, text)",  # ->
    "pg_catalog.jsonb_contains(jsonb, jsonb)",  # @>
    "pg_catalog.jsonb_object_field_text(jsonb, text)",  # ->>
]
OLD_YEAR_INDEX = "CREATE INDEX ix_movies_year ON movies (((data ->> 'year')::integer), tmdb_id)"
# As text in the "C" collation (bytewise): as cheap to build as the integer, and = on text is LEAKPROOF.
NEW_YEAR_INDEX = """CREATE INDEX ix_movies_year ON movies (((data ->> 'year') COLLATE "C"), tmdb_id)"""

CREATE_ROLE = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
        BEGIN
            CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- another database's migration created it meanwhile
        END;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}' AND (rolsuper OR rolbypassrls)) THEN
        RAISE EXCEPTION 'role {APP_ROLE} exists and bypasses row-level security; make it NOSUPERUSER NOBYPASSRLS';
    END IF;
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO {APP_ROLE}', current_database());
END $$
"""

REVOKE_DATABASE = f"""
DO $$
BEGIN
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM {APP_ROLE}', current_database());
END $$
"""

DROP_ROLE = f"""
DO $$
BEGIN
    DROP ROLE IF EXISTS {APP_ROLE};
EXCEPTION WHEN dependent_objects_still_exist THEN
    NULL;  -- other databases of the server still use it
END $$
"""

MARK_LEAKPROOF = """
DO $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        {statements}
    ELSE
        RAISE WARNING 'not a superuser: filters on movies will not use their indexes under row-level security';
    END IF;
END $$
"""


# A partitioned index's definition, split into UNIQUE and what follows the table's name.
INDEX_DEFINITION = r"'^CREATE (UNIQUE )?INDEX \S+ ON ONLY \S+ (USING .+)$'"


def _functions(schema: str) -> list[str]:
    """The importer's DDL, run with the owner's rights, for the transaction's tenant only."""
    header = f"LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp"
    secure_new = "\n".join(f"EXECUTE format({_literal(s)}, new_rel);" for s in isolation_statements("%1$s"))
    return [
        f"""
        CREATE FUNCTION movies_require_tenant(tenant text) RETURNS void {header} AS $$
        BEGIN
            IF tenant IS NULL OR tenant !~ '^[a-z0-9][a-z0-9_-]{{0,63}}$' OR tenant IS DISTINCT FROM {CURRENT_TENANT}
            THEN
                RAISE EXCEPTION 'tenant % is not the tenant of this transaction', tenant
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
        END $$
        """,
        # A table that movies_create_table made for this tenant, not attached yet.
        f"""
        CREATE FUNCTION movies_new_table(tenant text, table_name text) RETURNS regclass {header} AS $$
        DECLARE
            rel regclass;
        BEGIN
            PERFORM movies_require_tenant(tenant);
            SELECT c.oid INTO rel FROM pg_class c
            WHERE c.oid = to_regclass(quote_ident(table_name)) AND c.relkind = 'r' AND NOT c.relispartition
              AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
              AND starts_with(c.relname, 'movies__' || left(tenant, 40) || '__')
              AND EXISTS (SELECT FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'c'
                          AND pg_get_constraintdef(k.oid) = format('CHECK ((tenant = %L::text))', tenant));
            IF rel IS NULL THEN
                RAISE EXCEPTION 'table % is not a new movies table of tenant %', table_name, tenant
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN rel;
        END $$
        """,
        f"""
        CREATE FUNCTION movies_create_table(tenant text, temporary boolean) RETURNS text {header} AS $$
        DECLARE
            name text := 'movies__' || left(tenant, 40) || '__' || substr(md5(random()::text), 1, 8);
            columns text;
        BEGIN
            PERFORM movies_require_tenant(tenant);
            -- From the catalog, not LIKE movies, which would lock movies until commit.
            SELECT string_agg(format('%I %s%s', attname, format_type(atttypid, atttypmod),
                                     CASE WHEN attnotnull THEN ' NOT NULL' ELSE '' END), ', ' ORDER BY attnum)
            INTO columns
            FROM pg_attribute WHERE attrelid = 'movies'::regclass AND attnum > 0 AND NOT attisdropped;
            -- The CHECK lets ATTACH PARTITION skip scanning the table.
            EXECUTE format('CREATE %s TABLE %I (%s, CHECK (tenant = %L))%s',
                           CASE WHEN temporary THEN 'TEMPORARY' ELSE '' END, name, columns, tenant,
                           CASE WHEN temporary THEN ' ON COMMIT DROP' ELSE '' END);
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO {APP_ROLE}', name);
            RETURN name;
        END $$
        """,
        f"""
        CREATE FUNCTION movies_add_primary_key(tenant text, table_name text) RETURNS void {header} AS $$
        BEGIN
            EXECUTE format('ALTER TABLE %s ADD PRIMARY KEY (tenant, tmdb_id) INCLUDE (checksum)',
                           movies_new_table(tenant, table_name));
        END $$
        """,
        # Every other index of movies, from its definition, so migrations stay the one source.
        f"""
        CREATE FUNCTION movies_add_indexes(tenant text, table_name text) RETURNS void {header} AS $$
        DECLARE
            rel regclass := movies_new_table(tenant, table_name);
            parts text[];
        BEGIN
            FOR parts IN
                SELECT regexp_match(pg_get_indexdef(indexrelid), {INDEX_DEFINITION})
                FROM pg_index WHERE indrelid = 'movies'::regclass AND NOT indisprimary
            LOOP
                IF parts IS NULL THEN
                    RAISE EXCEPTION 'cannot copy an index definition of movies';
                END IF;
                EXECUTE format('CREATE %sINDEX ON %s %s', coalesce(parts[1], ''), rel, parts[2]);
            END LOOP;
        END $$
        """,
        f"""
        CREATE FUNCTION movies_analyze(tenant text, table_name text) RETURNS void {header} AS $$
        BEGIN
            EXECUTE format('ANALYZE %s', movies_new_table(tenant, table_name));
        END $$
        """,
        # Drop the tenant's partition (if any), give the new table its policy, attach it. The
        # lock waits are short (see bulk.swap); the caller retries in a savepoint.
        f"""
        CREATE FUNCTION movies_swap_partition(
            tenant text, old_name text, new_name text, old_lock_timeout text, movies_lock_timeout text
        ) RETURNS void {header} AS $$
        DECLARE
            new_rel regclass := movies_new_table(tenant, new_name);
            old_rel regclass;
            saved_lock_timeout text := current_setting('lock_timeout');
        BEGIN
            IF old_name IS NOT NULL THEN
                SELECT c.oid INTO old_rel FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'movies'::regclass AND c.relname = old_name
                  AND pg_get_expr(c.relpartbound, c.oid) = format('FOR VALUES IN (%L)', tenant);
                IF old_rel IS NULL THEN
                    RAISE EXCEPTION 'table % is not the partition of tenant %', old_name, tenant
                        USING ERRCODE = 'insufficient_privilege';
                END IF;
                PERFORM set_config('lock_timeout', old_lock_timeout, true);
                EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', old_rel);
                PERFORM set_config('lock_timeout', movies_lock_timeout, true);
                LOCK TABLE ONLY movies IN ACCESS EXCLUSIVE MODE;  -- for the DROP
                EXECUTE format('DROP TABLE %s', old_rel);
            ELSE
                PERFORM set_config('lock_timeout', movies_lock_timeout, true);
            END IF;
            {secure_new}
            EXECUTE format('ALTER TABLE movies ATTACH PARTITION %s FOR VALUES IN (%L)', new_rel, tenant);
            PERFORM set_config('lock_timeout', saved_lock_timeout, true);
        END $$
        """,
    ]


GRANTED_FUNCTIONS = [
    "movies_create_table(text, boolean)",
    "movies_add_primary_key(text, text)",
    "movies_add_indexes(text, text)",
    "movies_analyze(text, text)",
    "movies_swap_partition(text, text, text, text, text)",
]
INTERNAL_FUNCTIONS = ["movies_require_tenant(text)", "movies_new_table(text, text)"]


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _partitions() -> list[str]:
    names = op.get_bind().scalars(
        sa.text("SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'movies'::regclass")
    )
    return list(names)


def upgrade() -> None:
    schema = op.get_bind().scalar(sa.text("SELECT quote_ident(current_schema())"))
    op.execute(CREATE_ROLE)
    op.execute(f"GRANT USAGE ON SCHEMA {schema} TO {APP_ROLE}")
    share_with_all_tenants("tenants", privileges="SELECT, INSERT, UPDATE")
    share_with_all_tenants("categories")
    share_with_all_tenants("alembic_version")  # GET /readyz compares it with the code's
    for table in ["movies", *_partitions()]:
        isolate_by_tenant(table)

    for function in _functions(schema):
        op.execute(function)
    for function in GRANTED_FUNCTIONS + INTERNAL_FUNCTIONS:
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
    for function in GRANTED_FUNCTIONS:
        op.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {APP_ROLE}")

    statements = "\n".join(f"ALTER FUNCTION {f} LEAKPROOF;" for f in LEAKPROOF_FUNCTIONS)
    op.execute(MARK_LEAKPROOF.format(statements=statements))
    op.execute("DROP INDEX ix_movies_year")
    op.execute(NEW_YEAR_INDEX)


def downgrade() -> None:
    op.execute("DROP INDEX ix_movies_year")
    op.execute(OLD_YEAR_INDEX)
    statements = "\n".join(f"ALTER FUNCTION {f} NOT LEAKPROOF;" for f in LEAKPROOF_FUNCTIONS)
    op.execute(MARK_LEAKPROOF.format(statements=statements))
    for function in GRANTED_FUNCTIONS + INTERNAL_FUNCTIONS:
        op.execute(f"DROP FUNCTION {function}")
    for table in ["movies", *_partitions()]:
        remove_isolation(table)
    for table in ["tenants", "categories", "alembic_version"]:
        op.execute(f"REVOKE ALL ON {table} FROM {APP_ROLE}")
    schema = op.get_bind().scalar(sa.text("SELECT quote_ident(current_schema())"))
    op.execute(f"REVOKE ALL ON SCHEMA {schema} FROM {APP_ROLE}")
    op.execute(REVOKE_DATABASE)
    op.execute(DROP_ROLE)
