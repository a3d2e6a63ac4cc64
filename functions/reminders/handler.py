"""Lambda entry point of the reminders service: the target of the SLA reminder schedules."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from functions.reminders.fire import FireDeps, ReminderEvent
from functions.reminders.fire import fire as fire_reminder
from shared import metrics as catalogue
from shared.observability import emit_metric, logger, metrics, tracer
from shared.settings import settings
from shared.tenant.store import tenant_config


class ReminderSettings(BaseModel):
    """What only this function reads from its environment (through ``shared.settings``)."""

    sender_email: str = "no-reply@scrm.example"

    @classmethod
    def from_settings(cls) -> ReminderSettings:
        found = settings().sender_email
        return cls() if found is None else cls(sender_email=found)


_deps: FireDeps | None = None


def deps() -> FireDeps:
    global _deps
    if _deps is None:
        from shared.adapters.notifications import AwsSender
        from shared.adapters.scheduler import sla_scheduler
        from shared.repositories.reminders import ReminderMarkers, marker_key
        from shared.repositories.tickets import TicketRepository

        env = ReminderSettings.from_settings()
        _deps = FireDeps(
            tickets=TicketRepository(),
            markers=ReminderMarkers(),
            sender=AwsSender(env.sender_email, settings().region),
            marker_key=marker_key,
            sla=sla_scheduler(),  # reschedules open timers after a calendar change
        )
    return _deps


@logger.inject_lambda_context(correlation_id_path="ticket_id", clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def fire(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = ReminderEvent.model_validate(event)
    logger.append_keys(
        tenant=request.tenant,
        ticket_id=request.ticket_id,
        node=request.node,
        visit=request.visit,
        sla_level=request.level,
    )
    cfg = tenant_config(request.tenant)
    result = fire_reminder(deps(), cfg, request)
    if result.outcome == "stale":
        logger.info("stale reminder dropped", extra={"reason": result.reason})
    elif result.outcome == "rescheduled":
        logger.info("reminder rescheduled after a calendar change", extra={"reason": result.reason})
    else:
        logger.info("reminder sent", extra={"sent": len(result.sent), "skipped": result.skipped})
    dims = {"tenant": request.tenant, "node": request.node, "level": request.level}
    if result.sent:
        emit_metric(catalogue.SLA_REMINDERS_SENT, len(result.sent), **dims)
    if result.breached:
        emit_metric(catalogue.SLA_BREACHES, 1, **dims)
    return result.answer()
