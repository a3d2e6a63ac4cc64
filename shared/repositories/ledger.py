"""Settlements, installers' earnings ledger and revenue aggregates in the single table.

Access patterns (all GetItem/Query, never Scan):

| pattern | key |
|---|---|
| a ticket's settlements, oldest first | pk=``TENANT#t#TICKET#<id>``, sk begins_with ``SETTLEMENT#`` |
| a technician's month | pk=``TENANT#t#LEDGER#<tech>#<YYYY-MM>``, sk ``<done>#<ticket>#<n>[#<region>]`` |
| a user's month of shares | pk=``TENANT#t#STAFF#<user>#<YYYY-MM>``, sk ``<done>#<ticket>#<n>#<party>`` |
| a month's revenue by group | pk=``TENANT#t#REVENUE#<YYYY-MM>#<shard>``, sk begins_with ``<group_by>#`` |
| a record's revenue taken by the aggregates | pk=``TENANT#t#TICKET#<id>``, sk ``FOLDED#SETTLEMENT#<n>`` |

A report runs one Query per shard partition (:data:`~shared.domain.ledger.REVENUE_SHARDS`).

One settlement (or rework adjustment) is written in ONE transaction: the immutable settlement
record (condition: it does not exist yet) with the revenue changes it brings (attribute
``revenue``) and the ledger line(s) (condition: they do not exist). Only the ticket's own items:
two settlements of different tickets never meet, so a transaction is cancelled only by another
settle of the same ticket (``Conflict``: read again) or by throttling (sent again after a pause).

The revenue aggregates are fed from the table's stream (``scrm-settlement-aggregates``, filtered on
settlement records' INSERTs): :meth:`LedgerRepository.apply_revenue` adds a batch's changes, summed
per aggregate, to one aggregate shard (``shared.domain.ledger.batch_shard``) and puts each record's
``FOLDED#`` marker (condition: it does not exist) in ONE transaction, so a redelivered stream record
finds its marker and changes nothing: each record is counted exactly once. Reports are therefore eventually
consistent: they show what the stream consumer has folded (normally within a second).
Aggregates written before the shards existed (pk ``TENANT#t#REVENUE#<YYYY-MM>``) are read too.

Nothing is ever rewritten: a rework is a new record whose deltas the ledger and aggregates receive.
Money is stored as DynamoDB numbers read back as ``Decimal`` (never float), and as decimal
strings inside JSON attributes.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from pynamodb.attributes import Attribute, JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.constants import NUMBER
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from shared.clock import iso
from shared.domain.ledger import (
    REVENUE_SHARDS,
    AggregateKey,
    GroupAmount,
    LedgerEntry,
    RevenueChange,
    RevenueFold,
    RevenueGroup,
    SettlementRecord,
    batch_shard,
    fold,
    sum_groups,
    transactions,
)
from shared.errors import Conflict, Unavailable
from shared.repositories.base import TableItem, bind, refused, tenant_key, transaction_connection

SETTLEMENT_PREFIX = "SETTLEMENT#"
FOLDED_PREFIX = "FOLDED#"
MAX_TRANSACTION_ITEMS = 100
CONTENDED_ATTEMPTS = 6
"""Sends of one transaction while DynamoDB keeps cancelling it for other reasons than a condition
(throttling; for the aggregates, another fold on the same shard item at the same instant)."""
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
    revenue = JSONAttribute(null=True)
    """The record's revenue changes (``RevenueChange`` as JSON, money as decimal strings), for the
    stream consumer that folds them into the aggregates; absent on records written before (their
    aggregates were written with them)."""


class FoldedItem(TableItem):
    """Marker: the aggregates took this settlement record's revenue changes (never twice)."""

    shard = NumberAttribute()


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
    party = UnicodeAttribute(null=True)
    """Absent on lines from before shares: the installer's."""
    region = UnicodeAttribute(null=True)


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
    """An installer's line on the technician's statement (a region's part: suffixed by the region);
    another party's on the user's staff statement (suffixed by the party: one user may be paid as
    creator and as channel owner of the same ticket)."""
    sk = f"{iso(entry.completed_at)}#{entry.ticket_id}#{entry.sequence:03d}"
    if entry.staff:
        return tenant_key(entry.tenant, "STAFF", entry.technician, entry.period), f"{sk}#{entry.party}"
    pk = tenant_key(entry.tenant, "LEDGER", entry.technician, entry.period)
    return pk, f"{sk}#{entry.region}" if entry.region else sk


