"""Settlement pricing: what a finished ticket is worth and what its installer earns.

Pure logic on the tenant's catalog; `Decimal` throughout, never a float. The rules:

1. **Tier**: the first `catalog.tier_rules` entry whose `when` matches the ticket.
2. **Lines**: for each service item and part,
   `amount = round(unit_price[tier] × quantity × region.coefficient)` to the currency's minor unit.
3. **Subtotal**: the sum of the line amounts.
4. **Surcharges**, in file order, each on the subtotal (they do not compound):
   `percent` → `round(subtotal × percent / 100)`, `fixed` → its amount.
5. **Total**: subtotal plus the surcharges.
6. **Installer earnings**: `round(total × share / 100)` by the first matching `installer_share` rule.
   A catalog without share rules shares nothing (0%); one whose rules all miss is an error.

Rounding is the catalog's `rounding` (`half_up` unless the tenant says otherwise) to the
currency's minor unit (2 decimals for CNY, EUR, USD; 0 for JPY, KRW; 3 for BHD, KWD, ...).

A `when` matches when every key it gives matches; a key whose fact the input lacks
(e.g. `priority` for a ticket without priority) does not match. `completed_between` is a
local-time window `[from, to)` in the tenant's time zone that wraps midnight when `from`
is later than `to` (`["20:00", "08:00"]`); `from == to` is the whole day.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time
from decimal import Context, Decimal, Inexact, InvalidOperation, localcontext
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict

from functions.settlement.currency import minor_unit
from shared.errors import DomainError
from shared.tenant.models import (
    Catalog,
    CatalogItem,
    Condition,
    Currency,
    Part,
    Region,
    TenantConfig,
    TimeZoneName,
    did_you_mean,
)

__all__ = [
    "Line",
    "PartLine",
    "PricingError",
    "PricingInput",
    "ServiceLine",
    "Settlement",
    "SurchargeLine",
    "in_window",
    "minor_unit",
    "price",
]

PartnerType = Literal["direct", "dealer"]
LineKind = Literal["service_item", "part"]

_HUNDRED = Decimal(100)
_EXACT = Context(prec=80, traps=[InvalidOperation, Inexact])
"""Products and quotients are computed exactly (an inexact step raises); only `_Rounder` rounds."""


class PricingError(DomainError):
    """The ticket cannot be priced with this catalog (unknown code, missing price, no rule, bad quantity)."""

    status, code = 422, "pricing_error"


# --------------------------------------------------------------------------- models


def _quantity(value: object) -> Decimal:
    """A quantity from a `Decimal`, an int or a decimal string; floats are refused (not exact)."""
    if isinstance(value, bool | float):
        raise ValueError(f'{value!r} is not an exact quantity; give a decimal string such as "1.5"')
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f'{value!r} is not a quantity; write a decimal such as "2" or "1.5"') from None
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a quantity; give a finite decimal")
        return value
    raise ValueError(f'{value!r} is not a quantity; write a decimal such as "2" or "1.5"')


Quantity = Annotated[Decimal, BeforeValidator(_quantity)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceLine(_Model):
    code: str
    quantity: Quantity


class PartLine(_Model):
    sku: str
    quantity: Quantity


class PricingInput(_Model):
    """Everything pricing needs; `from_tenant` fills the tenant's parts from a `TenantConfig`."""

    catalog: Catalog
    regions: list[Region]
    region: str
    """The ticket's region code."""
    partner_type: PartnerType
    """The assigned technician's partner type."""
    ticket_type: str | None = None
    priority: str | None = None
    channel: str | None = None
    completed_at: AwareDatetime
    timezone: TimeZoneName
    """The tenant's time zone, in which `completed_between` windows are read."""
    currency: Currency
    """ISO 4217 code; it sets the minor unit amounts are rounded to."""
    service_items: list[ServiceLine] = []
    parts: list[PartLine] = []

    @classmethod
    def from_tenant(
        cls,
        cfg: TenantConfig,
        *,
        region: str,
        partner_type: PartnerType,
        completed_at: datetime,
        ticket_type: str | None = None,
        priority: str | None = None,
        channel: str | None = None,
        service_items: Iterable[ServiceLine | dict[str, object]] = (),
        parts: Iterable[PartLine | dict[str, object]] = (),
    ) -> PricingInput:
        return cls.model_validate(
            {
                "catalog": cfg.catalog,
                "regions": cfg.regions,
                "region": region,
                "partner_type": partner_type,
                "ticket_type": ticket_type,
                "priority": priority,
                "channel": channel,
                "completed_at": completed_at,
                "timezone": cfg.tenant.timezone,
                "currency": cfg.tenant.currency,
                "service_items": list(service_items),
                "parts": list(parts),
            }
        )


class Line(_Model):
    code: str
    """Service item code or part SKU."""
    kind: LineKind
    name: str
    unit: str
    unit_price: Decimal
    quantity: Decimal
    coefficient: Decimal
    amount: Decimal


class SurchargeLine(_Model):
    code: str
    basis: Literal["percent", "fixed"]
    percent: Decimal | None
    """The rate of a `percent` surcharge (of the subtotal); `None` for a fixed one."""
    amount: Decimal


class Settlement(_Model):
    tier: str
    lines: list[Line]
    subtotal: Decimal
    surcharges: list[SurchargeLine]
    total: Decimal
    installer_share_percent: Decimal
    installer_earnings: Decimal
    catalog_version: str
    currency: str


# --------------------------------------------------------------------------- pricing


def price(data: PricingInput) -> Settlement:
    """Price a finished ticket. Raises `PricingError` when the catalog cannot price it."""
    try:
        with localcontext(_EXACT):
            return _price(data)
    except Inexact:
        raise PricingError(
            "a quantity has too many digits to price exactly; use at most a few decimals"
        ) from None


