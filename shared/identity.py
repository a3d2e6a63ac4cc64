"""Who is calling: the claims API Gateway's JWT authorizer puts into the event."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.errors import Unauthorized


class Caller(BaseModel):
    model_config = ConfigDict(frozen=True)

    sub: str
    tenant: str
    roles: frozenset[str]

    def has_any(self, *roles: str) -> bool:
        return bool(self.roles & set(roles)) or "admin" in self.roles


def _roles(value: Any) -> frozenset[str]:
    # Cognito groups arrive as a list, or flattened by API Gateway into "[a b]".
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset(part for part in value.strip("[]").replace(",", " ").split() if part)
    return frozenset(str(v) for v in value)


def caller_from_claims(claims: Mapping[str, Any] | None) -> Caller:
    if not claims:
        raise Unauthorized("a Bearer token is required (Authorization: Bearer <JWT>)")
    # The person's id in the tenant file (u-lin, t-wang): a Cognito user's `custom:user` attribute
    # (Cognito's own `sub` is a UUID that no tenant file names), else `sub` (the twin's tokens).
    sub = claims.get("custom:user") or claims.get("sub")
    tenant = claims.get("tenant") or claims.get("custom:tenant")
    if not sub or not tenant:
        raise Unauthorized("the token must carry the claims 'sub' (or 'custom:user') and 'tenant'")
    roles = _roles(claims.get("roles", claims.get("cognito:groups")))
    return Caller(sub=str(sub), tenant=str(tenant), roles=roles)


def caller_from_event(event: Mapping[str, Any]) -> Caller:
    claims = ((event.get("requestContext") or {}).get("authorizer") or {}).get("jwt", {}).get("claims")
    return caller_from_claims(claims)
