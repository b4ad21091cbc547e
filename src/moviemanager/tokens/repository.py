from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import ApiToken


class TokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, token: ApiToken) -> None:
        self.session.add(token)
        await self.session.flush()

    async def find(self, tenant: str, token_hash: bytes) -> ApiToken | None:
        statement = select(ApiToken).where(ApiToken.tenant == tenant, ApiToken.token_hash == token_hash)
        return await self.session.scalar(statement)

    async def list(self, tenant: str | None = None) -> list[ApiToken]:
        statement = select(ApiToken).order_by(ApiToken.tenant, ApiToken.created_at, ApiToken.id)
        if tenant is not None:
            statement = statement.where(ApiToken.tenant == tenant)
        return list(await self.session.scalars(statement))

    async def remove(self, tenant: str, token_id: str) -> bool:
        result = await self.session.execute(delete(ApiToken).where(ApiToken.tenant == tenant, ApiToken.id == token_id))
        return result.rowcount > 0
