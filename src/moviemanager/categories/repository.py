from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from ..database_errors import LOCK_NOT_AVAILABLE, sqlstate
from ..db import set_local_tenant
from ..errors import CategoriesBusy
from ..models import Category, CategoryCount, Tenant, genre_categories
from ..movies.category_counts import category_counts, counts_insert

# Category administration waits this long for running imports, then answers 409.
ADMIN_LOCK_TIMEOUT = "5s"


# (id, parent_id, name, …): a SQLAlchemy row, or an asyncpg record (categories/views.py).
CategoryRow = Sequence[Any]


@dataclass(frozen=True)
class Counts:
    movie_count: int
    total_count: int


class CategoryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def tree(self) -> Sequence[CategoryRow]:
        """Every category, flat, by id; service.nested makes the tree (a recursive CTE walking down
        a large tree is some forty times slower than this flat read)."""
        # The rows as they come: no copy into objects of our own.
        return (
            await self.session.execute(select(Category.id, Category.parent_id, Category.name).order_by(Category.id))
        ).all()

    async def stored_counts(self, tenant: str) -> dict[int, Counts]:
        """The counts the last import (or category change) wrote for the tenant's movies."""
        rows = await self.session.execute(
            select(CategoryCount.category_id, CategoryCount.movie_count, CategoryCount.total_count).where(
                CategoryCount.tenant == tenant
            )
        )
        return {category_id: Counts(movies, total) for category_id, movies, total in rows}

    async def live_counts(self, tenant: str, conditions: list) -> dict[int, Counts]:
        """The counts of the tenant's movies that meet `conditions` (MovieFilters'), computed now."""
        # Planned for a million rows, the statement would be JIT-compiled first: 0.6 s, more than it runs.
        await self.session.execute(text("SET LOCAL jit = off"))
        rows = await self.session.execute(category_counts(tenant, conditions=conditions))
        return {category_id: Counts(movies, total) for category_id, movies, total in rows}

    # Administration. Imports hold SHARE on `categories` (lock_for_import): they read the genre
    # mapping and write counts against the tree, so the tree must not change under them.

    async def lock_for_import(self) -> tuple[dict[int, list[int]], frozenset[int]]:
        """Keep the tree and the genre mapping as they are until commit; return the mapping (genre →
        categories) and every category's id, read together."""
        await self.session.execute(text("LOCK TABLE categories IN SHARE MODE"))
        rows = await self.session.execute(
            select(Category.id, genre_categories.c.genre_id).outerjoin(
                genre_categories, genre_categories.c.category_id == Category.id
            )
        )
        mapping: dict[int, list[int]] = {}
        ids = set()
        for category, genre in rows:
            ids.add(category)
            if genre is not None:
                mapping.setdefault(genre, []).append(category)
        return {genre: sorted(categories) for genre, categories in mapping.items()}, frozenset(ids)

    async def lock_for_change(self) -> None:
        """Wait for running imports (briefly), and keep new imports and other changes out until commit."""
        try:
            async with self.session.begin_nested():
                saved = await self.session.scalar(
                    text("SELECT current_setting('lock_timeout'), set_config('lock_timeout', :wait, true)"),
                    {"wait": ADMIN_LOCK_TIMEOUT},
                )
                await self.session.execute(text("LOCK TABLE categories IN SHARE ROW EXCLUSIVE MODE"))
                # Back to the transaction's own lock timeout (db.ScopedSession).
                await self.session.execute(select(func.set_config("lock_timeout", saved, True)))
        except DBAPIError as exc:
            if sqlstate(exc) == LOCK_NOT_AVAILABLE:
                raise CategoriesBusy() from None
            raise

    async def get(self, category_id: int) -> Category | None:
        return await self.session.get(Category, category_id)

    async def name_taken(self, name: str, *, other_than: int | None = None) -> bool:
        statement = select(Category.id).where(Category.name == name)
        if other_than is not None:
            statement = statement.where(Category.id != other_than)
        return (await self.session.scalar(statement)) is not None

    async def add(self, name: str, parent_id: int | None) -> Category:
        category = Category(name=name, parent_id=parent_id)
        self.session.add(category)
        await self.session.flush()
        return category

    async def ancestors(self, category_id: int) -> list[int]:
        """The ids from `category_id` up to its root; stops at a cycle made by hand."""
        up = select(Category.id, Category.parent_id).where(Category.id == category_id).cte("up", recursive=True)
        parent = select(Category.id, Category.parent_id).join(up, Category.id == up.c.parent_id)
        # UNION (not ALL) drops a row already found, so a hand-made cycle ends the walk.
        up = up.union(parent)
        return list(await self.session.scalars(select(up.c.id)))

    async def has_children(self, category_id: int) -> bool:
        return (
            await self.session.scalar(select(Category.id).where(Category.parent_id == category_id).limit(1))
        ) is not None

    async def update(self, category_id: int, **values) -> None:
        await self.session.execute(update(Category).where(Category.id == category_id).values(**values))

    async def delete(self, category_id: int) -> None:
        """The category and its genre mapping: its movies stay, in their other categories (a
        Category ID naming it finds no category any more, see counts.MOVIE_CATEGORIES_SQL)."""
        await self.session.execute(delete(genre_categories).where(genre_categories.c.category_id == category_id))
        await self.session.execute(delete(Category).where(Category.id == category_id))

    async def recount_every_tenant(self) -> None:
        """Subtree totals change for every tenant when the tree does: rewrite all counts."""
        await self.session.execute(text("SET LOCAL jit = off"))  # see live_counts
        async for tenant in self._each_tenant():
            await self.session.execute(delete(CategoryCount).where(CategoryCount.tenant == tenant))
            await self.session.execute(counts_insert(tenant))

    async def _each_tenant(self) -> AsyncIterator[str]:
        """Each tenant in turn, as the transaction's tenant: row-level security shows one tenant's
        movies and counts at a time. Only category administration (admin token) does this; the
        transaction's own tenant comes back at the end."""
        # No try/finally: an error ends the transaction, and with it these settings.
        saved = await self.session.scalar(text("SELECT current_setting('app.tenant', true)"))
        for tenant in list(await self.session.scalars(select(Tenant.name).order_by(Tenant.name))):
            await self.session.execute(text(set_local_tenant(tenant)))
            yield tenant
        await self.session.execute(text(set_local_tenant(saved)))
