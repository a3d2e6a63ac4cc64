"""What the ticket use cases work with: ports only (``wiring.py`` plugs in the adapters; tests pass
fakes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.ports import NoSla

if TYPE_CHECKING:
    from shared.ports import CatalogStore, SlaScheduler, TicketStore, Timers, WorkflowEngine, Workload


@dataclass
class Deps:
    tickets: TicketStore
    engine: WorkflowEngine
    sla: SlaScheduler = field(default_factory=NoSla)
    workload: Workload | None = None
    catalogs: CatalogStore | None = None
    offers: Timers | None = None
    """The dispatch offers' timers: cancelled once the technician takes or leaves the offered node."""
    notifier: Any = None
    """Tells the tenant's dispatchers about a failed ticket (``shared.notices.Notifier``)."""
