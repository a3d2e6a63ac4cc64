"""`catalog` (`Catalog`: tiers, service items, parts, tier rules, surcharges, installer shares
and rounding)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
)
from typing import Literal

from pydantic import Field, model_validator

from shared.rules.conditions import Condition as RuleCondition
from shared.tenant.models.amounts import Money, Percent
from shared.tenant.models.base import _Model
from shared.tenant.models.formats import Ident, Text
from shared.tenant.models.times import ClockTime


class CatalogItem(_Model):
    """A service item of the project library (项目库): settlement price per unit and tier."""

    code: Ident
    name: Text
    unit: Text
    price: dict[str, Money]


class Part(_Model):
    """A part of the parts library (备件库)."""

    sku: Ident
    name: Text
    unit: Text
    price: dict[str, Money]


class Condition(_Model):
    """The `when:` of tier rules, surcharges and installer shares; every key given must match."""

    region: str | None = None
    region_class: str | None = None
    partner_type: Literal["direct", "dealer"] | None = None
    ticket_type: str | None = None
    priority: str | None = None
    channel: str | None = None
    completed_between: tuple[ClockTime, ClockTime] | None = None
    """Local time window `[from, to)`; it may wrap midnight (`["20:00", "08:00"]`)."""

    def is_catch_all(self) -> bool:
        return not self.model_dump(exclude_none=True)


class TierRule(_Model):
    when: Condition = Field(default_factory=Condition)
    tier: str


class Surcharge(_Model):
    code: Ident
    when: Condition = Field(default_factory=Condition)
    percent: Percent | None = None
    fixed: Money | None = None

    @model_validator(mode="after")
    def _one_amount(self) -> Surcharge:
        if (self.percent is None) == (self.fixed is None):
            raise ValueError("give exactly one of 'percent' or 'fixed'")
        return self


class ShareRule(_Model):
    when: Condition = Field(default_factory=Condition)
    percent: Percent


PartyKind = Literal["creator", "channel_owner"]


class PartyShare(_Model):
    """A share of the settled total for a party other than the installer (e.g. the shopping guide,
    导购, who took the order). Each rule that holds pays its party, in file order."""

    party: PartyKind
    """``creator``: the ticket's creator when that is a user of the file; ``channel_owner``: the
    ``owner`` of the ticket's channel."""
    when: RuleCondition | None = None
    """The condition language (``shared/rules/conditions.py``) on the ticket; absent: always."""
    percent: Percent
    out_of: Literal["total", "installer"] = "total"
    """``total``: paid beside the installer (the platform's margin pays it); ``installer``: taken
    from the installer's earnings."""


class RegionSplit(_Model):
    """A job across regions: the installer's earnings split over the regions of a ticket field
    (region codes) by each region's ``coefficient``."""

    field: str
    remainder_to: Literal["first", "last"] = "first"
    """Which region (in the field's order) takes the minor units that rounding leaves."""


Rounding = Literal["half_up", "half_even", "half_down", "up", "down", "ceiling", "floor"]
_ROUNDING_MODES: Mapping[str, str] = {
    "half_up": ROUND_HALF_UP,
    "half_even": ROUND_HALF_EVEN,
    "half_down": ROUND_HALF_DOWN,
    "up": ROUND_UP,
    "down": ROUND_DOWN,
    "ceiling": ROUND_CEILING,
    "floor": ROUND_FLOOR,
}


class Catalog(_Model):
    version: Text
    tiers: list[Ident] = Field(min_length=1)
    service_items: list[CatalogItem] = []
    parts: list[Part] = []
    tier_rules: list[TierRule] = []
    """First match wins."""
    surcharges: list[Surcharge] = []
    """Applied to the settled subtotal, in this order."""
    installer_share: list[ShareRule] = []
    """First match wins."""
    rounding: Rounding = "half_up"
    shares: list[PartyShare] = []
    """Other parties' shares (``shared.domain.shares``); none: the installer alone is paid."""
    shares_remainder_to: PartyKind | None = None
    """The party that takes the minor units that rounding the shares leaves; none: the first that is paid."""
    region_split: RegionSplit | None = None

    @property
    def rounding_mode(self) -> str:
        """The `decimal` rounding constant (e.g. `ROUND_HALF_UP`) for `rounding`."""
        return _ROUNDING_MODES[self.rounding]

    def item(self, code: str) -> CatalogItem | None:
        return next((item for item in self.service_items if item.code == code), None)

    def part(self, sku: str) -> Part | None:
        return next((part for part in self.parts if part.sku == sku), None)
