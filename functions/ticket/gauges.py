"""The ``OpenTickets`` gauge: how many open tickets wait at each node of each ticket type of a tenant.

Pure logic. The positions (ticket type, node) of the open tickets come from
``TicketRepository.open_positions`` (one Query of the sparse open-tickets index, never a Scan), the
nodes from the tenant's configuration:

- every node where a ticket can wait (any kind but ``end``) of every current ticket type gets a
  value, 0 included, so a chart's line drops to 0 when a node empties instead of stopping;
- a position outside the current workflows (a ticket pinned to an older workflow version whose
  node was since renamed or removed) is counted as it is, never dropped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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
