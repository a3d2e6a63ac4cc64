"""Lambda entry point ``scrm-ticket-gauges``: the target of each tenant's EventBridge rule
``scrm-<tenant>-open-tickets`` (every 5 minutes, built by the tenant stack's observability
construct), which sends ``{"tenant": "<tenant id>"}``.

It emits the ``OpenTickets`` gauge of that tenant (``functions/ticket/gauges.py``): one Query of
the open-tickets index, one EMF line per (ticket type, node).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from functions.ticket.gauges import measure_open_tickets
from shared import metrics as catalogue
from shared.observability import emit_metric, logger, metrics, tracer
from shared.tenant.store import tenant_config

if TYPE_CHECKING:
    from shared.repositories.tickets import TicketRepository


class GaugeEvent(BaseModel):
    """The rule's constant input."""

    tenant: str


_tickets: TicketRepository | None = None


def tickets() -> TicketRepository:
    global _tickets
    if _tickets is None:
        from shared.repositories.tickets import TicketRepository

        _tickets = TicketRepository()
    return _tickets


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def gauges(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = GaugeEvent.model_validate(event)
    logger.append_keys(tenant=request.tenant)
    cfg = tenant_config(request.tenant)
    measured = measure_open_tickets(tickets(), cfg)
    for gauge in measured:
        emit_metric(
            catalogue.OPEN_TICKETS,
            gauge.count,
            tenant=request.tenant,
            ticket_type=gauge.ticket_type,
            node=gauge.node,
        )
    total = sum(g.count for g in measured)
    logger.info("open tickets measured", extra={"open": total, "gauges": len(measured)})
    return {
        "tenant": request.tenant,
        "open": total,
        "by_node": {f"{g.ticket_type}/{g.node}": g.count for g in measured},
    }
