"""Tenant isolation enforced by PostgreSQL: the app role, row-level security, the importer's DDL.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26

- The app role (tenant_isolation.APP_ROLE) is cluster-wide: created once, if missing, by whichever
  database migrates first; each database grants it what it needs there. It owns nothing.
- `movies` and each of its partitions get the tenant policy (a partition named directly, as the
  export and the import's diff do, is checked against its own policies, not its parent's).
- `movie_categories` (partitioned the same way) and `category_counts` are tenant data too.
  `genres`, `genre_categories` and `categories` are master data shared by every tenant; category
  administration (behind the admin token) writes `categories` and `genre_categories`.
  `api_tokens` is shared, not isolated: a token is looked up by its digest whatever tenant the
  request names (a tenant token used on another tenant is a 403, not an invisible row and a 401),
  and it holds digests only.
- The importer creates, indexes, attaches and drops partitions of `movies` and
  `movie_categories`: DDL that only the owner may run. It calls the SECURITY DEFINER functions
  below, owned by the migrating role, each of which works only on the transaction's own tenant
  (`app.tenant`), on those two parents, and on tables made for that tenant. A new table has no
  RLS until the swap (COPY refuses a table with RLS), but only its creator's transaction sees it;
  the swap gives it the policy right before it is attached.
- `tenants` is the registry, not tenant data: GET /tenants lists it and the first start checks it
  is empty, with no tenant set. Imports update its data_version.
- Under RLS a filter may use an index only if its functions are LEAKPROOF (otherwise the planner
  must check the policy first, row by row). A superuser migration marks LEAKPROOF the functions
  of migration 0004's filter expressions (see LEAKPROOF_FUNCTIONS): none of them can fail on the
  stored values, which the importer writes only after validating them (years and runtimes are
  integers, ratings numbers, search_words a tsvector made by search.py), and comparisons and
  JSONB field access never fail at all. pg_proc is per database: only this database is affected.
  PostgreSQL 15 also takes any COALESCE for leaky, whatever its arguments, so 0004's sort-key
  indexes are rebuilt on the same values written with CASE (YEAR_KEY, RATING_KEY below, which
  models.py declares too).
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
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every function a filter of movies/repository.py applies to stored data (0004's indexes).
LEAKPROOF_FUNCTIONS = [
    "pg_catalog.jsonb_object_field(jsonb, text)",  # ->
    "pg_catalog.jsonb_contains(jsonb, jsonb)",  # @>
    "pg_catalog.jsonb_object_field_text(jsonb, text)",  # ->>
    "pg_catalog.textout(text)",  # the text side of every cast below
    "pg_catalog.int4in(cstring)",  # ::integer (year, runtime_minutes)
    "pg_catalog.numeric_in(cstring, oid, integer)",  # ::numeric (rating)
    "pg_catalog.tsvectorin(cstring)",  # ::tsvector (search_words)
    "pg_catalog.ts_match_vq(tsvector, tsquery)",  # @@
    "pg_catalog.numeric_eq(numeric, numeric)",
    "pg_catalog.numeric_ne(numeric, numeric)",
    "pg_catalog.numeric_lt(numeric, numeric)",
    "pg_catalog.numeric_le(numeric, numeric)",
    "pg_catalog.numeric_gt(numeric, numeric)",
    "pg_catalog.numeric_ge(numeric, numeric)",
]
# 0004's sort keys, COALESCE(x, default), as the same values with CASE (see the docstring).
SORT_KEY_INDEXES = {
    "ix_movies_year": (["year"], "tmdb_id"),
    "ix_movies_rating": (["rating"], "tmdb_id"),
    "ix_movies_year_rating": (["year", "rating"], "tmdb_id"),
}
# Laid out as PostgreSQL prints them back, as models.py has them: the app's sort queries name these
# expressions, and a test keeps the two equal while no later revision rebuilds these indexes.
YEAR_KEY = """
CASE
    WHEN (data ->> 'year') IS NULL THEN 0
    ELSE (data ->> 'year')::integer
END"""
RATING_KEY = """
CASE
    WHEN (data ->> 'rating') IS NULL THEN -1
    ELSE (data ->> 'rating')::numeric
