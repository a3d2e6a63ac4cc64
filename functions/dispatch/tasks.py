"""Lambda entry point of the dispatch node's task, apart from the /technicians API (``handler.py``).

It never loads the HTTP resolver, its request validation or the API schemas, so its cold start
stays small.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from functions.dispatch import service
from functions.dispatch.notify import Notifier
from functions.dispatch.ports import DispatchDeps
from functions.dispatch.wiring import deps
from shared import metrics as catalogue
from shared.observability import emit_metric, logger, tracer
from shared.settings import settings
from shared.tenant.store import tenant_config
from shared.workflow.task_errors import LoopLimitError, NoCandidateError


def task_deps() -> DispatchDeps:
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
    """SMS/email to dispatchers when nobody fits (``functions.reminders.channels.aws_notifier``)."""
    from functions.reminders.channels import aws_notifier

    return aws_notifier()


class DispatchSettings(BaseModel):
    """What the dispatch task derives from its environment (read through ``shared.settings``).

    Offers expire (``dispatch.offer_timeout``) whenever the function has a scheduler: ``SCHEDULER_GROUP``
    and ``SCHEDULER_ROLE_ARN`` (a role EventBridge Scheduler assumes to invoke this function), as the
    stack sets for ``scrm-dispatch-assign``. ``DISPATCH_OFFER_TIMEOUTS=false`` turns expiry off.
    """

    offer_timeouts: bool = True


def dispatch_settings() -> DispatchSettings:
    cfg = settings()
    flag = cfg.dispatch_offer_timeouts.strip().lower()
    # set in the function's environment: the group's default name does not make a scheduler
    configured = cfg.model_fields_set
    has_scheduler = bool(
        ("scheduler_group" in configured and cfg.scheduler_group)
        and ("scheduler_role_arn" in configured and cfg.scheduler_role_arn)
    )
    return DispatchSettings(offer_timeouts=has_scheduler and flag not in ("0", "false", "no", "off"))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def assign(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Task of a ``dispatch`` node (``{"tenant","ticket_id","node","kind","execution"}``).

    Also the offer timer's target: ``{"op": "offer_expired", "tenant", "ticket_id", "node",
    "technician", "attempt"}``, and the deploy-time seeding of the technician registry:
    ``{"op": "seed_technicians", "tenant", "roster"}`` (``infra/constructs/technicians.py``).
    """
    if event.get("op") == "seed_technicians":
        return seed_technicians(event)
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


def seed_technicians(event: dict[str, Any]) -> dict[str, Any]:
    """Copy the deployed tenant file's technicians into the registry (never over a changed record).

    ``roster`` is the digest the deploy computed: a different one means the configuration read is not
    the one just deployed, and the call fails rather than seed an old roster. The custom resource does
    not fail the deploy on a function error (the SDK call itself succeeds); the failure shows as a
    function error (its alarm) and the functions still seed the current roster on first use.
    """
    from shared.repositories.technicians import roster_digest

    cfg = tenant_config(str(event["tenant"]), fresh=True)
    roster = roster_digest(list(cfg.technicians))
    expected = event.get("roster")
    if expected and expected != roster:
        raise RuntimeError(
            f"tenant {cfg.tenant.id}: configuration has roster {roster}, the deploy expects {expected}"
        )
    deps().technicians.ensure_seeded(cfg.tenant.id, list(cfg.technicians))
    logger.info("technicians seeded", extra={"tenant": cfg.tenant.id, "technicians": len(cfg.technicians)})
    return {"seeded": len(cfg.technicians), "roster": roster}
