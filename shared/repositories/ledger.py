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
A transaction cancelled because another one was writing the same aggregates (many tickets settled at
once in one tier, region or month) is sent again after a jittered pause: that contention is this
store's to absorb; a record that exists already is the caller's ``Conflict`` (read again).

Money is stored as DynamoDB numbers read back as ``Decimal`` (never float), and as decimal
strings inside JSON attributes.
"""

from __future__ import annotations

import random
import time
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from pynamodb.attributes import Attribute, JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.constants import NUMBER
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from shared.clock import iso
from shared.domain.ledger import LedgerEntry, RevenueChange, RevenueGroup, SettlementRecord
from shared.errors import Conflict, Unavailable
from shared.repositories.base import TableItem, bind, refused, tenant_key, transaction_connection

SETTLEMENT_PREFIX = "SETTLEMENT#"
MAX_TRANSACTION_ITEMS = 100
CONTENDED_ATTEMPTS = 6
"""Sends of one settlement's transaction while other transactions keep cancelling it."""
_KEYS = frozenset({"pk", "sk", "expires_at"})


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


def _attributes(item_class: type[TableItem], model: BaseModel) -> dict[str, Any]:
    """The model's values of the item's attributes (instants as sortable ISO strings)."""
    values = model.model_dump(include=set(item_class.get_attributes()) - _KEYS)
    return {name: iso(v) if isinstance(v, datetime) else v for name, v in values.items()}


def _stored(item: TableItem) -> dict[str, Any]:
    """The item's attributes without its keys: what the domain model is read back from."""
    return {name: v for name, v in item.attribute_values.items() if name not in _KEYS}


def _record_item(record: SettlementRecord) -> SettlementItem:
    # The instants as attributes sort and show in the console; the body keeps them exactly.
    body = record.model_dump(
        mode="json", include={"settlement", "adjustment", "groups", "completed_at", "settled_at"}
    )
    key = _settlement_key(record.tenant, record.ticket_id, record.sequence)
    return SettlementItem(*key, body=body, **_attributes(SettlementItem, record))


def _record_from(item: SettlementItem) -> SettlementRecord:
    values = _stored(item)
    body = values.pop("body", None) or {}
    return SettlementRecord.model_validate({**values, **body})


def _ledger_item(entry: LedgerEntry) -> LedgerItem:
    return LedgerItem(*_ledger_key(entry), **_attributes(LedgerItem, entry))


def _entry_from(item: LedgerItem) -> LedgerEntry:
    return LedgerEntry.model_validate(_stored(item))


def _group_from(item: RevenueItem, group_by: str) -> RevenueGroup:
    return RevenueGroup(
        group_by=group_by,
        key=item.sk.split("#", 1)[1],
        total=item.total or Decimal(0),
        earnings=item.earnings or Decimal(0),
        count=int(item.tickets or 0),
    )


def _contended(exc: TransactWriteError) -> bool:
    """Whether the transaction may simply be sent again: DynamoDB cancelled it for another reason
    than a condition (another transaction on the same aggregates, throttling)."""
    codes = {reason.code for reason in exc.cancellation_reasons if reason is not None}
    return "ConditionalCheckFailed" not in codes


def _code(exc: TransactWriteError | None) -> str:
    return (exc.cause_response_code if exc else None) or "transaction cancelled"


class LedgerRepository:
    """The ``shared.ports.LedgerStore`` on the table: the only place that knows how settlements,
    ledger lines and revenue aggregates are keyed."""

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

        ``Conflict`` when the record (or a ledger line) exists already: another settle of the ticket
        wrote first; read again and decide. A transaction cancelled otherwise (other writers of the
        same aggregates) is sent again after a jittered pause, ``Unavailable`` when it never gets through.
        """
        if 1 + len(entries) + len(changes) > MAX_TRANSACTION_ITEMS:
            raise ValueError(
                f"a settlement touches {1 + len(entries) + len(changes)} items; "
                f"one transaction holds at most {MAX_TRANSACTION_ITEMS}"
            )
        what = f"settlement {record.sequence} of ticket {record.ticket_id}"
        last: TransactWriteError | None = None
        for attempt in range(CONTENDED_ATTEMPTS):
            if attempt:
                time.sleep(random.uniform(0, 0.02 * 2**attempt))  # jitter: the writers spread out
            try:
                self._write(record, entries, changes)
                return
            except TransactWriteError as exc:
                refused(exc)
                if not _contended(exc):
                    raise Conflict(f"{what} was not written ({_code(exc)}); read again") from exc
                last = exc
        raise Unavailable(
            f"{what} was not written: its revenue aggregates stayed busy ({_code(last)})"
        ) from last

    def _write(
        self, record: SettlementRecord, entries: list[LedgerEntry], changes: list[RevenueChange]
    ) -> None:
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

    def earnings(self, tenant: str, technician: str, period: str) -> list[LedgerEntry]:
        """A technician's ledger lines of a month, by completion time."""
        items = LedgerItem.query(tenant_key(tenant, "LEDGER", technician, period), consistent_read=True)
        return [_entry_from(item) for item in items]

    def revenue(self, tenant: str, period: str, group_by: str) -> list[RevenueGroup]:
        """The month's revenue aggregates of one grouping, ordered by key."""
        items = RevenueItem.query(
            _revenue_pk(tenant, period), RevenueItem.sk.startswith(f"{group_by}#"), consistent_read=True
        )
        return [_group_from(item, group_by) for item in items]