def _revenue_pk(tenant: str, period: str, shard: int | None = None) -> str:
    """An aggregate shard's partition; ``None``: the one partition of aggregates from before shards."""
    if shard is None:
        return tenant_key(tenant, "REVENUE", period)
    return tenant_key(tenant, "REVENUE", period, f"{shard:02d}")


def _folded_key(tenant: str, ticket_id: str, sequence: int) -> tuple[str, str]:
    pk, sk = _settlement_key(tenant, ticket_id, sequence)
    return pk, f"{FOLDED_PREFIX}{sk}"


def _attributes(item_class: type[TableItem], model: BaseModel) -> dict[str, Any]:
    """The model's values of the item's attributes (instants as sortable ISO strings)."""
    values = model.model_dump(include=set(item_class.get_attributes()) - _KEYS)
    return {name: iso(v) if isinstance(v, datetime) else v for name, v in values.items()}


def _stored(item: TableItem) -> dict[str, Any]:
    """The item's attributes without its keys: what the domain model is read back from."""
    return {name: v for name, v in item.attribute_values.items() if name not in _KEYS}


def _record_item(record: SettlementRecord, changes: list[RevenueChange]) -> SettlementItem:
    # The instants as attributes sort and show in the console; the body keeps them exactly.
    body = record.model_dump(
        mode="json",
        include={"settlement", "adjustment", "groups", "parties", "completed_at", "settled_at"},
    )
    key = _settlement_key(record.tenant, record.ticket_id, record.sequence)
    revenue = [change.model_dump(mode="json") for change in changes]
    return SettlementItem(*key, body=body, revenue=revenue, **_attributes(SettlementItem, record))


def _record_from(item: SettlementItem) -> SettlementRecord:
    values = _stored(item)
    body = values.pop("body", None) or {}
    return SettlementRecord.model_validate({**values, **body})


def _ledger_item(entry: LedgerEntry) -> LedgerItem:
    return LedgerItem(*_ledger_key(entry), **_attributes(LedgerItem, entry))