def _price(data: PricingInput) -> Settlement:
    catalog = data.catalog
    region = next((r for r in data.regions if r.code == data.region), None)
    if region is None:
        known = ", ".join(r.code for r in data.regions)
        raise PricingError(
            f"unknown region {data.region!r}{did_you_mean(data.region, (r.code for r in data.regions))}; "
            f"the tenant's regions are {known}"
        )
    facts = _Facts(data, region)
    money = _Rounder(data.currency, catalog.rounding_mode)

    rule = next((rule for rule in catalog.tier_rules if facts.match(rule.when)), None)
    if rule is None:
        raise PricingError(
            f"no catalog.tier_rules entry matches region class {region.region_class!r}, partner type "
            f"{data.partner_type!r} and ticket type {data.ticket_type!r}; "
            "end the rules with a catch-all such as {when: {}, tier: T3}"
        )
    tier = rule.tier

    wanted: list[tuple[LineKind, str, Decimal]] = [
        *(("service_item", s.code, s.quantity) for s in data.service_items),
        *(("part", p.sku, p.quantity) for p in data.parts),
    ]
    lines = [_line(kind, code, quantity, catalog, tier, region, money) for kind, code, quantity in wanted]

    subtotal = money(sum((line.amount for line in lines), Decimal(0)))
    surcharges: list[SurchargeLine] = []
    for surcharge in catalog.surcharges:
        if not facts.match(surcharge.when):
            continue
        if surcharge.percent is not None:
            amount = money(subtotal * surcharge.percent / _HUNDRED)
            surcharges.append(
                SurchargeLine(code=surcharge.code, basis="percent", percent=surcharge.percent, amount=amount)
            )
        elif surcharge.fixed is not None:
            amount = money(surcharge.fixed)
            surcharges.append(SurchargeLine(code=surcharge.code, basis="fixed", percent=None, amount=amount))
    total = subtotal + sum((s.amount for s in surcharges), Decimal(0))

    share = Decimal(0)
    if catalog.installer_share:
        share_rule = next((r for r in catalog.installer_share if facts.match(r.when)), None)
        if share_rule is None:
            raise PricingError(
                f"no catalog.installer_share rule matches partner type {data.partner_type!r}; "
                'add a rule for it or end the rules with a catch-all such as {when: {}, percent: "0"}'
            )
        share = share_rule.percent

    return Settlement(
        tier=tier,
        lines=lines,
        subtotal=subtotal,
        surcharges=surcharges,
        total=total,
        installer_share_percent=share,
        installer_earnings=money(total * share / _HUNDRED),
        catalog_version=catalog.version,
        currency=data.currency,
    )


def _line(
    kind: LineKind,
    code: str,
    quantity: Decimal,
    catalog: Catalog,
    tier: str,
    region: Region,
    money: _Rounder,
) -> Line:
    """One priced line: the catalog's service item or part ``code`` at the tier's price."""
    what = "service item" if kind == "service_item" else "part"
    entry: CatalogItem | Part | None
    if kind == "service_item":
        entry, known = catalog.item(code), [i.code for i in catalog.service_items]
    else:
        entry, known = catalog.part(code), [p.sku for p in catalog.parts]
    if entry is None:
        raise PricingError(
            f"unknown {what} {code!r}{did_you_mean(code, known)} in catalog {catalog.version!r}"
        )
    if quantity <= 0:
        raise PricingError(f"{what} {code!r} has quantity {quantity}; a quantity must be more than 0")
    unit_price = entry.price.get(tier)
    if unit_price is None:
        raise PricingError(
            f"{what} {code!r} has no price for tier {tier!r} (it has {', '.join(entry.price) or 'none'}); "
            f"add {tier} to its price in the catalog"
        )
    return Line(
        code=code,
        kind=kind,
        name=entry.name,
        unit=entry.unit,
        unit_price=unit_price,
        quantity=quantity,
        coefficient=region.coefficient,
        amount=money(unit_price * quantity * region.coefficient),
    )


class _Rounder:
    """Rounds to the currency's minor unit with the catalog's rounding mode."""

    _CONTEXT = Context(prec=80, traps=[InvalidOperation])

    def __init__(self, currency: str, rounding: str) -> None:
        self._places = Decimal(1).scaleb(-minor_unit(currency))
        self._rounding = rounding

    def __call__(self, value: Decimal) -> Decimal:
        return value.quantize(self._places, rounding=self._rounding, context=self._CONTEXT)


class _Facts:
    """What a `when` condition is matched against."""

    def __init__(self, data: PricingInput, region: Region) -> None:
        self.values: dict[str, str | None] = {
            "region": region.code,
            "region_class": region.region_class,
            "partner_type": data.partner_type,
            "ticket_type": data.ticket_type,
            "priority": data.priority,
            "channel": data.channel,
        }
        self.local_time = data.completed_at.astimezone(ZoneInfo(data.timezone)).time()

    def match(self, when: Condition) -> bool:
        for key, expected in when.model_dump(exclude_none=True).items():
            if key == "completed_between":
                if not in_window(self.local_time, *expected):
                    return False
            elif key not in self.values:
                raise PricingError(f"pricing cannot evaluate the condition {key!r} of a catalog rule")
            elif self.values[key] != expected:
                return False
        return True


def in_window(at: time, start: str, end: str) -> bool:
    """Whether a local time lies in `[start, end)` ("HH:MM"); the window wraps midnight if start > end.

    `start == end` is the whole day.
    """
    begins, ends = time.fromisoformat(start), time.fromisoformat(end)
    if begins < ends:
        return begins <= at < ends
    return at >= begins or at < ends
