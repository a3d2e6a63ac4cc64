"""Lambda entry points of the dispatch service: the /technicians API and the dispatch node's task."""

from __future__ import annotations

import os
import time
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from functions.dispatch import service
from functions.dispatch.notify import Notifier
from functions.dispatch.schemas import TechnicianOut, TechnicianPage, TechnicianUpdate, technician_out
from shared import metrics as catalogue
from shared.clock import now
from shared.errors import Forbidden
from shared.http import current_caller, install_error_handlers
from shared.identity import Caller
from shared.observability import emit_metric, logger, metrics, tracer
from shared.repositories.technicians import TechnicianRepository
from shared.repositories.tickets import TicketRepository
from shared.settings import settings
from shared.tenant.models import TenantConfig
from shared.tenant.store import tenant_config
from shared.workflow.task_errors import LoopLimitError, NoCandidateError

app = APIGatewayHttpResolver(enable_validation=True)
install_error_handlers(app)

_deps: service.DispatchDeps | None = None


def deps() -> service.DispatchDeps:
    global _deps
    if _deps is None:
        tickets = TicketRepository()
        _deps = service.DispatchDeps(tickets=tickets, technicians=TechnicianRepository(tickets))
    return _deps


def task_deps() -> service.DispatchDeps:
    """The task also needs the offer timer (when the function has a scheduler) and the engine."""
    built = deps()
    if built.engine is None:
        from shared.adapters.scheduler import OneTimeScheduler
        from shared.adapters.stepfunctions import StepFunctionsEngine

        built.engine = StepFunctionsEngine()
        built.offers = OneTimeScheduler() if dispatch_settings().offer_timeouts else None
        built.notifier = _notifier()
    return built


def _notifier() -> Notifier:
    """SMS/email to dispatchers when nobody fits: the reminders' channels and sent-markers.

    Email needs ``SENDER_EMAIL`` (a verified SES identity) in the function's environment;
    without it only SMS is sent.
    """
    from functions.reminders.channels import AwsSender
    from shared.repositories.reminders import ReminderMarkers, marker_key

    sender_email = os.environ.get("SENDER_EMAIL", "").strip()
    return Notifier(
        sender=AwsSender(sender_email or "unset@invalid", settings().region),
        markers=ReminderMarkers(),
        marker_key=marker_key,
        email_enabled=bool(sender_email),
    )


class DispatchSettings(BaseModel):
    """Environment of the dispatch functions beyond ``shared.settings``.

    Offers expire (``dispatch.offer_timeout``) whenever the function has a scheduler: ``SCHEDULER_GROUP``
    and ``SCHEDULER_ROLE_ARN`` (a role EventBridge Scheduler assumes to invoke this function), as the
    stack sets for ``scrm-dispatch-assign``. ``DISPATCH_OFFER_TIMEOUTS=false`` turns expiry off.
    """

    offer_timeouts: bool = True


@lru_cache(maxsize=1)
def dispatch_settings() -> DispatchSettings:
    flag = os.environ.get("DISPATCH_OFFER_TIMEOUTS", "true").strip().lower()
    has_scheduler = bool(os.environ.get("SCHEDULER_GROUP") and os.environ.get("SCHEDULER_ROLE_ARN"))
    return DispatchSettings(offer_timeouts=has_scheduler and flag not in ("0", "false", "no", "off"))


def _registry_caller() -> tuple[Caller, TenantConfig]:
    caller = current_caller(app)
    if not caller.has_any(*service.REGISTRY_ROLES):
        raise Forbidden("the technician registry needs the role dispatcher or admin")
    cfg = tenant_config(caller.tenant)
    deps().technicians.ensure_seeded(cfg.tenant.id, list(cfg.technicians))
    return caller, cfg


@app.get("/technicians")
def list_technicians() -> TechnicianPage:
    _caller, cfg = _registry_caller()
    at = now()
    return TechnicianPage(items=[technician_out(r, at) for r in deps().technicians.roster(cfg.tenant.id)])


@app.put("/technicians/<technician_id>")
def update_technician(technician_id: str, body: TechnicianUpdate) -> TechnicianOut:
    caller, cfg = _registry_caller()
    changes = body.changes()
    service.check_changes(cfg, changes)
    record = deps().technicians.update(cfg.tenant.id, technician_id, changes, actor=caller.sub)
    return technician_out(record, now())


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@metrics.log_metrics
@tracer.capture_lambda_handler
def api(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def assign(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Task of a ``dispatch`` node (``{"tenant","ticket_id","node","kind","execution"}``).

    Also the offer timer's target: ``{"op": "offer_expired", "tenant", "ticket_id", "node",
    "technician", "attempt"}``.
    """
    cfg = tenant_config(event["tenant"])
    logger.append_keys(ticket_id=event["ticket_id"], node=event.get("node"))
    tenant, node = cfg.tenant.id, str(event.get("node"))
    if event.get("op") == "offer_expired":
        expired = service.offer_expired(task_deps(), cfg, event)
        logger.info("offer expired", extra=expired)
        if expired.get("declined"):
            emit_metric(catalogue.DISPATCH_OUTCOME, 1, tenant=tenant, node=node, outcome="offer_expired")
        return expired
    started = time.perf_counter()
    try:
        target = getattr(context, "invoked_function_arn", None)
        answer = service.assign(task_deps(), cfg, event["ticket_id"], event["node"], offer_target=target)
    except service.LoopLimit as exc:
        emit_metric(catalogue.TICKETS_FAILED, 1, tenant=tenant, node=node)
        raise LoopLimitError(str(exc)) from None
    except service.NoCandidate as exc:
        emit_metric(catalogue.DISPATCH_OUTCOME, 1, tenant=tenant, node=node, outcome="no_candidate")
        emit_metric(catalogue.TICKETS_FAILED, 1, tenant=tenant, node=node)
        raise NoCandidateError(str(exc)) from None
    outcome = "assigned" if answer.get("outcome") == "done" else "no_candidate"
    emit_metric(catalogue.DISPATCH_OUTCOME, 1, tenant=tenant, node=node, outcome=outcome)
    emit_metric(catalogue.DISPATCH_LATENCY, (time.perf_counter() - started) * 1000, tenant=tenant, node=node)
    logger.info(
        "dispatched", extra={"outcome": answer.get("outcome"), "technician": answer.get("technician")}
    )
    return answer
