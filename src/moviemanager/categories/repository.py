from dataclasses import dataclass

from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Category


@dataclass(frozen=True)
class CategoryRow:
    id: int
    parent_id: int | None
    name: str
    level: int


class CategoryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def tree(self, max_level: int | None = None) -> list[CategoryRow]:
        """Every category reachable from a root, down to `max_level` (roots are level 0).

        One recursive query. It cannot loop: a node has one parent, so a node reachable from a root
        is never part of a cycle, and a cycle inserted by hand is simply not reached.
        """
        roots = select(Category.id, Category.parent_id, Category.name, literal(0).label("level")).where(
            Category.parent_id.is_(None)
        )
        tree = roots.cte("tree", recursive=True)
        children = select(Category.id, Category.parent_id, Category.name, (tree.c.level + 1).label("level")).join(
            tree, Category.parent_id == tree.c.id
        )
        if max_level is not None:
            children = children.where(tree.c.level < max_level)
        tree = tree.union_all(children)
        rows = await self.session.execute(select(tree).order_by(tree.c.level, tree.c.id))
        return [CategoryRow(*row) for row in rows]
