"""Revenue aggregates from the table's stream: each new settlement record's changes, taken once.

The settlement transaction writes only the ticket's own items (record, ledger lines); what the
revenue reports need is folded here afterwards, a batch at a time, so one big tenant's settlements
do not meet on the same aggregate items and each aggregate a batch changes is written once
(``shared/domain/ledger.py``: shards, ``fold``). Pure use-case code on the ledger port: the entry
point (``aggregates_handler.py``) hands over the stream records' images and enters each tenant's
scope; the store makes the fold exactly-once (a marker per record in the same transaction), so a
stream batch delivered again changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.domain.ledger import RevenueFold

if TYPE_CHECKING:
    from shared.ports import LedgerStore


@dataclass(frozen=True)
class Taken:
    tenant: str
    records: int
    """Settlement records of the tenant in the batch."""
    applied: int
    """Those the aggregates took now (the rest were taken before: a redelivered batch)."""


def revenue_of(ledger: LedgerStore, image: dict[str, Any]) -> RevenueFold | None:
    """What a stream record's new image brings the aggregates (``None``: nothing, e.g. an item the
    event source's filter let through that is no settlement record)."""
    return ledger.revenue_fold(image)


def by_tenant(folds: Iterable[RevenueFold]) -> dict[str, list[RevenueFold]]:
    """A batch's records per tenant, in stream order: each tenant's are written in its own scope."""
    out: dict[str, list[RevenueFold]] = {}
    for one in folds:
        out.setdefault(one.tenant, []).append(one)
    return out


def take(ledger: LedgerStore, folds: list[RevenueFold], enter: Callable[[str], Any]) -> list[Taken]:
    """Add the batch's revenue changes to the aggregates, each record exactly once, one tenant at a
    time (``enter(tenant)``: the entry point's way into that tenant's data scope)."""
    taken = []
    for tenant, mine in by_tenant(f for f in folds if f.changes).items():
        enter(tenant)
        taken.append(Taken(tenant, len(mine), ledger.apply_revenue(mine)))
    return taken
