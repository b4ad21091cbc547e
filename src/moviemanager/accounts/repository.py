from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, exists, false, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from ..models import LoginFailure, LoginToken, User, UserTenant

# Advisory lock spaces ("mm" "lu", "mm" "lc"), apart from the tenants' and the migrations' locks.
USERNAME_LOCK_SPACE = 0x6D6D_6C75
CLIENT_LOCK_SPACE = 0x6D6D_6C63


@dataclass(frozen=True)
class Access:
    """What a login token's user may write; `writes_tenant` answers for the tenant asked about."""

    username: str
    is_admin: bool
    writes_tenant: bool


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, user: User) -> None:
        self.session.add(user)
        await self.session.flush()

    async def find(self, username: str) -> User | None:
        """The user of that name, whatever its case."""
        return await self.session.scalar(select(User).where(func.lower(User.username) == username.lower()))

    async def list(self) -> list[User]:
        statement = select(User).order_by(func.lower(User.username)).options(selectinload(User.grants))
        return list(await self.session.scalars(statement))

    async def set_password_hash(self, user_id: int, password_hash: str) -> None:
        await self.session.execute(update(User).where(User.id == user_id).values(password_hash=password_hash))

    async def set_active(self, user_id: int, active: bool) -> None:
        await self.session.execute(update(User).where(User.id == user_id).values(is_active=active))

    async def grant(self, user_id: int, tenant: str) -> bool:
        """False when the user had the grant already."""
        statement = pg_insert(UserTenant).values(tenant=tenant, user_id=user_id).on_conflict_do_nothing()
        return (await self.session.execute(statement)).rowcount > 0

    async def revoke(self, user_id: int, tenant: str) -> bool:
        statement = delete(UserTenant).where(UserTenant.tenant == tenant, UserTenant.user_id == user_id)
        return (await self.session.execute(statement)).rowcount > 0


class LoginRepository:
    """Login tokens (by their digest) and failed logins."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_token(self, token_hash: bytes, user_id: int, lifetime: timedelta) -> None:
        values = {"token_hash": token_hash, "user_id": user_id, "expires_at": func.now() + lifetime}
        await self.session.execute(insert(LoginToken).values(values))

    async def access(self, token_hash: bytes, tenant: str | None) -> Access | None:
        """The rights of a token's user, if the token is known, unexpired and its user active."""
        granted = exists().where(UserTenant.tenant == tenant, UserTenant.user_id == User.id)
        writes_tenant = granted if tenant is not None else false()
        statement = (
            select(User.username, User.is_admin, writes_tenant)
            .join(LoginToken, LoginToken.user_id == User.id)
            .where(*self._valid(token_hash))
        )
        row = (await self.session.execute(statement)).one_or_none()
        return Access(*row) if row is not None else None

    async def user(self, token_hash: bytes) -> User | None:
        """A valid token's user, with the tenants granted to it."""
        statement = (
            select(User)
            .join(LoginToken, LoginToken.user_id == User.id)
            .where(*self._valid(token_hash))
            .options(selectinload(User.grants))
        )
        return await self.session.scalar(statement)

    async def remove_token(self, token_hash: bytes) -> bool:
        result = await self.session.execute(delete(LoginToken).where(LoginToken.token_hash == token_hash))
        return result.rowcount > 0

    async def remove_tokens(self, user_id: int, *, expired_only: bool = False) -> None:
        statement = delete(LoginToken).where(LoginToken.user_id == user_id)
        if expired_only:
            statement = statement.where(LoginToken.expires_at <= func.now())
        await self.session.execute(statement)

    async def lock_attempts(self, username: str, client: str) -> None:
        """Serialise the attempts' bookkeeping for one username and for one client address, so that
        concurrent attempts (in any worker process) each count the others."""
        await self.session.execute(
            select(
                func.pg_advisory_xact_lock(USERNAME_LOCK_SPACE, func.hashtext(username)),
                func.pg_advisory_xact_lock(CLIENT_LOCK_SPACE, func.hashtext(client)),
            )
        )

    async def blocked_for(self, username: str, client: str, *, limit: int, window: timedelta) -> timedelta | None:
        """How long until the username or the address gets its next attempt, if either has used up
        `limit` failures within `window`: until its `limit`-th newest failure leaves the window."""

        def nth_newest(column, value):
            return (
                select(LoginFailure.failed_at + window)
                .where(column == value, LoginFailure.failed_at > func.now() - window)
                .order_by(LoginFailure.failed_at.desc())
                .offset(limit - 1)
                .limit(1)
                .scalar_subquery()
            )

        statement = select(
            func.greatest(nth_newest(LoginFailure.username, username), nth_newest(LoginFailure.client, client))
            - func.now()
        )
        return await self.session.scalar(statement)

    async def add_failure(self, username: str, client: str) -> int:
        statement = insert(LoginFailure).values(username=username, client=client).returning(LoginFailure.id)
        return await self.session.scalar(statement)

    async def forget_failures(self, username: str) -> None:
        await self.session.execute(delete(LoginFailure).where(LoginFailure.username == username))

    async def prune_failures(self, window: timedelta) -> None:
        await self.session.execute(delete(LoginFailure).where(LoginFailure.failed_at <= func.now() - window))

    @staticmethod
    def _valid(token_hash: bytes) -> tuple:
        return LoginToken.token_hash == token_hash, LoginToken.expires_at > func.now(), User.is_active
