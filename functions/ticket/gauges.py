"""The ``OpenTickets`` gauge: how many open tickets wait at each node of each ticket type of a tenant,
and the sweep that measures it for every deployed tenant (:func:`sweep`).

Pure logic. The positions (ticket type, node) of the open tickets come from
``TicketRepository.open_positions`` (one Query of the sparse open-tickets index, never a Scan), the
nodes from the tenant's configuration:

- every node where a ticket can wait (any kind but ``end``) of every current ticket type gets a
  value, 0 included, so a chart's line drops to 0 when a node empties instead of stopping;
- a position outside the current workflows (a ticket pinned to an older workflow version whose
  node was since renamed or removed) is counted as it is, never dropped.
"""

from __future__ import annotations

import contextvars
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from shared.tenant.models import TenantConfig, TicketType


@dataclass(frozen=True)
class Gauge:
    ticket_type: str
    node: str
    count: int


class OpenPositions(Protocol):
    def open_positions(self, tenant: str) -> Iterable[tuple[str, str]]: ...


def open_tickets_by_node(
    ticket_types: Mapping[str, TicketType], positions: Iterable[tuple[str, str]]
) -> list[Gauge]:
    """One gauge per (ticket type, node): the open tickets there, sorted by type then node."""
    counts: Counter[tuple[str, str]] = Counter(positions)
    for type_id, ticket_type in ticket_types.items():
        for name, node in ticket_type.nodes.items():
            if node.kind != "end":
                counts.setdefault((type_id, name), 0)
    return [Gauge(type_id, node, count) for (type_id, node), count in sorted(counts.items())]


def measure_open_tickets(tickets: OpenPositions, cfg: TenantConfig) -> list[Gauge]:
    """The tenant's gauges now (its open tickets, read once)."""
    return open_tickets_by_node(cfg.ticket_types, tickets.open_positions(cfg.tenant.id))


@dataclass
class Sweep:
    """What one run of the gauges over the deployed tenants did."""

    measured: dict[str, list[Gauge]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # tenant -> why it was skipped
    unreached: list[str] = field(default_factory=list)  # not started: the invocation's time ran low


ROTATION_STEP = 7919
"""A prime: consecutive runs start the sweep ``ROTATION_STEP`` tenants further on (mod the count),
so every start position comes up (for fewer than 7,919 tenants, every count is coprime to it)."""


def rotation(tenants: Sequence[str], run: int) -> list[str]:
    """The tenants in the order run number ``run`` sweeps them: a start that moves with each run.

    A sweep short of time leaves its last tenants ``unreached``; starting every run at the same
    tenant would leave the same ones unmeasured for ever, so the start moves on each run and a
    tenant the previous run did not reach is early in a later one.
    """
    if not tenants:
        return []
    start = (run * ROTATION_STEP) % len(tenants)
    return [*tenants[start:], *tenants[:start]]


def sweep(
    tenants: Sequence[str],
    measure: Callable[[str], list[Gauge]],
    *,
    time_left: Callable[[], float],
    reserve: float,
    workers: int,
    failed: Callable[[str, Exception], None],
) -> Sweep:
    """Measure every tenant, each on its own, ``workers`` at a time.

    One platform rule measures every tenant (a rule per tenant breaks the account's quotas), so one
    tenant must never cost the others their gauges: a tenant whose configuration or query fails is
    reported to ``failed`` and skipped. A tenant is only started while more than ``reserve`` seconds
    of the invocation are left (``time_left``); the others are ``unreached`` and measured by the next
    run, rather than the invocation timing out with nothing emitted. Tenants run in parallel because
    a thousand sequential reads would not fit a task function's timeout. Each runs in a copy of the
    caller's context: the invocation's settings, and a tenant scope that stays in that copy.
    """
    result = Sweep()
    lock = threading.Lock()

    def one(tenant: str) -> None:
        if time_left() <= reserve:
            with lock:
                result.unreached.append(tenant)
            return
        try:
            gauges = measure(tenant)
        except Exception as exc:  # any failure of one tenant: reported, the others go on
            failed(tenant, exc)
            with lock:
                result.failed[tenant] = f"{type(exc).__name__}: {exc}"
            return
        with lock:
            result.measured[tenant] = gauges

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="gauges") as pool:
        for done in [pool.submit(contextvars.copy_context().run, one, tenant) for tenant in tenants]:
            done.result()
    result.unreached.sort()
    return result
