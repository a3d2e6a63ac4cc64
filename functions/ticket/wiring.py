"""The ticket functions' dependencies, built once per process on first use.

Shared by the ticket service's entry points, which Lambda runs as separate functions: ``handler.py``
(the /tickets API) and ``tasks.py`` (the workflow's park and step tasks, the intake queue consumer).
The AWS adapters are imported when the dependencies are first built, not when a handler module is
imported, so a function's cold start loads only the handler it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from functions.ticket import service

if TYPE_CHECKING:
    from shared.repositories.customers import CustomerRepository
    from shared.repositories.opportunities import OpportunityRepository
    from shared.repositories.tickets import TicketRepository

_deps: service.Deps | None = None
_tickets: TicketRepository | None = None
_customers: CustomerRepository | None = None
_opportunities: OpportunityRepository | None = None


def ticket_repository() -> TicketRepository:
    global _tickets
    if _tickets is None:
        from shared.repositories.tickets import TicketRepository

        _tickets = TicketRepository()
    return _tickets


def customer_repository() -> CustomerRepository:
    global _customers
    if _customers is None:
        from shared.repositories.customers import CustomerRepository

        _customers = CustomerRepository()
    return _customers


def opportunity_repository() -> OpportunityRepository:
    global _opportunities
    if _opportunities is None:
        from shared.repositories.opportunities import OpportunityRepository

        _opportunities = OpportunityRepository()
    return _opportunities


def deps() -> service.Deps:
    global _deps
    if _deps is None:
        from shared.adapters.scheduler import follow_up_timers, sla_scheduler
        from shared.adapters.stepfunctions import StepFunctionsEngine
        from shared.repositories.catalogs import CatalogRepository
        from shared.repositories.technicians import TechnicianRepository

        sla = sla_scheduler()
        _deps = service.Deps(
            tickets=ticket_repository(),
            engine=StepFunctionsEngine(),
            catalogs=CatalogRepository(),
            workload=TechnicianRepository(ticket_repository()),
            sla=sla,
            offers=sla.schedules,  # the same schedule group: dispatch offers' timers live there too
            follow_ups=follow_up_timers(sla.schedules),
            notifier=_notifier(),
            customers=customer_repository(),
            opportunities=opportunity_repository(),
        )
    return _deps


def _notifier() -> Any:
    """SMS/email/WeCom to the tenant's dispatchers about a failed ticket (as dispatch's notices)."""
    from shared.adapters.notifications import aws_notifier

    return aws_notifier()
