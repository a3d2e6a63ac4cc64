"""Earnings statements and revenue reports (the settlement service's HTTP routes), read from the ledger.

Apart from ``service.py`` (the settlement node's task) so that the routes do not import the pricing
code at their cold start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from functions.settlement.ports import Deps
from shared.clock import now
from shared.errors import Forbidden, NotFound
from shared.identity import Caller

if TYPE_CHECKING:
    from shared.repositories.ledger import LedgerEntry, RevenueGroup
    from shared.tenant.models import TenantConfig

REPORT_ROLES = ("finance", "admin")


def period_of(instant: datetime, timezone: str) -> str:
    """``YYYY-MM`` of an instant in the tenant's time zone."""
    return instant.astimezone(ZoneInfo(timezone)).strftime("%Y-%m")


@dataclass(frozen=True)
class Statement:
    technician: str
    period: str
    currency: str
    lines: list[LedgerEntry]
    total: Decimal


@dataclass(frozen=True)
class RevenueReport:
    period: str
    group_by: str
    currency: str
    groups: list[RevenueGroup]
    total: Decimal
    earnings: Decimal


def current_period(cfg: TenantConfig) -> str:
    return period_of(now(), cfg.tenant.timezone)


def earnings_statement(
    deps: Deps, cfg: TenantConfig, caller: Caller, technician: str, period: str
) -> Statement:
    """A technician's earnings of a month: the technician themself, finance or admin."""
    if caller.sub != technician and not caller.has_any(*REPORT_ROLES):
        raise Forbidden("an earnings statement is shown to its technician and to the finance or admin roles")
    if not any(t.id == technician for t in cfg.technicians):
        raise NotFound(f"technician '{technician}' does not exist")
    lines = deps.ledger.earnings(cfg.tenant.id, technician, period)
    return Statement(
        technician=technician,
        period=period,
        currency=cfg.tenant.currency,
        lines=lines,
        total=sum((line.amount for line in lines), Decimal(0)),
    )


def revenue_report(
    deps: Deps, cfg: TenantConfig, caller: Caller, period: str, group_by: str
) -> RevenueReport:
    """Revenue of a month grouped by one dimension (finance, admin), from the aggregate items."""
    if not caller.has_any(*REPORT_ROLES):
        raise Forbidden("revenue reports need the finance or admin role")
    groups = [
        g for g in deps.ledger.revenue(cfg.tenant.id, period, group_by) if g.count or g.total or g.earnings
    ]
    return RevenueReport(
        period=period,
        group_by=group_by,
        currency=cfg.tenant.currency,
        groups=groups,
        total=sum((g.total for g in groups), Decimal(0)),
        earnings=sum((g.earnings for g in groups), Decimal(0)),
    )
