"""What the ticket use cases work with: ports only (``wiring.py`` plugs in the adapters; tests pass
fakes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.ports import NoSla

if TYPE_CHECKING:
    from shared.follow_ups import FollowUpTimers
    from shared.ports import (
        CatalogStore,
        CustomerStore,
        OpportunityStore,
        SlaScheduler,
        TicketStore,
        Timers,
        WorkflowEngine,
        Workload,
    )


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
    follow_ups: FollowUpTimers | None = None
    """Schedules the follow-ups (回访) of the tenant file when their event happens (``shared.follow_ups``)."""
    customers: CustomerStore | None = None
    """Customers resolved at ticket creation (None: tickets are not linked to customers)."""
    opportunities: OpportunityStore | None = None
    """Opportunities opened by the tenant's ``opportunity_rules`` (None: no rule is applied)."""
