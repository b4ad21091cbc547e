from ..uow import UnitOfWork
from .schemas import CategoryNode


async def category_tree(uow: UnitOfWork, *, max_level: int | None = None) -> list[CategoryNode]:
    """The category forest, nested; `max_level=0` gives the roots only."""
    async with uow:
        rows = await uow.categories.tree(max_level)
    # Rows come level by level, so a parent is always placed before its children.
    nodes: dict[int, CategoryNode] = {}
    roots: list[CategoryNode] = []
    for row in rows:
        node = nodes[row.id] = CategoryNode(id=row.id, name=row.name)
        if row.parent_id is None:
            roots.append(node)
        else:
            nodes[row.parent_id].subcategories.append(node)
    return roots
