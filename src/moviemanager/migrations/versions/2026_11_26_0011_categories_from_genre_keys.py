"""A movie's categories derived from its genre keys when read: no more `movie_categories`.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26

Why: the links were `genre_keys ⋈ genre_categories`, materialised by each import. Building and
indexing them cost every import about 6 s of PostgreSQL CPU per million movies (COPY 0.9 s,
primary key 3.4 s, index 2.0 s), for rows the reads can derive from the movie itself. The join
at read time gives the same answer: `genre_categories` changes only through category deletion,
which cascades to it, as it removed the category's links.

- `partitions_swap` swaps the movies partition alone: 0006's version with the links taken out
  (five arguments instead of seven; the app role may run it, as before).
- `partition_prefix` knows `movies` only, so no owner function makes or touches links tables.
- Tables an import killed midway left under `movie_categories` (made, never attached) go first,
  then the parent with its partitions.

Downgrade restores 0010: the table as 0003 made it and 0006 isolated it, one isolated partition
per partition of movies, filled from the movies with the importer's statement of 0010 (tenant by
tenant, as that tenant: a single statement would see no movie when the owner is no superuser), and
0006's owner functions in 0006's words.
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from moviemanager.migrations.tenant_isolation import APP_ROLE, isolate_by_tenant, isolation_statements

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SWAP = "partitions_swap(text, text, text, text, text)"
LINKS_SWAP = "partitions_swap(text, text, text, text, text, text, text)"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _header() -> str:
    schema = op.get_bind().scalar(sa.text("SELECT quote_ident(current_schema())"))
    return f"LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp"


# The swap of 0006 without the links: lock the tenant's old partition (its readers only), then
# `movies` itself (every reader), each with its own timeout; the caller retries (bulk.swap).
SECURE_NEW_MOVIES = "\n        ".join(
    f"EXECUTE format({_literal(statement)}, new_movies_rel);" for statement in isolation_statements("%1$s")
)
MOVIES_SWAP = f"""
    CREATE FUNCTION partitions_swap(
        tenant text, old_movies text, new_movies text, tenant_lock_timeout text, shared_lock_timeout text
    ) RETURNS void {{header}} AS $$
    DECLARE
        new_movies_rel regclass := partition_new_table('movies', tenant, new_movies);
        old_movies_rel regclass := partition_current('movies', tenant, old_movies);
        saved_lock_timeout text := current_setting('lock_timeout');
    BEGIN
        PERFORM set_config('lock_timeout', tenant_lock_timeout, true);
        IF old_movies_rel IS NOT NULL THEN
            EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', old_movies_rel);
        END IF;
        PERFORM set_config('lock_timeout', shared_lock_timeout, true);
        IF old_movies_rel IS NOT NULL THEN
            LOCK TABLE ONLY movies IN ACCESS EXCLUSIVE MODE;  -- for the DROP
            EXECUTE format('DROP TABLE %s', old_movies_rel);
        END IF;
        -- The policy right before the attach: COPY refuses a table with RLS (see 0006).
        {SECURE_NEW_MOVIES}
        EXECUTE format('ALTER TABLE movies ATTACH PARTITION %s FOR VALUES IN (%L)', new_movies_rel, tenant);
        PERFORM set_config('lock_timeout', saved_lock_timeout, true);
    END $$
    """
MOVIES_PREFIX = """
    CREATE OR REPLACE FUNCTION partition_prefix(parent text, tenant text) RETURNS text {header} AS $$
    BEGIN
        PERFORM partition_require_tenant(tenant);
        CASE parent
            WHEN 'movies' THEN RETURN 'movies__' || left(tenant, 40) || '__';
            ELSE RAISE EXCEPTION 'table % is not partitioned by tenant', parent
                USING ERRCODE = 'insufficient_privilege';
        END CASE;
    END $$
    """
# Made by partition_create_table for a killed import and never attached: not partitions, so the
# parent's DROP would leave them behind.
UNATTACHED_LINKS = """
    SELECT quote_ident(c.relname) FROM pg_class c
    WHERE c.relkind = 'r' AND c.relpersistence = 'p' AND NOT c.relispartition
      AND c.relnamespace = CAST(current_schema() AS regnamespace)
      AND starts_with(c.relname, 'movie_categories__')
