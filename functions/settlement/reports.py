"""Earnings statements and revenue reports (the settlement service's HTTP routes), read from the ledger.

Apart from ``service.py`` (the settlement node's task) so that the routes do not import the pricing
code at their cold start.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from functions.settlement.deps import Deps
from shared.clock import now
from shared.domain.ledger import LedgerEntry, RevenueGroup, period_of
from shared.errors import Forbidden, NotFound
from shared.identity import Caller

if TYPE_CHECKING:
    from shared.tenant.models import TenantConfig

REPORT_ROLES = ("finance", "admin")


@dataclass(frozen=True)
class Statement:
    """A technician's (or a user's share) ledger lines of a month."""

    technician: str
    period: str
    currency: str
    lines: list[LedgerEntry]

    @property
    def user(self) -> str:
        """Whose statement it is, as a staff statement names them."""
        return self.technician

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))


@dataclass(frozen=True)
class RevenueReport:
    """A month's revenue aggregates of one grouping."""

    period: str
    group_by: str
    currency: str
    groups: list[RevenueGroup]

    @property
    def total(self) -> Decimal:
        return sum((g.total for g in self.groups), Decimal(0))

    @property
    def earnings(self) -> Decimal:
        return sum((g.earnings for g in self.groups), Decimal(0))


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
    return Statement(technician, period, cfg.tenant.currency, lines)


def staff_statement(deps: Deps, cfg: TenantConfig, caller: Caller, user: str, period: str) -> Statement:
    """A user's shares of a month (``catalog.shares``: e.g. the shopping guide's): the user themself,
    finance or admin, as for a technician's statement."""
    if caller.sub != user and not caller.has_any(*REPORT_ROLES):
        raise Forbidden("a staff earnings statement is shown to its user and to the finance or admin roles")
    if cfg.user(user) is None:
        raise NotFound(f"user '{user}' does not exist")
    lines = deps.ledger.staff_earnings(cfg.tenant.id, user, period)
    return Statement(user, period, cfg.tenant.currency, lines)


def revenue_report(
    deps: Deps, cfg: TenantConfig, caller: Caller, period: str, group_by: str
) -> RevenueReport:
    """Revenue of a month grouped by one dimension (finance, admin), from the aggregate items."""
    if not caller.has_any(*REPORT_ROLES):
        raise Forbidden("revenue reports need the finance or admin role")
    groups = deps.ledger.revenue(cfg.tenant.id, period, group_by)
    # A group every settlement of which was reworked away (all zero) is not shown.
    shown = [g for g in groups if g.count or g.total or g.earnings]
    return RevenueReport(period, group_by, cfg.tenant.currency, shown)
