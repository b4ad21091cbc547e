"""Tenant-scoped bearer tokens: created and revoked by the operator (CLI), checked on every write.

A token reads `mmt.<tenant>.<secret>`: the tenant is part of it so that a token of another tenant
is recognised (403, not 401) with a lookup through the tenant-first key; the secret is 256 random
bits. Only its SHA-256 is stored (migration 0005 says why that is enough). `api_tokens` is shared
by every tenant under row-level security (migration 0006): the lookup must see a token of another
tenant to answer 403.
"""

import hashlib
import secrets
from dataclasses import dataclass

from ..errors import TokenNotFound
from ..models import ApiToken
from ..tenancy import is_valid_tenant_name
from ..uow import UnitOfWork

PREFIX = "mmt"


@dataclass(frozen=True)
class NewToken:
    tenant: str
    id: str
    token: str


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def tenant_of(token: str) -> str | None:
    """The tenant a token names, if it has the shape of a tenant token at all."""
    prefix, _, rest = token.partition(".")
    tenant, _, secret = rest.partition(".")
    if prefix != PREFIX or not secret or not is_valid_tenant_name(tenant):
        return None
    return tenant


async def create_token(uow: UnitOfWork, tenant: str, note: str | None = None) -> NewToken:
    """Store a new token for `tenant` and return it: the only time the token itself is seen."""
    token = f"{PREFIX}.{tenant}.{secrets.token_urlsafe(32)}"
    new = NewToken(tenant=tenant, id=secrets.token_hex(4), token=token)
    async with uow.for_tenant(tenant):
        await uow.tokens.add(ApiToken(tenant=tenant, id=new.id, token_hash=digest(token), note=note))
        await uow.commit()
    return new


async def revoke_token(uow: UnitOfWork, tenant: str, token_id: str) -> None:
    async with uow.for_tenant(tenant):
        if not await uow.tokens.remove(tenant, token_id):
            raise TokenNotFound(tenant, token_id)
        await uow.commit()


async def list_tokens(uow: UnitOfWork, tenant: str | None = None) -> list[ApiToken]:
    async with uow.for_tenant(tenant):
        tokens = await uow.tokens.list(tenant)
        uow.session.expunge_all()  # keeps them readable after the rollback that ends the block
        return tokens


async def token_tenant(uow: UnitOfWork, token: str) -> str | None:
    """The tenant a presented token may write, or None when it is no valid token."""
    tenant = tenant_of(token)
    if tenant is None:
        return None
    presented = digest(token)
    async with uow.for_tenant(tenant):
        stored = await uow.tokens.find(tenant, presented)
        # The lookup is by digest already; compare_digest keeps the last step constant-time too.
        valid = stored is not None and secrets.compare_digest(stored.token_hash, presented)
    return tenant if valid else None
