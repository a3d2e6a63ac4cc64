"""Settlements, the installers' earnings ledger and the revenue aggregates, as the domain sees them
(stored shape: ``shared/repositories/ledger.py``).

A settlement record is immutable. A rework is a new record (``sequence`` > 1); the ledger and the
revenue aggregates receive its differences to the previous record (``ledger_entries``,
``revenue_changes``), so Σ ledger == the latest earnings and Σ revenue == the latest total.

Money is ``Decimal`` (decimal strings inside ``settlement``), never float.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

GroupBy = Literal["tier", "region", "item", "ticket_type", "channel"]


def period_of(instant: datetime, timezone: str) -> str:
    """``YYYY-MM`` of an instant in the tenant's time zone: the month a settlement counts in."""
    return instant.astimezone(ZoneInfo(timezone)).strftime("%Y-%m")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class GroupAmount(_Frozen):
    """What one settlement contributes to (or changes in) one revenue group."""

    total: Decimal = Decimal(0)
    earnings: Decimal = Decimal(0)
    count: int = 0

    def __sub__(self, other: GroupAmount) -> GroupAmount:
        return GroupAmount(
            total=self.total - other.total,
            earnings=self.earnings - other.earnings,
            count=self.count - other.count,
        )


class SettlementRecord(_Frozen):
    """One immutable settlement of a ticket visit; ``sequence`` > 1 is a rework adjustment."""

    tenant: str
    ticket_id: str
    sequence: int = Field(ge=1)
    visit: str
    """Which pass through the settlement node this is (the human action that led to it)."""
    technician: str
    period: str
    """``YYYY-MM`` of the completion, in the tenant's time zone."""
    completed_at: datetime
    settled_at: datetime
    settlement: dict[str, Any]
    """The priced settlement (``pricing.Settlement`` as JSON: money as decimal strings)."""
    adjustment: dict[str, Any] | None = None
    """Sequence > 1: the new settlement minus the previous one, line by line."""
    groups: dict[str, GroupAmount]
    """``<group_by>#<key>`` -> this settlement's full contribution to the revenue reports."""

    @property
    def earnings(self) -> Decimal:
        return Decimal(str(self.settlement["installer_earnings"]))

    @property
    def total(self) -> Decimal:
        return Decimal(str(self.settlement["total"]))


class LedgerEntry(_Frozen):
    """One line of a technician's earnings statement (a settlement or an adjustment)."""

    tenant: str
    technician: str
    period: str
    ticket_id: str
    sequence: int
    kind: Literal["settlement", "adjustment"]
    completed_at: datetime
    settled_at: datetime
    amount: Decimal
    """What the technician earns (or, for an adjustment, the difference)."""
    ticket_total: Decimal
    """The ticket's settled total this line refers to (difference for an adjustment)."""
    tier: str
    currency: str


class RevenueChange(_Frozen):
    """What one revenue aggregate (a month's group) receives from one record."""

    period: str
    group_by: str
    key: str
    change: GroupAmount


class RevenueGroup(_Frozen):
    """One revenue aggregate as reported: a month's totals of one group."""

    group_by: str
    key: str
    total: Decimal
    earnings: Decimal
    count: int


def ledger_entries(record: SettlementRecord, previous: SettlementRecord | None) -> list[LedgerEntry]:
    """The earnings ledger lines of a record: its earnings, or the difference to the previous one."""

    def entry(technician: str, amount: Decimal, total: Decimal) -> LedgerEntry:
        return LedgerEntry(
            tenant=record.tenant,
            technician=technician,
            period=record.period,
            ticket_id=record.ticket_id,
            sequence=record.sequence,
            kind="adjustment" if previous else "settlement",
            completed_at=record.completed_at,
            settled_at=record.settled_at,
            amount=amount,
            ticket_total=total,
            tier=str(record.settlement["tier"]),
            currency=str(record.settlement["currency"]),
        )

    if previous is None:
        return [entry(record.technician, record.earnings, record.total)]
    if previous.technician == record.technician:
        return [entry(record.technician, record.earnings - previous.earnings, record.total - previous.total)]
    # Reworked by someone else: the first technician gives back what they were credited.
    return [
        entry(previous.technician, -previous.earnings, -previous.total),
        entry(record.technician, record.earnings, record.total),
    ]


def revenue_changes(record: SettlementRecord, previous: SettlementRecord | None) -> list[RevenueChange]:
    """What the revenue aggregates of the record's month receive: its groups minus the previous ones."""
    before = previous.groups if previous else {}
    changes = []
    for name in [*record.groups, *(k for k in before if k not in record.groups)]:
        change = record.groups.get(name, GroupAmount()) - before.get(name, GroupAmount())
        if change != GroupAmount():
            group_by, key = name.split("#", 1)
            changes.append(RevenueChange(period=record.period, group_by=group_by, key=key, change=change))
    return changes
