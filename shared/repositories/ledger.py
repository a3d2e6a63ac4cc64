"""Settlements, installers' earnings ledger and revenue aggregates in the single table.

Access patterns (all GetItem/Query, never Scan):

| pattern | key |
|---|---|
| a ticket's settlements, oldest first | pk=``TENANT#t#TICKET#<id>``, sk begins_with ``SETTLEMENT#`` |
| a technician's month of earnings | pk=``TENANT#t#LEDGER#<tech>#<YYYY-MM>``, sk ``<done>#<ticket>#<n>`` |
| a month's revenue by one grouping | pk=``TENANT#t#REVENUE#<YYYY-MM>``, sk begins_with ``<group_by>#`` |

One settlement (or rework adjustment) is written in ONE transaction: the immutable settlement
record (condition: it does not exist yet), the ledger line(s) (condition: they do not exist) and
an ``ADD`` on every revenue aggregate it changes (distinct items, one per (period, group_by, key)).
Nothing is ever rewritten: a rework is a new record whose deltas the ledger and aggregates receive.

Money is stored as DynamoDB numbers read back as ``Decimal`` (never float), and as decimal
strings inside JSON attributes.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pynamodb.attributes import Attribute, JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.constants import NUMBER
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from shared.clock import iso
from shared.errors import Conflict
from shared.repositories.base import TableItem, bind, refused, tenant_key, transaction_connection

SETTLEMENT_PREFIX = "SETTLEMENT#"
GROUP_BYS = ("tier", "region", "item", "ticket_type", "channel")
GroupBy = Literal["tier", "region", "item", "ticket_type", "channel"]
MAX_TRANSACTION_ITEMS = 100


# --------------------------------------------------------------------------- domain models


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class GroupAmount(_Frozen):
    """What one settlement contributes to (or changes in) one revenue group."""

    total: Decimal = Decimal(0)
    earnings: Decimal = Decimal(0)
    count: int = 0


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
    period: str
    group_by: str
    key: str
    change: GroupAmount


class RevenueGroup(_Frozen):
    group_by: str
    key: str
    total: Decimal
    earnings: Decimal
    count: int


# --------------------------------------------------------------------------- stored items


class DecimalAttribute(Attribute[Decimal]):
    """A DynamoDB number read and written as an exact ``Decimal`` (pynamodb's NumberAttribute uses float)."""

    attr_type = NUMBER

    def serialize(self, value: Decimal) -> str:
        return format(Decimal(value), "f")

    def deserialize(self, value: str) -> Decimal:
        return Decimal(value)


class SettlementItem(TableItem):
    tenant = UnicodeAttribute()
    ticket_id = UnicodeAttribute()
    sequence = NumberAttribute()
    visit = UnicodeAttribute()
    technician = UnicodeAttribute()
    period = UnicodeAttribute()
    completed_at = UnicodeAttribute()
    settled_at = UnicodeAttribute()
    body = JSONAttribute()


class LedgerItem(TableItem):
    tenant = UnicodeAttribute()
    technician = UnicodeAttribute()
    period = UnicodeAttribute()
    ticket_id = UnicodeAttribute()
    sequence = NumberAttribute()
    kind = UnicodeAttribute()
    completed_at = UnicodeAttribute()
    settled_at = UnicodeAttribute()
    amount = DecimalAttribute()
    ticket_total = DecimalAttribute()
    tier = UnicodeAttribute()
    currency = UnicodeAttribute()


class RevenueItem(TableItem):
    group_by = UnicodeAttribute(null=True)
    key = UnicodeAttribute(null=True)
    period = UnicodeAttribute(null=True)
    total = DecimalAttribute(null=True)
    earnings = DecimalAttribute(null=True)
    tickets = NumberAttribute(null=True)  # (``count`` is taken by pynamodb's Model)


def _settlement_key(tenant: str, ticket_id: str, sequence: int) -> tuple[str, str]:
    return tenant_key(tenant, "TICKET", ticket_id), f"{SETTLEMENT_PREFIX}{sequence:03d}"


def _ledger_key(entry: LedgerEntry) -> tuple[str, str]:
    pk = tenant_key(entry.tenant, "LEDGER", entry.technician, entry.period)
    return pk, f"{iso(entry.completed_at)}#{entry.ticket_id}#{entry.sequence:03d}"


def _revenue_pk(tenant: str, period: str) -> str:
    return tenant_key(tenant, "REVENUE", period)


def _record_item(record: SettlementRecord) -> SettlementItem:
    pk, sk = _settlement_key(record.tenant, record.ticket_id, record.sequence)
    body = record.model_dump(
        mode="json",
        include={"settlement", "adjustment", "groups", "completed_at", "settled_at"},
    )
    return SettlementItem(
        pk,
        sk,
        tenant=record.tenant,
        ticket_id=record.ticket_id,
        sequence=record.sequence,
        visit=record.visit,
        technician=record.technician,
        period=record.period,
        completed_at=iso(record.completed_at),
        settled_at=iso(record.settled_at),
        body=body,
    )


def _record_from(item: SettlementItem) -> SettlementRecord:
    body = dict(item.body or {})
    return SettlementRecord.model_validate(
        {
            **body,
            "tenant": item.tenant,
            "ticket_id": item.ticket_id,
            "sequence": int(item.sequence),
            "visit": item.visit,
            "technician": item.technician,
            "period": item.period,
        }
    )


def _ledger_item(entry: LedgerEntry) -> LedgerItem:
    pk, sk = _ledger_key(entry)
    return LedgerItem(
        pk,
        sk,
        tenant=entry.tenant,
        technician=entry.technician,
        period=entry.period,
        ticket_id=entry.ticket_id,
        sequence=entry.sequence,
        kind=entry.kind,
        completed_at=iso(entry.completed_at),
        settled_at=iso(entry.settled_at),
        amount=entry.amount,
        ticket_total=entry.ticket_total,
        tier=entry.tier,
        currency=entry.currency,
    )


def _entry_from(item: LedgerItem) -> LedgerEntry:
    return LedgerEntry(
        tenant=item.tenant,
        technician=item.technician,
        period=item.period,
        ticket_id=item.ticket_id,
        sequence=int(item.sequence),
        kind=item.kind,
        completed_at=datetime.fromisoformat(item.completed_at),
        settled_at=datetime.fromisoformat(item.settled_at),
        amount=item.amount,
        ticket_total=item.ticket_total,
        tier=item.tier,
        currency=item.currency,
    )


class LedgerRepository:
    """The only place that knows how settlements, ledger lines and revenue aggregates are keyed."""

    def __init__(self) -> None:
        bind(SettlementItem, LedgerItem, RevenueItem)
        self._connection = transaction_connection()

    def settlements(self, tenant: str, ticket_id: str) -> list[SettlementRecord]:
        """The ticket's settlement records, oldest (sequence 1) first."""
        pk, _ = _settlement_key(tenant, ticket_id, 0)
        items = SettlementItem.query(
            pk, SettlementItem.sk.startswith(SETTLEMENT_PREFIX), consistent_read=True
        )
        return [_record_from(item) for item in items]

    def record(
        self, record: SettlementRecord, entries: list[LedgerEntry], changes: list[RevenueChange]
    ) -> None:
        """Write the record, its ledger lines and aggregate changes atomically.

        ``Conflict`` when the record (or a ledger line) exists already, or when a concurrent
        transaction touched the same items: read again and decide.
        """
        if 1 + len(entries) + len(changes) > MAX_TRANSACTION_ITEMS:
            raise ValueError(
                f"a settlement touches {1 + len(entries) + len(changes)} items; "
                f"one transaction holds at most {MAX_TRANSACTION_ITEMS}"
            )
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.save(_record_item(record), condition=SettlementItem.pk.does_not_exist())
                for entry in entries:
                    tx.save(_ledger_item(entry), condition=LedgerItem.pk.does_not_exist())
                for change in changes:
                    item = RevenueItem(
                        _revenue_pk(record.tenant, change.period), f"{change.group_by}#{change.key}"
                    )
                    tx.update(
                        item,
                        actions=[
                            RevenueItem.group_by.set(change.group_by),
                            RevenueItem.key.set(change.key),
                            RevenueItem.period.set(change.period),
                            RevenueItem.total.add(change.change.total),
                            RevenueItem.earnings.add(change.change.earnings),
                            RevenueItem.tickets.add(change.change.count),
                        ],
                    )
        except TransactWriteError as exc:
            refused(exc)
            raise Conflict(
                f"settlement {record.sequence} of ticket {record.ticket_id} was not written "
                f"({exc.cause_response_code or 'transaction cancelled'}); read again"
            ) from exc

    def earnings(self, tenant: str, technician: str, period: str) -> list[LedgerEntry]:
        """A technician's ledger lines of a month, by completion time."""
        items = LedgerItem.query(tenant_key(tenant, "LEDGER", technician, period), consistent_read=True)
        return [_entry_from(item) for item in items]

    def revenue(self, tenant: str, period: str, group_by: str) -> list[RevenueGroup]:
        """The month's revenue aggregates of one grouping, ordered by key."""
        items = RevenueItem.query(
            _revenue_pk(tenant, period), RevenueItem.sk.startswith(f"{group_by}#"), consistent_read=True
        )
        return [
            RevenueGroup(
                group_by=group_by,
                key=item.sk.split("#", 1)[1],
                total=item.total or Decimal(0),
                earnings=item.earnings or Decimal(0),
                count=int(item.tickets or 0),
            )
            for item in items
        ]
