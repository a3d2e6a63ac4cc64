"""`users` (`User`, and the built-in roles) and `technicians` (`Technician`, `GeoPoint`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from shared.tenant.models.amounts import Rating
from shared.tenant.models.base import _Model
from shared.tenant.models.formats import Email, Ident, Phone, Text, WeComUserId
from shared.tenant.models.tenant import Locale

BUILTIN_ROLES: frozenset[str] = frozenset(
    {"admin", "agent", "dispatcher", "supervisor", "finance", "technician"}
)
"""Roles that exist in every tenant, whether or not a user holds them."""


class User(_Model):
    id: Ident
    name: Text
    roles: list[Ident] = []
    email: Email | None = None
    phone: Phone | None = None
    department: Ident | None = None
    locale: Locale | None = None
    wecom_user: WeComUserId | None = None
    """Their UserId in the tenant's WeCom corp: SLA levels and notices with channel ``wecom``
    (``wecom_app``) reach them there."""


class GeoPoint(_Model):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Technician(_Model):
    id: Ident
    name: Text
    phone: Phone
    email: Email | None = None
    partner_type: Literal["direct", "dealer"]
    regions: list[Ident] = Field(min_length=1)
    location: GeoPoint | None = None
    skills: dict[Ident, Annotated[int, Field(ge=1)]] = {}
    capacity: int = Field(ge=1)
    """Open tickets the technician may hold at once."""
    rating: Rating
    calendar: str | None = None
    supervisor: str | None = None
    """A user id."""
    locale: Locale | None = None
    wecom_user: WeComUserId | None = None
    """Their UserId in the tenant's WeCom corp (channel ``wecom`` of SLA levels)."""
