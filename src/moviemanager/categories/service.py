"""The category tree, the per-tenant report on it, and its administration."""

import contextlib
import gc
from collections.abc import Iterator, Sequence
from typing import Any

from ..errors import CategoryConflict, CategoryNotFound, InvalidCategory
from ..movies.reading.filters import MovieFilters, category_subtree
from ..tenants.service import require_tenant
from ..uow import UnitOfWork
from .repository import CategoryRow, Counts
from .schemas import CategoryChange, CategoryCreate, CategoryRead

NO_MOVIES = Counts(0, 0)
NO_FILTERS = MovieFilters()


async def category_tree(
    uow: UnitOfWork,
    *,
    max_level: int | None = None,
    tenant: str | None = None,
    filters: MovieFilters = NO_FILTERS,
) -> list[dict[str, Any]]:
    """The category forest, nested as CategoryNode-shaped dicts; `max_level=0` gives the roots only.

    Dicts, not CategoryNode models: a tree may have 100,000 nodes, and building as many models
    takes seconds where plain dicts take a tenth of one (bench/categories.py).

    With a tenant, each node carries movie_count and total_count: stored by the last import when
    no filter applies, else computed by one statement. A node at `max_level` keeps the total of
    its whole subtree (the levels cut off roll up into it).
    """

    async def read() -> tuple[Sequence[CategoryRow], dict[int, Counts] | None]:
        async with uow.for_tenant(tenant, read_only_snapshot=True, replica=True):
            rows = await uow.categories.tree()
            if tenant is None:
                return rows, None
            await require_tenant(uow, tenant)
            conditions = (await filters.resolved(category_subtree(uow.session))).conditions()
            if conditions:
                return rows, await uow.categories.live_counts(tenant, conditions)
            return rows, await uow.categories.stored_counts(tenant)

    rows, counts = await uow.reading(read)
    return nested(rows, counts, max_level)


