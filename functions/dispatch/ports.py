"""What the dispatch use cases work with: ports only (``shared/ports.py``; ``wiring.py`` plugs in the
repositories and adapters, tests pass fakes).

Apart from ``service.py`` so that the /technicians API (``handler.py``, ``wiring.py``) can build its
dependencies without importing the dispatch task's scoring and notification code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.notices import Notifier
    from shared.ports import OfferTimer, TechnicianStore, TicketStore, WorkflowEngine


@dataclass
class DispatchDeps:
    tickets: TicketStore
    technicians: TechnicianStore
    offers: OfferTimer | None = None
    """``None``: offers do not expire (no scheduler configured for the function)."""
    engine: WorkflowEngine | None = None
    """Needed only to decline an expired offer on the technician's behalf."""
    notifier: Notifier | None = None
    """``None``: nobody is told when dispatch finds no technician (the ticket still says so)."""
