"""The unit of work: one AsyncSession, one transaction, committed only when the service says so."""

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .categories.repository import CategoryRepository
from .movies.bulk import BulkMovies
from .movies.repository import MovieRepository
from .tenants.repository import TenantRepository
from .tokens.repository import TokenRepository


class UnitOfWork:
    """`async with uow: …; await uow.commit()`. Leaving the block without commit rolls back."""

    session: AsyncSession
    tenants: TenantRepository
    categories: CategoryRepository
    tokens: TokenRepository

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        self.tenants = TenantRepository(self.session)
        self.categories = CategoryRepository(self.session)
        self.tokens = TokenRepository(self.session)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self.session.rollback()  # a no-op after commit
        finally:
            await self.session.close()

    def movies(self, tenant: str) -> MovieRepository:
        """The movies of one tenant: every query the repository makes is filtered by it."""
        return MovieRepository(self.session, tenant)

    def bulk_movies(self, tenant: str) -> BulkMovies:
        """The tables behind one tenant's movies, for imports."""
        return BulkMovies(self.session, tenant)

    async def commit(self) -> None:
        await self.session.commit()

    async def read_only_snapshot(self) -> None:
        """Make the rest of this transaction read one consistent snapshot and write nothing.

        Call it before any query. Inside an enclosing transaction (a savepoint, as in the tests),
        the enclosing transaction's isolation applies instead.
        """
        connection = await self.session.connection()
        if not connection.in_nested_transaction():
            await connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
