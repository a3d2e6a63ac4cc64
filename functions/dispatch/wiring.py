"""The dispatch functions' dependencies, built once per process on first use.

Shared by the dispatch service's entry points, which Lambda runs as separate functions:
``handler.py`` (the /technicians API) and ``tasks.py`` (the dispatch node's task, which adds the
engine, the offer timer and the notifier to them).
"""

from __future__ import annotations

from functions.dispatch.ports import DispatchDeps

_deps: DispatchDeps | None = None


def deps() -> DispatchDeps:
    global _deps
    if _deps is None:
        from shared.repositories.technicians import TechnicianRepository
        from shared.repositories.tickets import TicketRepository

        tickets = TicketRepository()
        _deps = DispatchDeps(tickets=tickets, technicians=TechnicianRepository(tickets))
    return _deps
