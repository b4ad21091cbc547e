"""The unit of work: one AsyncSession, one transaction, committed only when the service says so."""

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from types import TracebackType
from typing import Self, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from .accounts.repository import LoginRepository, UserRepository
from .categories.repository import CategoryRepository
from .db import Timeouts
from .movies.importing.bulk import BulkMovies
from .movies.reading.repository import MovieRepository
from .replicas import Replicas
from .tenants.repository import TenantRepository
from .tokens.repository import TokenRepository

log = logging.getLogger(__name__)
T = TypeVar("T")


class UnitOfWork:
    """`async with uow: …; await uow.commit()`. Leaving the block without commit rolls back."""

    session: AsyncSession
    tenants: TenantRepository
    categories: CategoryRepository
    tokens: TokenRepository
    users: UserRepository
    logins: LoginRepository

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, replicas: Replicas | None = None) -> None:
        self._sessions = sessions
        self._replicas = replicas
        self._scope: dict[str, str | bool] = {}
        self._replica_allowed = False
        self.on_replica = False  # whether the last block's session was a read replica's

    def for_tenant(
        self, tenant: str | None, *, importing: bool = False, read_only_snapshot: bool = False, replica: bool = False
    ) -> Self:
        """Scope the next `async with` of the unit to one tenant: row-level security then shows and
        accepts its rows only (None: no tenant, no tenant row at all).

        `importing`: the longer statement timeout of imports. `read_only_snapshot`: every query
        reads one consistent snapshot and nothing is written (inside an enclosing transaction,
        as in the tests, that transaction's isolation applies instead). `replica`: the unit only
        reads, and may read from a read replica at the tenant's current version (replicas.py).
        """
        self._scope = {"tenant": tenant, "importing": importing, "read_only_snapshot": read_only_snapshot}
        self._replica_allowed = replica
        return self

    @property
    def timeouts(self) -> Timeouts:
        return self.session.info["timeouts"]

    async def __aenter__(self) -> Self:
        session = None
        if self._replica_allowed and self._replicas is not None:
            session = await self._replicas.session(self._scope)
        self.on_replica = session is not None
        self.session = session or self._sessions(info=self._scope)
        self.tenants = TenantRepository(self.session)
        self.categories = CategoryRepository(self.session)
        self.tokens = TokenRepository(self.session)
        self.users = UserRepository(self.session)
        self.logins = LoginRepository(self.session)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._scope = {}  # the next block names its tenant again
        self._replica_allowed = False
        try:
            await self.session.rollback()  # a no-op after commit
        finally:
            await self.session.close()

    async def reading(self, read: Callable[[], Awaitable[T]]) -> T:
        """`read()`, a block of this unit opened with `replica=True`; when a read replica served it
        and failed (its connection lost, a statement cancelled by its replay), once more on the
        primary: a read never fails because a replica did."""
        try:
            return await read()
        except (SQLAlchemyError, OSError) as exc:
            if not self.on_replica:
                raise
            log.info("a read on a replica failed (%s); the primary answers", type(exc).__name__)
        self._replicas = None
        return await read()

    def movies(self, tenant: str) -> MovieRepository:
        """The movies of one tenant: every query the repository makes is filtered by it."""
        return MovieRepository(self.session, self._scoped(tenant))

    def bulk_movies(self, tenant: str) -> BulkMovies:
        """The tables behind one tenant's movies, for imports."""
        return BulkMovies(self.session, self._scoped(tenant))

    def side_sessions(self) -> Callable[[], AsyncSession] | None:
        """Sessions in this unit's scope, each on a connection of its own, for work beside the
        unit's transaction; None when this unit's sessions share one connection (the tests')."""
        if not isinstance(self._sessions.kw.get("bind"), AsyncEngine):
            return None
        return partial(self._sessions, info=dict(self._scope))

    def _scoped(self, tenant: str) -> str:
        if self._scope.get("tenant") != tenant:
            # Row-level security would show no row: a bug, not an empty catalog.
            raise RuntimeError(f"this unit of work is not scoped to tenant {tenant!r}; use for_tenant()")
        return tenant

    async def commit(self) -> None:
        await self.session.commit()