def nested(
    rows: Sequence[CategoryRow], counts: dict[int, Counts] | None, max_level: int | None
) -> list[dict[str, Any]]:
    """The forest of `rows` (id, parent_id, name by id), with `counts` when given (see category_tree)."""
    # 200,000 new containers would set off the cyclic garbage collector again and again, each time
    # walking every one made so far (half the time at 100,000 nodes); none of them can form a cycle.
    with gc_paused():
        return _nest(rows, counts, max_level)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a while: for making many containers that cannot
    form a cycle (a big tree's rows and nodes). Other requests of the process run meanwhile with it
    off too, which only delays the collection of their cycles.

    Best resumed once those containers are freed again: the collector counts the containers made
    less those freed, and resumed with 100,000 of them alive it walks every one at the next
    allocation (a fifth of a big tree's request). Nested pauses resume with the outermost."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _nest(rows: Sequence[CategoryRow], counts: dict[int, Counts] | None, max_level: int | None) -> list[dict[str, Any]]:
    """Every node made in one pass, then each put under its parent, in id order. A node in a cycle
    made by hand is never reached: a node has one parent, so a cycle has no way up to a root."""
    if max_level is not None:
        return _nest_levels(rows, counts, max_level)
    nodes: dict[int, dict[str, Any]] = {}
    if counts is None:
        for row in rows:
            nodes[row[0]] = {"id": row[0], "name": row[2], "subcategories": []}
    else:
        found = counts.get
        for row in rows:
            category_id = row[0]
            count = found(category_id, NO_MOVIES)
            nodes[category_id] = {
                "id": category_id,
                "name": row[2],
                "movie_count": count.movie_count,
                "total_count": count.total_count,
                "subcategories": [],
            }
    roots = []
    for row in rows:
        if row[1] is None:
            roots.append(nodes[row[0]])
        else:
            nodes[row[1]]["subcategories"].append(nodes[row[0]])
    return roots


def _nest_levels(rows: Sequence[CategoryRow], counts: dict[int, Counts] | None, max_level: int) -> list[dict[str, Any]]:
    """Level by level down from the roots, children by id, `max_level` levels below them."""
    by_parent: dict[int | None, list[tuple[int, str]]] = {}
    for row in rows:  # by id
        by_parent.setdefault(row[1], []).append((row[0], row[2]))

    def node(category_id: int, name: str) -> dict[str, Any]:
        if counts is None:
            return {"id": category_id, "name": name, "subcategories": []}
        found = counts.get(category_id, NO_MOVIES)
        return {
            "id": category_id,
            "name": name,
            "movie_count": found.movie_count,
            "total_count": found.total_count,
            "subcategories": [],
        }

    roots = [node(category_id, name) for category_id, name in by_parent.get(None, ())]
    level, frontier = 0, roots
    while frontier and level < max_level:
        below = []
        for parent in frontier:
            children = parent["subcategories"]
            for category_id, name in by_parent.get(parent["id"], ()):
                children.append(node(category_id, name))
            below += children
        level, frontier = level + 1, below
    return roots


async def create_category(uow: UnitOfWork, new: CategoryCreate) -> CategoryRead:
    async with uow:
        await uow.categories.lock_for_change()
        await _check_name(uow, new.name)
        if new.parent_id is not None:
            await _existing(uow, new.parent_id, parent=True)
        category = await uow.categories.add(new.name, new.parent_id)
        result = CategoryRead(id=category.id, name=category.name, parent_id=category.parent_id)
        await uow.commit()
    return result


async def change_category(uow: UnitOfWork, category_id: int, change: CategoryChange) -> CategoryRead:
    """Rename and/or move; a move that would make a cycle is refused (409) and nothing changes."""
    async with uow:
        await uow.categories.lock_for_change()
        category = await _existing(uow, category_id)
        values = {}
        if change.name is not None and change.name != category.name:
            await _check_name(uow, change.name, other_than=category_id)
            values["name"] = change.name
        moving = "parent_id" in change.model_fields_set and change.parent_id != category.parent_id
        if moving:
            if change.parent_id is not None:
                await _existing(uow, change.parent_id, parent=True)
                if category_id in await uow.categories.ancestors(change.parent_id):
                    raise CategoryConflict(
                        f"Moving category {category_id} under {change.parent_id} would make a cycle:"
                        f" {change.parent_id} is {category_id} or below it. Nothing was changed."
                    )
            values["parent_id"] = change.parent_id
        if values:
            await uow.categories.update(category_id, **values)
            # Movies show their categories' names, and `category=` lists a subtree: both may change.
            await uow.tenants.new_data_version_everywhere()
        if moving:
            await uow.categories.recount_every_tenant()
        result = CategoryRead(
            id=category_id,
            name=values.get("name", category.name),
            parent_id=values.get("parent_id", category.parent_id),
        )
        await uow.commit()
    return result


async def delete_category(uow: UnitOfWork, category_id: int) -> None:
    """Delete a category with no subcategories; its movies stay, in their other categories. A movie
    whose Category ID names it is in it no more (its data keeps the id: nothing finds it)."""
    async with uow:
        await uow.categories.lock_for_change()
        await _existing(uow, category_id)
        if await uow.categories.has_children(category_id):
            raise CategoryConflict(
                f"Category {category_id} has subcategories; move or delete them first. Nothing was changed."
            )
        await uow.categories.delete(category_id)
        await uow.categories.recount_every_tenant()
        await uow.tenants.new_data_version_everywhere()
        await uow.commit()


async def _existing(uow: UnitOfWork, category_id: int, *, parent: bool = False):
    category = await uow.categories.get(category_id)
    if category is None:
        if parent:
            raise InvalidCategory(f"parent_id {category_id} is no category")
        raise CategoryNotFound(category_id)
    return category


async def _check_name(uow: UnitOfWork, name: str, *, other_than: int | None = None) -> None:
    if await uow.categories.name_taken(name, other_than=other_than):
        raise CategoryConflict(f"A category named {name!r} already exists")
