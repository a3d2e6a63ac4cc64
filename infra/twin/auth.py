"""The twin's stand-in for Cognito: it issues HS256 JWTs and checks them on every protected route.

Expiry is measured on the real clock (not the twin clock), so advancing the twin by days
for an SLA demo does not log everyone out.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import jwt

ISSUER = "scrm-local-twin"
LIFETIME_SECONDS = 12 * 3600


class TokenError(Exception):
    pass


class LocalIssuer:
    def __init__(self, tenants: set[str]) -> None:
        self._key = secrets.token_bytes(32)
        self.tenants = tenants

    def issue(self, tenant: str, sub: str, roles: list[str], lifetime: int = LIFETIME_SECONDS) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": sub,
            "tenant": tenant,
            "roles": roles,
            "iat": now,
            "exp": now + lifetime,
        }
        return jwt.encode(claims, self._key, algorithm="HS256")

    def verify(self, authorization: str | None) -> dict[str, Any]:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise TokenError(
                "a Bearer token is required (Authorization: Bearer <JWT>; get one at POST /_local/token)"
            )
        token = authorization.split(" ", 1)[1].strip()
        try:
            claims: dict[str, Any] = jwt.decode(
                token, self._key, algorithms=["HS256"], issuer=ISSUER, options={"require": ["exp", "sub"]}
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("the token has expired; get a new one at POST /_local/token") from None
        except jwt.InvalidTokenError as exc:
            raise TokenError(f"the token is not valid: {exc}") from None
        if claims.get("tenant") not in self.tenants:
            raise TokenError(f"the token's tenant '{claims.get('tenant')}' is not deployed in this twin")
        return claims
