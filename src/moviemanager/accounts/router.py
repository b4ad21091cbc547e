"""POST /auth/register, /auth/login, /auth/logout and GET /auth/me: the shapes the original
front end sends and reads."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..deps import SettingsDep, UowDep
from ..errors import ErrorBody, LoginRequired, RequestValidationErrorBody
from . import service
from .schemas import LoginRequest, TokenRead, UserCreate, UserRead

router = APIRouter(prefix="/auth", tags=["accounts"])

_login_bearer = HTTPBearer(auto_error=False, scheme_name="LoginToken", description="A token from POST /auth/login")


def login_token(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_login_bearer)]) -> str:
    if credentials is None:
        raise LoginRequired()
    return credentials.credentials


LoginTokenDep = Annotated[str, Depends(login_token)]
BODY_ERRORS = {
    400: {"model": ErrorBody, "description": "The body is not JSON"},
    422: {"model": RequestValidationErrorBody, "description": "A field missing or invalid, named in `loc`"},
}
LOGIN_REQUIRED = {401: {"model": ErrorBody, "description": "No login token, or an expired or revoked one"}}


@router.post(
    "/register",
    status_code=201,
    response_model=UserRead,
    responses={
        **BODY_ERRORS,
        403: {"model": ErrorBody, "description": "Registration is off (MOVIEMANAGER_ALLOW_REGISTRATION)"},
        409: {"model": ErrorBody, "description": "The username is taken (whatever its case)"},
    },
)
async def register(new: UserCreate, uow: UowDep, settings: SettingsDep) -> UserRead:
    """Sign up, when the operator allows it; the new user may write no tenant until granted one."""
    user = await service.register(uow, new, allowed=settings.allow_registration)
    return UserRead.model_validate(user)


@router.post(
    "/login",
    response_model=TokenRead,
    responses={
        **BODY_ERRORS,
        401: {"model": ErrorBody, "description": "Unknown user, wrong password or disabled user: one answer"},
        429: {
            "model": ErrorBody,
            "description": "Too many failed logins for the username or from the address; see Retry-After",
            "headers": {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
        },
    },
)
async def login(credentials: LoginRequest, request: Request, uow: UowDep, settings: SettingsDep) -> TokenRead:
    """A bearer token that writes what the user may, for MOVIEMANAGER_LOGIN_TOKEN_HOURS."""
    client = request.client.host if request.client is not None else "unknown"
    new = await service.log_in(uow, credentials, client, service.LoginPolicy.from_settings(settings))
    return TokenRead(access_token=new.token, expires_in=int(new.lifetime.total_seconds()))


@router.get("/me", response_model=UserRead, responses=LOGIN_REQUIRED)
async def me(token: LoginTokenDep, uow: UowDep) -> UserRead:
    """The signed-in user, with the tenants it may write."""
    return UserRead.model_validate(await service.signed_in_user(uow, token))


@router.post("/logout", status_code=204, responses=LOGIN_REQUIRED)
async def logout(token: LoginTokenDep, uow: UowDep) -> Response:
    """Revoke the presented login token."""
    await service.log_out(uow, token)
    return Response(status_code=204)
