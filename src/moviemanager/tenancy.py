"""Which tenant a request names: the one rule every route and the answers from memory follow.

A request names its tenant with the `tenant` query parameter or the `X-Tenant` header. When both
are given and differ, the parameter wins: it belongs to this request, while the header is often a
client-wide default (a front end sets it from the last tenant browsed). The tenant used is noted
in the request's scope, and the response says it in an `X-Tenant` header (middleware.py).
"""

import re

from starlette.types import Scope

from .errors import TenantMissing

# A tenant's name: also the table constraint (models.py), the SET LOCAL literal (db.py), and every
# tenant parameter's and header's pattern.
TENANT_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_TENANT_NAME = re.compile(TENANT_NAME_PATTERN)
MISSING = "Name the tenant with the X-Tenant header or the tenant query parameter"
SCOPE_KEY = "moviemanager.tenant"


def is_valid_tenant_name(name: str) -> bool:
    return _TENANT_NAME.fullmatch(name) is not None


def chosen_tenant(header: str | None, parameter: str | None) -> str | None:
    """The tenant named by the `tenant` parameter, else by the X-Tenant header; None if neither."""
    return parameter if parameter is not None else header


def required_tenant(header: str | None, parameter: str | None) -> str:
    name = chosen_tenant(header, parameter)
    if name is None:
        raise TenantMissing(MISSING)
    return name


def note_tenant(scope: Scope, name: str) -> None:
    """Remember the tenant a request used, for the response's X-Tenant header."""
    scope[SCOPE_KEY] = name


def noted_tenant(scope: Scope) -> str | None:
    return scope.get(SCOPE_KEY)