END"""
SORT_KEYS = {
    "year": (YEAR_KEY, "COALESCE((data ->> 'year')::integer, 0)"),
    "rating": (RATING_KEY, "COALESCE((data ->> 'rating')::numeric, -1)"),
}


def _sort_key_indexes(*, new: bool) -> list[str]:
    statements = []
    for name, (keys, tie_breaker) in SORT_KEY_INDEXES.items():
        expressions = ", ".join(f"({SORT_KEYS[key][0 if new else 1]})" for key in keys)
        statements += [f"DROP INDEX {name}", f"CREATE INDEX {name} ON movies ({expressions}, {tie_breaker})"]
    return statements


# Partitioned by tenant, with the length of the tenant's name in their partitions' names (bulk.py).
PARTITIONED = {"movies": 40, "movie_categories": 30}
TENANT_TABLES = [*PARTITIONED, "category_counts"]

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
    prefixes = "\n".join(
        f"WHEN {_literal(parent)} THEN RETURN {_literal(parent + '__')} || left(tenant, {length}) || '__';"
        for parent, length in PARTITIONED.items()
    )
    secure_new = "\n".join(f"EXECUTE format({_literal(s)}, new_rel);" for s in isolation_statements("%1$s"))
    return [
        f"""
        CREATE FUNCTION partition_require_tenant(tenant text) RETURNS void {header} AS $$
        BEGIN
            IF tenant IS NULL OR tenant !~ '^[a-z0-9][a-z0-9_-]{{0,63}}$' OR tenant IS DISTINCT FROM {CURRENT_TENANT}
            THEN
                RAISE EXCEPTION 'tenant % is not the tenant of this transaction', tenant
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
        END $$
        """,
        # The start of the names of a tenant's tables under `parent`; refuses other parents.
        f"""
        CREATE FUNCTION partition_prefix(parent text, tenant text) RETURNS text {header} AS $$
        BEGIN
            PERFORM partition_require_tenant(tenant);
            CASE parent
                {prefixes}
                ELSE RAISE EXCEPTION 'table % is not partitioned by tenant', parent
                    USING ERRCODE = 'insufficient_privilege';
            END CASE;
        END $$
        """,
        # A table that partition_create_table made for this tenant under `parent`, not attached yet.
        f"""
        CREATE FUNCTION partition_new_table(parent text, tenant text, table_name text) RETURNS regclass {header} AS $$
        DECLARE
            prefix text := partition_prefix(parent, tenant);
            rel regclass;
        BEGIN
            SELECT c.oid INTO rel FROM pg_class c
            WHERE c.oid = to_regclass(quote_ident(table_name)) AND c.relkind = 'r' AND NOT c.relispartition
              AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
              AND starts_with(c.relname, prefix)
              AND EXISTS (SELECT FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'c'
                          AND pg_get_constraintdef(k.oid) = format('CHECK ((tenant = %L::text))', tenant));
            IF rel IS NULL THEN
                RAISE EXCEPTION 'table % is not a new % table of tenant %', table_name, parent, tenant
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN rel;
        END $$
        """,
        # The tenant's current partition of `parent` named `table_name`; NULL for a NULL name.
        f"""
        CREATE FUNCTION partition_current(parent text, tenant text, table_name text) RETURNS regclass {header} AS $$
        DECLARE
            prefix text := partition_prefix(parent, tenant);
            rel regclass;
        BEGIN
            IF table_name IS NULL THEN
                RETURN NULL;
            END IF;
            SELECT c.oid INTO rel FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = parent::regclass AND c.relname = table_name
              AND pg_get_expr(c.relpartbound, c.oid) = format('FOR VALUES IN (%L)', tenant);
            IF rel IS NULL THEN
                RAISE EXCEPTION 'table % is not the % partition of tenant %', table_name, parent, tenant
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN rel;
        END $$
        """,
        f"""
        CREATE FUNCTION partition_create_table(parent text, tenant text, temporary boolean) RETURNS text {header} AS $$
        DECLARE
            name text := partition_prefix(parent, tenant) || substr(md5(random()::text), 1, 8);
            columns text;
        BEGIN
            -- From the catalog, not LIKE, which would lock the parent until commit.
            SELECT string_agg(format('%I %s%s', attname, format_type(atttypid, atttypmod),
                                     CASE WHEN attnotnull THEN ' NOT NULL' ELSE '' END), ', ' ORDER BY attnum)
            INTO columns
            FROM pg_attribute WHERE attrelid = parent::regclass AND attnum > 0 AND NOT attisdropped;
            -- The CHECK lets ATTACH PARTITION skip scanning the table.
            EXECUTE format('CREATE %s TABLE %I (%s, CHECK (tenant = %L))%s',
                           CASE WHEN temporary THEN 'TEMPORARY' ELSE '' END, name, columns, tenant,
                           CASE WHEN temporary THEN ' ON COMMIT DROP' ELSE '' END);
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO {APP_ROLE}', name);
            RETURN name;
        END $$
        """,
        # The parent's primary key, as its definition says: ATTACH PARTITION adopts a matching one.
        f"""
        CREATE FUNCTION partition_add_primary_key(parent text, tenant text, table_name text) RETURNS void
        {header} AS $$
        DECLARE
            rel regclass := partition_new_table(parent, tenant, table_name);
        BEGIN
            EXECUTE format('ALTER TABLE %s ADD %s', rel,
                           (SELECT pg_get_constraintdef(oid) FROM pg_constraint
                            WHERE conrelid = parent::regclass AND contype = 'p'));
        END $$
        """,
        # Every other index of the parent, from its definition, so migrations stay the one source.
        f"""
        CREATE FUNCTION partition_add_indexes(parent text, tenant text, table_name text) RETURNS void {header} AS $$
        DECLARE
            rel regclass := partition_new_table(parent, tenant, table_name);
            parts text[];
        BEGIN
            FOR parts IN
                SELECT regexp_match(pg_get_indexdef(indexrelid), {INDEX_DEFINITION})
                FROM pg_index WHERE indrelid = parent::regclass AND NOT indisprimary
            LOOP
                IF parts IS NULL THEN
                    RAISE EXCEPTION 'cannot copy an index definition of %', parent;
                END IF;
                EXECUTE format('CREATE %sINDEX ON %s %s', coalesce(parts[1], ''), rel, parts[2]);
            END LOOP;
        END $$
        """,
        f"""
        CREATE FUNCTION partition_analyze(parent text, tenant text, table_name text) RETURNS void {header} AS $$
        BEGIN
            EXECUTE format('ANALYZE %s', partition_new_table(parent, tenant, table_name));
        END $$
        """,
        # Drop the tenant's partitions of movies and movie_categories (if any), give the new tables
        # their policy, attach them. Locks as bulk.swap explains; the caller retries in a savepoint.
        f"""
        CREATE FUNCTION partitions_swap(
            tenant text, old_movies text, new_movies text, old_links text, new_links text,
            tenant_lock_timeout text, shared_lock_timeout text
        ) RETURNS void {header} AS $$
        DECLARE
            new_movies_rel regclass := partition_new_table('movies', tenant, new_movies);
            new_links_rel regclass := partition_new_table('movie_categories', tenant, new_links);
            old_rels regclass[] := array_remove(ARRAY[partition_current('movies', tenant, old_movies),
                                                      partition_current('movie_categories', tenant, old_links)], NULL);
            old_rel regclass;
            new_rel regclass;
            saved_lock_timeout text := current_setting('lock_timeout');
        BEGIN
            PERFORM set_config('lock_timeout', tenant_lock_timeout, true);
            FOREACH old_rel IN ARRAY old_rels LOOP
                EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', old_rel);
            END LOOP;
            PERFORM set_config('lock_timeout', shared_lock_timeout, true);
            IF cardinality(old_rels) > 0 THEN
                LOCK TABLE ONLY movies, movie_categories IN ACCESS EXCLUSIVE MODE;  -- for the DROPs
            END IF;
            FOREACH old_rel IN ARRAY old_rels LOOP
                EXECUTE format('DROP TABLE %s', old_rel);
            END LOOP;
            FOREACH new_rel IN ARRAY ARRAY[new_movies_rel, new_links_rel] LOOP
                {secure_new}
            END LOOP;
            EXECUTE format('ALTER TABLE movies ATTACH PARTITION %s FOR VALUES IN (%L)', new_movies_rel, tenant);
            EXECUTE format('ALTER TABLE movie_categories ATTACH PARTITION %s FOR VALUES IN (%L)',
                           new_links_rel, tenant);
            PERFORM set_config('lock_timeout', saved_lock_timeout, true);
        END $$
        """,
    ]


GRANTED_FUNCTIONS = [
    "partition_create_table(text, text, boolean)",
    "partition_add_primary_key(text, text, text)",
    "partition_add_indexes(text, text, text)",
    "partition_analyze(text, text, text)",
    "partitions_swap(text, text, text, text, text, text, text)",
]
INTERNAL_FUNCTIONS = [
    "partition_current(text, text, text)",
    "partition_new_table(text, text, text)",
    "partition_prefix(text, text)",
    "partition_require_tenant(text)",
]
# Master data every tenant reads; category administration (admin token only) changes the tree.
SHARED = {
    "tenants": "SELECT, INSERT, UPDATE",
    "categories": "SELECT, INSERT, UPDATE, DELETE",
    "genres": "SELECT",
    "genre_categories": "SELECT, DELETE",
    "api_tokens": "SELECT, INSERT, UPDATE, DELETE",
    "alembic_version": "SELECT",  # GET /readyz compares it with the code's
}


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _partitions(parent: str) -> list[str]:
    names = op.get_bind().scalars(
        sa.text("SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = CAST(:parent AS regclass)"),
        {"parent": parent},
    )
    return list(names)


def _tenant_tables() -> list[str]:
    return [table for parent in TENANT_TABLES for table in [parent, *_partitions(parent)]]


def upgrade() -> None:
    schema = op.get_bind().scalar(sa.text("SELECT quote_ident(current_schema())"))
    op.execute(CREATE_ROLE)
    op.execute(f"GRANT USAGE ON SCHEMA {schema} TO {APP_ROLE}")
    for table, privileges in SHARED.items():
        share_with_all_tenants(table, privileges=privileges)
    op.execute(f"GRANT USAGE ON SEQUENCE {_categories_sequence()} TO {APP_ROLE}")  # new category ids
    for table in _tenant_tables():
        isolate_by_tenant(table)

    for function in _functions(schema):
        op.execute(function)
    for function in GRANTED_FUNCTIONS + INTERNAL_FUNCTIONS:
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
    for function in GRANTED_FUNCTIONS:
        op.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {APP_ROLE}")

    statements = "\n".join(f"ALTER FUNCTION {f} LEAKPROOF;" for f in LEAKPROOF_FUNCTIONS)
    op.execute(MARK_LEAKPROOF.format(statements=statements))
    for statement in _sort_key_indexes(new=True):
        op.execute(statement)


def _categories_sequence() -> str:
    return op.get_bind().scalar(sa.text("SELECT pg_get_serial_sequence('categories', 'id')"))


def downgrade() -> None:
    for statement in _sort_key_indexes(new=False):
        op.execute(statement)
    statements = "\n".join(f"ALTER FUNCTION {f} NOT LEAKPROOF;" for f in LEAKPROOF_FUNCTIONS)
    op.execute(MARK_LEAKPROOF.format(statements=statements))
    for function in GRANTED_FUNCTIONS + INTERNAL_FUNCTIONS:
        op.execute(f"DROP FUNCTION {function}")
    for table in _tenant_tables():
        remove_isolation(table)
    for table in SHARED:
        op.execute(f"REVOKE ALL ON {table} FROM {APP_ROLE}")
    op.execute(f"REVOKE ALL ON SEQUENCE {_categories_sequence()} FROM {APP_ROLE}")
    schema = op.get_bind().scalar(sa.text("SELECT quote_ident(current_schema())"))
    op.execute(f"REVOKE ALL ON SCHEMA {schema} FROM {APP_ROLE}")
    op.execute(REVOKE_DATABASE)
    op.execute(DROP_ROLE)
