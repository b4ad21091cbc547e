"""Filter and sort keys as generated columns, and read indexes that cover them: a page's movies are
chosen from an index alone.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07

Why: a first visit to a filtered page (`genre=…&year=…&rating_gte=…`) walked an index in the
page's order and fetched each candidate movie from the table to test the rest of the filters:
about 300 random table pages for 20 movies on a 1,000,000-movie tenant, most of the request's
time. Now every filter and sort key is a column of its own, every btree read index carries them
all (INCLUDE), and a page is chosen by an index-only scan before its 20 movies are fetched.

- Generated columns (STORED, computed by PostgreSQL from `data` on every write, so COPY, the
  merge's upsert and this migration fill them alike): `year_key` and `rating_key` (the sort keys,
  never NULL: 0 an unknown year, -1 unrated; the expressions migration 0006 indexed),
  `runtime_minutes`, `genre_keys` (the importer's keys, see movies/genres.py).
- The btree read indexes lead with `tenant` (tenant-first, as every key) and INCLUDE the other
  keys; the primary key INCLUDEs them too (with `checksum`, for the import's comparison), for
  pages in TMDB id order. The genre keys' GIN index moves to the column.
- partition_create_table gives an import's new tables the same generated columns (ATTACH
  PARTITION requires them); otherwise as migration 0006 wrote it.
- VACUUM at the end: rewriting the table cleared its visibility map, without which an index-only
  scan reads the table anyway. An import's new table needs none (COPY FREEZE sets it).
"""

from collections.abc import Sequence

from alembic import op

from moviemanager.migrations.tenant_isolation import APP_ROLE

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# This revision's copies of the sort keys (migration 0006's CASE expressions: under row-level
# security PostgreSQL takes a COALESCE for leaky).
GENERATED_COLUMNS = {
    "year_key": ("integer", "CASE WHEN (data ->> 'year') IS NULL THEN 0 ELSE (data ->> 'year')::integer END"),
    "rating_key": ("numeric", "CASE WHEN (data ->> 'rating') IS NULL THEN -1 ELSE (data ->> 'rating')::numeric END"),
    "runtime_minutes": ("integer", "(data ->> 'runtime_minutes')::integer"),
    "genre_keys": ("jsonb", "data -> 'genre_keys'"),
}
# What every btree read index carries: the filters' keys and the sort keys.
COVERED = ["year_key", "rating_key", "runtime_minutes", "genre_keys", "sort_title"]
READ_INDEXES = {
    "ix_movies_year": ["tenant", "year_key", "tmdb_id"],
    "ix_movies_rating": ["tenant", "rating_key", "tmdb_id"],
    "ix_movies_year_rating": ["tenant", "year_key", "rating_key", "tmdb_id"],
    "ix_movies_title": ["tenant", 'sort_title COLLATE "C"', "tmdb_id"],
}

REPLACED_INDEXES = ", ".join(["ix_movies_genre_keys", *READ_INDEXES])


def _included(keys: list[str]) -> str:
    return ", ".join(column for column in COVERED if not any(key.startswith(column) for key in keys))


PARTITION_CREATE_TABLE = """
    CREATE OR REPLACE FUNCTION partition_create_table(parent text, tenant text, temporary boolean) RETURNS text
    {header} AS $$
    DECLARE
        name text := partition_prefix(parent, tenant) || substr(md5(random()::text), 1, 8);
        columns text;
    BEGIN
        -- From the catalog, not LIKE, which would lock the parent until commit.
        SELECT string_agg(format('%I %s%s%s', a.attname, format_type(a.atttypid, a.atttypmod),
                                 CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END,
                                 CASE WHEN a.attgenerated = 's'
                                      THEN format(' GENERATED ALWAYS AS (%s) STORED', pg_get_expr(d.adbin, d.adrelid))
                                      ELSE '' END), ', ' ORDER BY a.attnum)
        INTO columns
        FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = parent::regclass AND a.attnum > 0 AND NOT a.attisdropped;
        -- The CHECK lets ATTACH PARTITION skip scanning the table.
        EXECUTE format('CREATE %s TABLE %I (%s, CHECK (tenant = %L))%s',
                       CASE WHEN temporary THEN 'TEMPORARY' ELSE '' END, name, columns, tenant,
                       CASE WHEN temporary THEN ' ON COMMIT DROP' ELSE '' END);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO {app_role}', name);
        RETURN name;
    END $$
    """

# Downgrade: the indexes and the function as migrations 0006 and 0010 left them.
OLD_YEAR = "(CASE WHEN (data ->> 'year') IS NULL THEN 0 ELSE (data ->> 'year')::integer END)"
OLD_RATING = "(CASE WHEN (data ->> 'rating') IS NULL THEN -1 ELSE (data ->> 'rating')::numeric END)"
OLD_INDEXES = [
    "CREATE INDEX ix_movies_genre_keys ON movies USING gin ((data -> 'genre_keys') jsonb_path_ops)",
    f"CREATE INDEX ix_movies_year ON movies ({OLD_YEAR}, tmdb_id)",
    f"CREATE INDEX ix_movies_rating ON movies ({OLD_RATING}, tmdb_id)",
    f"CREATE INDEX ix_movies_year_rating ON movies ({OLD_YEAR}, {OLD_RATING}, tmdb_id)",
    'CREATE INDEX ix_movies_title ON movies (sort_title COLLATE "C", tmdb_id)',
]
OLD_PARTITION_CREATE_TABLE = """
    CREATE OR REPLACE FUNCTION partition_create_table(parent text, tenant text, temporary boolean) RETURNS text
    {header} AS $$
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
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO {app_role}', name);
        RETURN name;
    END $$
    """


def _header() -> str:
    schema = op.get_bind().exec_driver_sql("SELECT quote_ident(current_schema())").scalar()
    return f"LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp"


def upgrade() -> None:
    added = ", ".join(
        f"ADD COLUMN {name} {type_} GENERATED ALWAYS AS ({expression}) STORED"
        for name, (type_, expression) in GENERATED_COLUMNS.items()
    )
    op.execute(f"ALTER TABLE movies {added}")
    op.execute(f"DROP INDEX {REPLACED_INDEXES}")
    op.execute("CREATE INDEX ix_movies_genre_keys ON movies USING gin (genre_keys jsonb_path_ops)")
    for name, keys in READ_INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON movies ({', '.join(keys)}) INCLUDE ({_included(keys)})")
    op.execute(
        "ALTER TABLE movies DROP CONSTRAINT pk_movies,"
        f" ADD CONSTRAINT pk_movies PRIMARY KEY (tenant, tmdb_id) INCLUDE (checksum, {', '.join(COVERED)})"
    )
    op.execute(PARTITION_CREATE_TABLE.format(header=_header(), app_role=APP_ROLE))
    with op.get_context().autocommit_block():
        op.execute("VACUUM (ANALYZE) movies")


def downgrade() -> None:
    op.execute(OLD_PARTITION_CREATE_TABLE.format(header=_header(), app_role=APP_ROLE))
    op.execute(
        "ALTER TABLE movies DROP CONSTRAINT pk_movies,"
        " ADD CONSTRAINT pk_movies PRIMARY KEY (tenant, tmdb_id) INCLUDE (checksum)"
    )
    op.execute(f"DROP INDEX {REPLACED_INDEXES}")
    op.execute(f"ALTER TABLE movies {', '.join(f'DROP COLUMN {name}' for name in GENERATED_COLUMNS)}")
    for index in OLD_INDEXES:
        op.execute(index)