def _entry_from(item: LedgerItem) -> LedgerEntry:
    return LedgerEntry.model_validate({k: v for k, v in _stored(item).items() if v is not None})


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
        bind(SettlementItem, LedgerItem, RevenueItem, FoldedItem)
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
        """Write the record (carrying its revenue ``changes`` for the aggregates' stream consumer) and
        its ledger lines atomically.

        ``Conflict`` when the record (or a ledger line) exists already: another settle of the ticket
        wrote first; read again and decide. A transaction cancelled otherwise (throttling) is sent
        again after a jittered pause, ``Unavailable`` when it never gets through.
        """
        if 1 + len(entries) > MAX_TRANSACTION_ITEMS:
            raise ValueError(
                f"a settlement touches {1 + len(entries)} items; "
                f"one transaction holds at most {MAX_TRANSACTION_ITEMS}"
            )
        what = f"settlement {record.sequence} of ticket {record.ticket_id}"

        def write(tx: TransactWrite) -> None:
            tx.save(_record_item(record, changes), condition=SettlementItem.pk.does_not_exist())
            for entry in entries:
                tx.save(_ledger_item(entry), condition=LedgerItem.pk.does_not_exist())

        if self._send(write, what) is not None:
            raise Conflict(f"{what} was not written (it exists already); read again")

    def revenue_fold(self, image: dict[str, Any]) -> RevenueFold | None:
        """The revenue changes a stored settlement record brings (``image``: the item in DynamoDB's
        attribute-value JSON, as a stream record's ``NewImage`` holds it); ``None`` for an item that
        is no settlement record, or a record from before the aggregates were fed by the stream."""
        if not str(image.get("sk", {}).get("S", "")).startswith(SETTLEMENT_PREFIX):
            return None
        item = SettlementItem.from_raw_data(image)
        if item.revenue is None:
            return None
        return RevenueFold(
            tenant=item.tenant,
            ticket_id=item.ticket_id,
            sequence=int(item.sequence),
            changes=[RevenueChange.model_validate(c) for c in item.revenue],
        )

    def apply_revenue(self, folds: Sequence[RevenueFold]) -> int:
        """Add a batch of one tenant's records' revenue changes to the aggregates, each record once;
        the number of records taken now (the others had been taken before).

        One transaction per run that fits (``transactions``): the ``FOLDED#`` marker of every record
        (condition: it does not exist) and one ``ADD`` per aggregate the run changes, on the batch's
        shard (``batch_shard``). A marker that exists (a redelivered record; an earlier run of the
        same batch that got through) cancels the transaction: the store drops those records (the
        cancellation reasons name them) and sends the rest. Other folds on the same items cancel it
        now and then: sent again after a jittered pause, ``Unavailable`` when it never gets through
        (the stream then delivers the batch again, and the markers keep what got through from
        counting twice).
        """
        if not folds:
            return 0
        tenants = {one.tenant for one in folds}
        if len(tenants) != 1:
            raise ValueError(f"one tenant's records at a time (its scope signs the writes), not {tenants}")
        shard = batch_shard(folds)
        taken = 0
        for run in transactions(folds, MAX_TRANSACTION_ITEMS):
            taken += self._apply_run(run, shard)
        return taken

    def _apply_run(self, run: list[RevenueFold], shard: int) -> int:
        pending = list(run)
        while pending:
            deltas = fold(pending)
            if not deltas:
                return 0
            refused = self._send_fold(pending, deltas, shard)
            if not refused:
                return len(pending)
            pending = [one for n, one in enumerate(pending) if n not in refused]
        return 0

    def _send_fold(
        self, run: list[RevenueFold], deltas: dict[AggregateKey, GroupAmount], shard: int
    ) -> set[int]:
        """Send one run's transaction; the positions of the records whose marker existed (empty: it
        got through)."""
        tenant = run[0].tenant
        what = f"the revenue of {len(run)} settlement record(s) of {tenant}"

        def write(tx: TransactWrite) -> None:
            for one in run:
                marker = FoldedItem(*_folded_key(tenant, one.ticket_id, one.sequence), shard=shard)
                tx.save(marker, condition=FoldedItem.pk.does_not_exist())
            for (period, group_by, key), delta in deltas.items():
                tx.update(
                    RevenueItem(_revenue_pk(tenant, period, shard), f"{group_by}#{key}"),
                    actions=_adding(period, group_by, key, delta),
                )

        exc = self._send(write, what)
        if exc is None:
            return set()
        reasons = list(exc.cancellation_reasons or [])[: len(run)]
        folded = {n for n, r in enumerate(reasons) if r and r.code == "ConditionalCheckFailed"}
        if not folded:  # only markers carry a condition: anything else is not ours to skip
            raise Unavailable(f"{what} was not written ({_code(exc)})") from exc
        return folded

    def _send(self, write: Any, what: str) -> TransactWriteError | None:
        """Run the transaction ``write`` describes: None when it got through, else the error of the
        cancellation that was not contention (a condition refused it). Sent again while DynamoDB
        cancels it for contention; ``Unavailable`` when it never gets through."""
        last: TransactWriteError | None = None
        for attempt in range(CONTENDED_ATTEMPTS):
            if attempt:
                time.sleep(random.uniform(0, 0.02 * 2**attempt))  # jitter: the writers spread out
            try:
                with TransactWrite(connection=self._connection) as tx:
                    write(tx)
                return None
            except TransactWriteError as exc:
                refused(exc)
                if not _contended(exc):
                    return exc
                last = exc
        raise Unavailable(f"{what} was not written: its items stayed busy ({_code(last)})") from last

    def earnings(self, tenant: str, technician: str, period: str) -> list[LedgerEntry]:
        """A technician's ledger lines of a month, by completion time."""
        items = LedgerItem.query(tenant_key(tenant, "LEDGER", technician, period), consistent_read=True)
        return [_entry_from(item) for item in items]

    def staff_earnings(self, tenant: str, user: str, period: str) -> list[LedgerEntry]:
        """A user's share lines of a month (creator, channel owner...), by completion time."""
        items = LedgerItem.query(tenant_key(tenant, "STAFF", user, period), consistent_read=True)
        return [_entry_from(item) for item in items]

    def revenue(self, tenant: str, period: str, group_by: str) -> list[RevenueGroup]:
        """The month's revenue aggregates of one grouping, ordered by key: the shards summed (one
        Query per shard partition, plus the partition of aggregates from before the shards).

        Eventually consistent: what the stream consumer has folded so far."""
        partials: list[RevenueGroup] = []
        for shard in (None, *range(REVENUE_SHARDS)):
            items = RevenueItem.query(
                _revenue_pk(tenant, period, shard), RevenueItem.sk.startswith(f"{group_by}#")
            )
            partials.extend(_group_from(item, group_by) for item in items)
        return sum_groups(partials)


def _adding(period: str, group_by: str, key: str, delta: GroupAmount) -> list[Any]:
    """The update of one aggregate item: its identity, and ``ADD`` of the delta."""
    return [
        RevenueItem.group_by.set(group_by),
        RevenueItem.key.set(key),
        RevenueItem.period.set(period),
        RevenueItem.total.add(delta.total),
        RevenueItem.earnings.add(delta.earnings),
        RevenueItem.tickets.add(delta.count),
    ]