"""


def upgrade() -> None:
    header = _header()
    op.execute(f"DROP FUNCTION {LINKS_SWAP}")
    op.execute(MOVIES_SWAP.format(header=header))
    op.execute(f"REVOKE ALL ON FUNCTION {SWAP} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {SWAP} TO {APP_ROLE}")
    # Replaced in place: it keeps its rights (none but the owner's, as 0006 left them).
    op.execute(MOVIES_PREFIX.format(header=header))

    for table in op.get_bind().scalars(sa.text(UNATTACHED_LINKS)).all():
        op.execute(f"DROP TABLE {table}")
    op.execute("DROP TABLE movie_categories")  # its partitions go with it


# Downgrade: 0003's table, and 0006's functions in 0006's words (its f-strings, rendered the same).
LINKS_TABLE = """
        CREATE TABLE movie_categories (
            tenant text NOT NULL,
            tmdb_id bigint NOT NULL,
            category_id integer NOT NULL,
            CONSTRAINT pk_movie_categories PRIMARY KEY (tenant, tmdb_id, category_id)
        ) PARTITION BY LIST (tenant)
        """
LINKS_INDEX = "CREATE INDEX ix_movie_categories_category ON movie_categories (category_id, tmdb_id)"
# The tenant of each partition of movies, from its bound (FOR VALUES IN ('<tenant>')).
MOVIES_TENANTS = r"""
    SELECT replace(substring(pg_get_expr(c.relpartbound, c.oid) FROM '^FOR VALUES IN \(''(.*)''\)$'), '''''', '''')
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = CAST('movies' AS regclass)
    ORDER BY 1
"""
# bulk.add_links and categories.counts.LINKS_FROM_MOVIES as of 0010, for one tenant. DISTINCT
# because two genres may share a category (Action, Action & Adventure).
TENANT_LINKS_FROM_MOVIES = """
    INSERT INTO movie_categories (tenant, tmdb_id, category_id)
    SELECT DISTINCT movie.tenant, movie.tmdb_id, genre_categories.category_id
    FROM movies AS movie
    CROSS JOIN LATERAL jsonb_array_elements(movie.data -> 'genre_keys') AS genre(key)
    JOIN genre_categories ON to_jsonb(genre_categories.genre_id) = genre.key
    WHERE movie.tenant = :tenant
"""
LINKS_PREFIXES = "\n".join(
    f"WHEN {_literal(parent)} THEN RETURN {_literal(parent + '__')} || left(tenant, {length}) || '__';"
    for parent, length in {"movies": 40, "movie_categories": 30}.items()
)
LINKS_PREFIX = f"""
        CREATE OR REPLACE FUNCTION partition_prefix(parent text, tenant text) RETURNS text {{header}} AS $$
        BEGIN
            PERFORM partition_require_tenant(tenant);
            CASE parent
                {LINKS_PREFIXES}
                ELSE RAISE EXCEPTION 'table % is not partitioned by tenant', parent
                    USING ERRCODE = 'insufficient_privilege';
            END CASE;
        END $$
        """
SECURE_NEW = "\n".join(f"EXECUTE format({_literal(s)}, new_rel);" for s in isolation_statements("%1$s"))
LINKS_AND_MOVIES_SWAP = f"""
        CREATE FUNCTION partitions_swap(
            tenant text, old_movies text, new_movies text, old_links text, new_links text,
            tenant_lock_timeout text, shared_lock_timeout text
        ) RETURNS void {{header}} AS $$
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
                {SECURE_NEW}
            END LOOP;
            EXECUTE format('ALTER TABLE movies ATTACH PARTITION %s FOR VALUES IN (%L)', new_movies_rel, tenant);
            EXECUTE format('ALTER TABLE movie_categories ATTACH PARTITION %s FOR VALUES IN (%L)',
                           new_links_rel, tenant);
            PERFORM set_config('lock_timeout', saved_lock_timeout, true);
        END $$
        """


def downgrade() -> None:
    bind = op.get_bind()
    op.execute(LINKS_TABLE)
    op.execute(LINKS_INDEX)
    isolate_by_tenant("movie_categories")

    tenants = bind.scalars(sa.text(MOVIES_TENANTS)).all()
    for tenant in tenants:
        # Named like the importer's (partition_create_table): prefix, then 8 hex characters.
        partition = _identifier(f"movie_categories__{tenant[:30]}__{secrets.token_hex(4)}")
        # DDL takes no bound parameters: the tenant is written out.
        op.execute(f"CREATE TABLE {partition} PARTITION OF movie_categories FOR VALUES IN ({_literal(tenant)})")
        isolate_by_tenant(partition)

    # As bulk.add_links: the DISTINCT sorts in memory, and JIT would cost more than it saves.
    op.execute("SET LOCAL work_mem = '256MB'")
    op.execute("SET LOCAL jit = off")
    # Tenant by tenant, as that tenant: row-level security binds the owner too (see 0010).
    for tenant in tenants:
        bind.execute(sa.text("SELECT set_config('app.tenant', :tenant, true)"), {"tenant": tenant})
        bind.execute(sa.text(TENANT_LINKS_FROM_MOVIES), {"tenant": tenant})
    bind.execute(sa.text("SELECT set_config('app.tenant', '', true)"))
    op.execute("SET LOCAL work_mem = DEFAULT")
    op.execute("SET LOCAL jit = DEFAULT")
    op.execute("ANALYZE movie_categories")

    header = _header()
    op.execute(f"DROP FUNCTION {SWAP}")
    op.execute(LINKS_AND_MOVIES_SWAP.format(header=header))
    op.execute(f"REVOKE ALL ON FUNCTION {LINKS_SWAP} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {LINKS_SWAP} TO {APP_ROLE}")
    op.execute(LINKS_PREFIX.format(header=header))
