"""The canonical genres, and a tenant's movies per genre."""

from sqlalchemy import select, text

from ..models import Genre
from ..tenants.service import require_tenant
from ..uow import UnitOfWork
from .schemas import GenreRead

# Each movie counted once per genre, even when its Genre cell names one twice (Comedy, Phim Hài).
MOVIES_PER_GENRE = text(
    """
    SELECT (genre.key)::integer, count(*)
    FROM movies CROSS JOIN LATERAL (
        SELECT DISTINCT key FROM jsonb_array_elements(movies.data -> 'genre_keys') AS element(key)
        WHERE jsonb_typeof(key) = 'number'
    ) AS genre
    WHERE movies.tenant = :tenant
    GROUP BY 1
    """
)


async def list_genres(uow: UnitOfWork, tenant: str | None) -> list[GenreRead]:
    async def read() -> list[GenreRead]:
        async with uow.for_tenant(tenant, read_only_snapshot=True, replica=True):
            genres = list(await uow.session.scalars(select(Genre).order_by(Genre.id)))
            counts = None
            if tenant is not None:
                await require_tenant(uow, tenant)
                counts = dict((await uow.session.execute(MOVIES_PER_GENRE, {"tenant": tenant})).all())
            return [
                GenreRead(
                    id=genre.id,
                    name_en=genre.name_en,
                    name_vi=genre.name_vi,
                    movie_count=None if counts is None else counts.get(genre.id, 0),
                )
                for genre in genres
            ]

    return await uow.reading(read)
