"""User accounts: created by the operator (CLI) or by registration, logging in and out, and what
a login token may write.

A login token reads `mml.<secret>`, the secret 256 random bits; only its SHA-256 is stored, as
for tenant tokens (tokens/service.py). It expires, and stops working when deleted (logout) or
when its user is disabled.

A login is two short transactions around the password check. The first takes the attempt locks
of the username and the client address, refuses (429) when either has had too many failures
within the window, and records this attempt as a failure; the second, once the password proved
right, forgets the username's failures and stores the token. Argon2 costs tens of milliseconds
of CPU by design: checked in between, it holds no connection and no lock, while concurrent
attempts in any worker process still count each other.
"""

import math
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from ..config import Settings
from ..errors import (
    GrantNotFound,
    InvalidCredentials,
    LoginRequired,
    RegistrationClosed,
    TooManyLoginAttempts,
    UsernameTaken,
    UserNotFound,
)
from ..models import User, UserTenant
from ..tokens.service import digest
from ..uow import UnitOfWork
from .passwords import hash_password, needs_rehash, verify_password
from .repository import Access
from .schemas import LoginRequest, UserCreate

PREFIX = "mml"


@dataclass(frozen=True, kw_only=True)
class LoginPolicy:
    token_lifetime: timedelta
    failure_limit: int
    failure_window: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> "LoginPolicy":
        return cls(
            token_lifetime=timedelta(hours=settings.login_token_hours),
            failure_limit=settings.login_failure_limit,
            failure_window=timedelta(minutes=settings.login_failure_window_minutes),
        )


@dataclass(frozen=True)
class NewLogin:
    token: str
    lifetime: timedelta


def is_login_token(token: str) -> bool:
    return token.startswith(PREFIX + ".")


async def create_user(uow: UnitOfWork, new: UserCreate, *, is_admin: bool = False, tenants: Iterable[str] = ()) -> User:
    """Store a new user, with the tenants it may write."""
    password_hash = await hash_password(new.password)
    grants = [UserTenant(tenant=tenant) for tenant in sorted(set(tenants))]
    user = User(username=new.username, email=new.email, password_hash=password_hash, is_admin=is_admin, grants=grants)
    async with uow:
        if await uow.users.find(new.username) is not None:
            raise UsernameTaken(new.username)
        try:
            await uow.users.add(user)
        except IntegrityError as exc:  # registered meanwhile by another request
            raise UsernameTaken(new.username) from exc
        await uow.commit()
    return user


async def register(uow: UnitOfWork, new: UserCreate, *, allowed: bool) -> User:
    """A user who signed themselves up: may write nothing until an operator grants a tenant."""
    if not allowed:
        raise RegistrationClosed()
    return await create_user(uow, new)


async def log_in(uow: UnitOfWork, credentials: LoginRequest, client: str, policy: LoginPolicy) -> NewLogin:
    """A new token for the user, if the password is right, the user active and not throttled."""
    name = credentials.username.lower()
    async with uow:
        await uow.logins.lock_attempts(name, client)
        wait = await uow.logins.blocked_for(name, client, limit=policy.failure_limit, window=policy.failure_window)
        if wait is not None:
            raise TooManyLoginAttempts(max(1, math.ceil(wait.total_seconds())))
        await uow.logins.prune_failures(policy.failure_window)
        await uow.logins.add_failure(name, client)  # a failure until the password proves right
        user = await uow.users.find(name)
        await uow.commit()
    right = await verify_password(user.password_hash if user is not None else None, credentials.password)
    if not right or not user.is_active:
        raise InvalidCredentials()
    rehashed = await hash_password(credentials.password) if needs_rehash(user.password_hash) else None
    token = f"{PREFIX}.{secrets.token_urlsafe(32)}"
    async with uow:
        await uow.logins.forget_failures(name)
        if rehashed is not None:
            await uow.users.set_password_hash(user.id, rehashed)
        await uow.logins.remove_tokens(user.id, expired_only=True)
        await uow.logins.add_token(digest(token), user.id, policy.token_lifetime)
        await uow.commit()
    return NewLogin(token=token, lifetime=policy.token_lifetime)


async def access(uow: UnitOfWork, token: str, tenant: str | None) -> Access | None:
    """What a login token's user may write (about `tenant`, if given); None: no valid login token."""
    if not is_login_token(token):
        return None
    async with uow:
        return await uow.logins.access(digest(token), tenant)


async def signed_in_user(uow: UnitOfWork, token: str) -> User:
    async with uow:
        user = await uow.logins.user(digest(token)) if is_login_token(token) else None
        if user is None:
            raise LoginRequired()
        uow.session.expunge_all()  # keeps it readable after the rollback that ends the block
        return user


async def log_out(uow: UnitOfWork, token: str) -> None:
    """Revoke the token: it stops working at once."""
    async with uow:
        if not is_login_token(token) or not await uow.logins.remove_token(digest(token)):
            raise LoginRequired()
        await uow.commit()


async def list_users(uow: UnitOfWork) -> list[User]:
    async with uow:
        users = await uow.users.list()
        uow.session.expunge_all()
        return users


async def set_active(uow: UnitOfWork, username: str, active: bool) -> None:
    """Disable (its login tokens are deleted with it) or enable a user again."""
    async with uow:
        user = await _user(uow, username)
        await uow.users.set_active(user.id, active)
        if not active:
            await uow.logins.remove_tokens(user.id)
        await uow.commit()


async def grant(uow: UnitOfWork, username: str, tenant: str) -> bool:
    """Let the user write `tenant`; False if it could already."""
    async with uow:
        granted = await uow.users.grant((await _user(uow, username)).id, tenant)
        await uow.commit()
        return granted


async def revoke(uow: UnitOfWork, username: str, tenant: str) -> None:
    async with uow:
        if not await uow.users.revoke((await _user(uow, username)).id, tenant):
            raise GrantNotFound(username, tenant)
        await uow.commit()


async def _user(uow: UnitOfWork, username: str) -> User:
    user = await uow.users.find(username)
    if user is None:
        raise UserNotFound(username)
    return user
