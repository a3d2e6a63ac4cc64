"""What the dispatch service works on: the ticket store, the technician registry and, for the
dispatch task, the offer timer, the workflow engine and the notifier.

Apart from ``service.py`` so that the /technicians API (``handler.py``, ``wiring.py``) can build its
dependencies without importing the dispatch task's scoring and notification code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from functions.dispatch.notify import Notifier
    from shared.domain.ticket import Ticket, TicketEvent
    from shared.ports import WorkflowEngine
    from shared.repositories.technicians import TechnicianRecord
    from shared.tenant.models import Technician


class TicketStore(Protocol):
    def get(self, tenant: str, ticket_id: str) -> Ticket: ...
    def history(self, tenant: str, ticket_id: str) -> list[TicketEvent]: ...
    def save(
        self,
        ticket: Ticket,
        *,
        expected_version: int,
        event: TicketEvent | None = ...,
        condition: Any = ...,
        conflict_message: str = ...,
    ) -> None: ...


class Registry(Protocol):
    def ensure_seeded(self, tenant: str, technicians: list[Technician]) -> None: ...
    def roster(self, tenant: str) -> list[TechnicianRecord]: ...
    def get(self, tenant: str, technician_id: str) -> TechnicianRecord: ...
    def assign(
        self, technician: TechnicianRecord, ticket: Ticket, *, expected_version: int, event: TicketEvent
    ) -> None: ...
    def release(self, tenant: str, technician_id: str, ticket_id: str) -> None: ...
    def update(
        self, tenant: str, technician_id: str, changes: dict[str, Any], *, actor: str
    ) -> TechnicianRecord: ...


class OfferTimer(Protocol):
    """One-time schedules (``shared.adapters.scheduler.OneTimeScheduler``)."""

    def at(self, name: str, when: datetime, target_arn: str, payload: dict[str, Any]) -> None: ...


@dataclass
class DispatchDeps:
    tickets: TicketStore
    technicians: Registry
    offers: OfferTimer | None = None
    """``None``: offers do not expire (no scheduler configured for the function)."""
    engine: WorkflowEngine | None = None
    """Needed only to decline an expired offer on the technician's behalf."""
    notifier: Notifier | None = None
    """``None``: nobody is told when dispatch finds no technician (the ticket still says so)."""
