"""Lambda entry point ``scrm-ticket-gauges``: the target of the platform's EventBridge rule
``scrm-open-tickets`` (every 5 minutes, built by the platform's observability construct), which
sends ``{}``: the ``OpenTickets`` gauges of every deployed tenant (``functions/ticket/gauges.py``:
one Query of the open-tickets index per tenant, in that tenant's scope, one EMF line per (ticket
type, node)).

``{"tenant": "<id>"}`` measures that tenant alone (ops, tests) and fails, as before, when it is
unknown. A sweep over every tenant logs and skips a tenant that fails, and stops starting tenants
when the invocation's time runs low (:data:`RESERVE_SECONDS`), saying which were left for the next run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from functions.ticket.gauges import Gauge, measure_open_tickets, rotation, sweep
from shared import metrics as catalogue
from shared.clock import now
from shared.observability import emit_metric, logger, metrics, tracer
from shared.tenant.store import deployed_tenants, tenant_config
from shared.tenant_scope import tenant_scope

if TYPE_CHECKING:
    from shared.repositories.tickets import TicketRepository

RESERVE_SECONDS = 5.0
"""A tenant is only started while more time than this is left: enough to finish the tenants under
way and emit what was measured before the function's timeout."""
WORKERS = 8
"""Tenants measured at once: a thousand tenants in a few seconds, not the 30-s timeout."""
RULE_PERIOD_SECONDS = 300
"""The platform rule's period (``GAUGE_RATE`` of ``infra/constructs/observability.py``)."""


class GaugeEvent(BaseModel):
    """The rule's constant input: ``{}`` (every deployed tenant), or one tenant."""

    tenant: str | None = None


_tickets: TicketRepository | None = None


def tickets() -> TicketRepository:
    global _tickets
    if _tickets is None:
        from shared.repositories.tickets import TicketRepository

        _tickets = TicketRepository()
    return _tickets


def _measure(tenant: str) -> list[Gauge]:
    """One tenant's gauges, read in its own scope (its data-access session)."""
    with tenant_scope(tenant):
        return measure_open_tickets(tickets(), tenant_config(tenant))


def _emit(tenant: str, measured: list[Gauge]) -> dict[str, Any]:
    for gauge in measured:
        emit_metric(
            catalogue.OPEN_TICKETS, gauge.count, tenant=tenant, ticket_type=gauge.ticket_type, node=gauge.node
        )
    return {
        "tenant": tenant,
        "open": sum(g.count for g in measured),
        "by_node": {f"{g.ticket_type}/{g.node}": g.count for g in measured},
    }


def _skipped(tenant: str, exc: Exception) -> None:
    logger.warning(
        "open tickets not measured for a tenant; the others go on",
        extra={"tenant": tenant, "error": f"{type(exc).__name__}: {exc}"},
    )


def _every_tenant(context: LambdaContext) -> dict[str, Any]:
    # the platform rule runs every 5 minutes: each run starts the sweep somewhere else
    tenants = rotation(deployed_tenants(), int(now().timestamp()) // RULE_PERIOD_SECONDS)
    tickets()  # built once, before the workers share it
    done = sweep(
        tenants,
        _measure,
        time_left=lambda: context.get_remaining_time_in_millis() / 1000,
        reserve=RESERVE_SECONDS,
        workers=WORKERS,
        failed=_skipped,
    )
    measured = {tenant: _emit(tenant, done.measured[tenant]) for tenant in sorted(done.measured)}
    if done.unreached:
        logger.warning(
            "time ran low: tenants left for the next run",
            extra={"unreached": len(done.unreached), "first": done.unreached[:10]},
        )
    logger.info(
        "open tickets measured",
        extra={"tenants": len(tenants), "measured": len(measured), "failed": len(done.failed)},
    )
    return {
        "tenants": len(tenants),
        "open": {tenant: answer["open"] for tenant, answer in measured.items()},
        "failed": done.failed,
        "unreached": done.unreached,
    }


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def gauges(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = GaugeEvent.model_validate(event)
    if request.tenant is None:
        return _every_tenant(context)
    logger.append_keys(tenant=request.tenant)
    answer = _emit(request.tenant, _measure(request.tenant))
    logger.info("open tickets measured", extra={"open": answer["open"], "gauges": len(answer["by_node"])})
    return answer
