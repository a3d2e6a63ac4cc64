"""Settlements, the installers' earnings ledger and the revenue aggregates, as the domain sees them
(stored shape: ``shared/repositories/ledger.py``).

A settlement record is immutable. A rework is a new record (``sequence`` > 1); the ledger and the
revenue aggregates receive its differences to the previous record (``ledger_entries``,
``revenue_changes``), so Σ ledger == the latest earnings and Σ revenue == the latest total.

The revenue aggregates are not written with the record: the record carries its changes, and a
stream consumer folds a batch of records into the aggregates, each record once (``RevenueFold``,
``fold``, ``transactions``). Many settlements of one big tenant would otherwise meet on the same
few aggregate items in one transaction each. Each aggregate is spread over :data:`REVENUE_SHARDS`
items; a batch writes one shard (``batch_shard``), each aggregate it changes once; a report sums
the shards.

Money is ``Decimal`` (decimal strings inside ``settlement``), never float.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.shares import INSTALLER, Part

GroupBy = Literal["tier", "region", "tier_region", "item", "ticket_type", "channel"]
"""``tier_region``: the key ``<tier>|<region>`` (the finance heat map's cells)."""
REVENUE_SHARDS = 8
"""Items each revenue aggregate is spread over. Folded per record, 50 settlements/s of one tenant with
~8 aggregate changes each would put ~50 writes/s on an item and ~800 WRU/s (in transactions) on one
partition; batches cut that, and 8 shards keep concurrent consumers apart and every shard's partition
far under a partition's 1,000 WCU/s. A report reads 8 small partitions (one Query each)."""


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

    def __add__(self, other: GroupAmount) -> GroupAmount:
        return GroupAmount(
            total=self.total + other.total,
            earnings=self.earnings + other.earnings,
            count=self.count + other.count,
        )

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
    parties: list[Part] = []
    """Who is paid what (``shared.domain.shares.split``); empty on records from before shares: the
    installer alone, their earnings."""

    @property
    def parts(self) -> list[Part]:
        """The parts paid, one ledger line each (records from before shares: the installer's)."""
        priced = Decimal(str(self.settlement["installer_earnings"]))
        return self.parties or [Part(party=INSTALLER, recipient=self.technician, amount=priced)]

    @property
    def earnings(self) -> Decimal:
        """What the installer is paid: as priced, less the shares taken out of it (all regions)."""
        return sum((p.amount for p in self.parts if p.party == INSTALLER), Decimal(0))

    @property
    def total(self) -> Decimal:
        return Decimal(str(self.settlement["total"]))


class LedgerEntry(_Frozen):
    """One line of an earnings statement (a settlement or an adjustment): a technician's, or a
    user's share (``party`` other than ``installer``)."""

    tenant: str
    technician: str
    """Who is paid: the technician, or for another party the user."""
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
    party: str = INSTALLER
    """``installer`` or the party kind of ``catalog.shares`` (``creator``, ``channel_owner``)."""
    region: str | None = None
    """An installer's part of a job split over regions: the region."""

    @property
    def staff(self) -> bool:
        """A user's line (a party other than the installer): on the staff statement."""
        return self.party != INSTALLER


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
    """The ledger lines of a record, one per part paid (``record.parts``): its amount, or on a
    rework the difference to the previous record's part of the same party, recipient and region.
    A part the rework no longer pays (another technician, a rule that no longer holds) is given back
    first, so Σ of each recipient's lines == what the latest record pays them."""

    def entry(part: Part, amount: Decimal, total: Decimal) -> LedgerEntry:
        return LedgerEntry(
            tenant=record.tenant,
            technician=part.recipient,
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
            party=part.party,
            region=part.region,
        )

    if previous is None:
        return [entry(part, part.amount, record.total) for part in _by_key(record.parts).values()]
    before = _by_key(previous.parts)
    after = _by_key(record.parts)
    gone = [entry(part, -part.amount, -previous.total) for key, part in before.items() if key not in after]
    kept = [
        entry(part, part.amount - before[key].amount, record.total - previous.total)
        if key in before
        else entry(part, part.amount, record.total)
        for key, part in after.items()
    ]
    return [*gone, *kept]


def _by_key(parts: Iterable[Part]) -> dict[tuple[str, str, str | None], Part]:
    """One part per ledger line: two rules of one party that both hold for the same recipient (two
    ``creator`` shares) are one line of their sum, in the order first seen."""
    out: dict[tuple[str, str, str | None], Part] = {}
    for part in parts:
        same = out.get(part.key)
        out[part.key] = (
            part if same is None else same.model_copy(update={"amount": same.amount + part.amount})
        )
    return out


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


class RevenueFold(_Frozen):
    """What one settlement record gives the revenue aggregates, as the stream consumer reads it.

    ``ticket_id`` + ``sequence`` name the record uniquely: the aggregates take it once
    (the store keeps a marker of each fold in the same transaction)."""

    tenant: str
    ticket_id: str
    sequence: int
    changes: list[RevenueChange]


def shard_of(ticket_id: str, sequence: int, shards: int = REVENUE_SHARDS) -> int:
    """An aggregate shard picked by a record: a stable hash (not Python's ``hash``, which is salted per
    process), so records spread evenly over the shards."""
    digest = hashlib.sha256(f"{ticket_id}#{sequence}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % shards


def batch_shard(folds: Sequence[RevenueFold]) -> int:
    """The shard a batch's changes go to: all of one batch to one shard, so each aggregate the batch
    changes is written once (its records' changes summed); batches, picked by their first record,
    spread over the shards, so concurrent consumers seldom meet on an item."""
    first = folds[0]
    return shard_of(first.ticket_id, first.sequence)


AggregateKey = tuple[str, str, str]
"""(period, group_by, key): one aggregate (stored as one item per shard)."""


def fold(folds: Iterable[RevenueFold]) -> dict[AggregateKey, GroupAmount]:
    """The deltas each aggregate receives from ``folds``: their changes summed per aggregate, in the
    order first seen (a change of zero is dropped: it would write for nothing)."""
    out: dict[AggregateKey, GroupAmount] = {}
    for one in folds:
        for change in one.changes:
            key = (change.period, change.group_by, change.key)
            out[key] = out.get(key, GroupAmount()) + change.change
    return {k: v for k, v in out.items() if v != GroupAmount()}


def transactions(folds: Sequence[RevenueFold], max_items: int) -> list[list[RevenueFold]]:
    """The folds cut into runs that fit one transaction each: a marker per record plus one update
    per distinct aggregate of the run, at most ``max_items`` items."""
    runs: list[list[RevenueFold]] = []
    run: list[RevenueFold] = []
    for one in folds:
        if len(fold([one])) + 1 > max_items:
            raise ValueError(
                f"settlement {one.sequence} of ticket {one.ticket_id} changes too many aggregates"
            )
        if run and len(run) + 1 + len(fold([*run, one])) > max_items:
            runs.append(run)
            run = []
        run.append(one)
    return [*runs, run] if run else runs


def sum_groups(groups: Iterable[RevenueGroup]) -> list[RevenueGroup]:
    """One group per key from its shards' partial groups, ordered by key (a report's view)."""
    by_key: dict[tuple[str, str], GroupAmount] = {}
    for g in groups:
        k = (g.group_by, g.key)
        part = GroupAmount(total=g.total, earnings=g.earnings, count=g.count)
        by_key[k] = by_key.get(k, GroupAmount()) + part
    return [
        RevenueGroup(group_by=group_by, key=key, total=a.total, earnings=a.earnings, count=a.count)
        for (group_by, key), a in sorted(by_key.items())
    ]
