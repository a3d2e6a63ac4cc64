"""Lambda entry points of the dispatch jobs, apart from the /technicians API (``handler.py``).

One platform function per job (``infra/constructs/catalogue.py``):

- :func:`assign` (``scrm-dispatch-assign``): the ``dispatch`` node's Task; an offer it makes gets a
  timer, a one-time schedule that calls ``scrm-dispatch-offer-expired``. A node with an
  ``on_no_candidate`` route is a ``waitForTaskToken`` Task (``shared.workflow.compiler``): the
  function answers it with SendTaskSuccess (assigned) or SendTaskFailure(``Scrm.Route.no_candidate``),
  so a routed no-candidate dispatch is neither a Choice state nor a Lambda error; a node with one way
  out is a plain Task and gets the answer as the function's result, as do versions compiled before;
- :func:`offer_expired` (``scrm-dispatch-offer-expired``): the offer timers' target;
- :func:`seed` (``scrm-dispatch-seed``): deploy-time seeding of the technician registry (the tenant
  stack's custom resource, ``infra/constructs/technicians.py``).

None of them loads the HTTP resolver, its request validation or the API schemas, so their cold
starts stay small.
"""

from __future__ import annotations

import time
from dataclasses import replace
from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from functions.dispatch import service
from functions.dispatch.ports import DispatchDeps
from functions.dispatch.wiring import deps
from shared import metrics as catalogue
from shared.observability import emit_metric, logger, tracer
from shared.ports import TaskTokenGone
from shared.settings import settings
from shared.tenant.store import tenant_config
from shared.workflow.resume import answer_task, hand_over
from shared.workflow.routing import resume_target
from shared.workflow.task_errors import LoopLimitError, NoCandidateError, check_resume

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from shared.adapters.scheduler import OneTimeScheduler
    from shared.adapters.stepfunctions import StepFunctionsEngine
    from shared.notices import Notifier
    from shared.tenant.models import TenantConfig

OFFER_EXPIRED_FUNCTION = "scrm-dispatch-offer-expired"
"""The offer timers' target: its ARN is the invoked function's with this name (:func:`offer_target`)."""


class DispatchSettings(BaseModel):
    """What the dispatch task derives from its environment (read through ``shared.settings``).

    Offers expire (``dispatch.offer_timeout``) whenever the function has a scheduler: ``SCHEDULER_GROUP``
    and ``SCHEDULER_ROLE_ARN`` (a role EventBridge Scheduler assumes to invoke the timers' target), as
    the stack sets for ``scrm-dispatch-assign``. ``DISPATCH_OFFER_TIMEOUTS=false`` turns expiry off.
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


# ------------------------------------------------------------------ dependencies, per job
# Each job adds what it uses to the shared repositories (``wiring.deps()``), per invocation, without
# changing them: the local twin runs every function in one process, each with its own environment.


@cache
def _engine() -> StepFunctionsEngine:
    from shared.adapters.stepfunctions import StepFunctionsEngine

    return StepFunctionsEngine()


@cache
def _offer_timer() -> OneTimeScheduler:
    from shared.adapters.scheduler import OneTimeScheduler

    return OneTimeScheduler()


@cache
def _notifier() -> Notifier:
    """SMS/email/WeCom to dispatchers when nobody fits (``shared.adapters.notifications.aws_notifier``)."""
    from shared.adapters.notifications import aws_notifier

    return aws_notifier()


def assign_deps() -> DispatchDeps:
    """Tickets and registry, the offer timer (when the function has a scheduler) and the notifier."""
    offers = _offer_timer() if dispatch_settings().offer_timeouts else None
    return replace(deps(), offers=offers, notifier=_notifier())


def offer_deps() -> DispatchDeps:
    """Tickets and registry, and the engine that resumes the workflow with the technician's decline."""
    return replace(deps(), engine=_engine())


def offer_target(context: Any) -> str | None:
    """The ARN the offer timers call: the invoked function's (``scrm-dispatch-assign``), named
    ``scrm-dispatch-offer-expired`` (same partition, region and account; no qualifier). ``None``
    without an invoked function ARN: then the offer does not expire."""
    invoked = str(getattr(context, "invoked_function_arn", None) or "")
    account, marker, _name = invoked.partition(":function:")
    return f"{account}{marker}{OFFER_EXPIRED_FUNCTION}" if marker else None


# ------------------------------------------------------------------ handlers


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def assign(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Task of a ``dispatch`` node (``{"tenant","ticket_id","node","kind","execution"}``, and
    ``token``, ``success`` when the Task waits for the answer; ``type``, ``resume_at`` at the start).

    An offer timer created before ``scrm-dispatch-offer-expired`` existed still calls this function
    (``{"op": "offer_expired", ...}``): it is handled as that function would.
    """
    if event.get("op") == "offer_expired":
        return _expire_offer(event)
    cfg = tenant_config(event["tenant"])
    logger.append_keys(ticket_id=event["ticket_id"], node=event.get("node"))
    tenant, node = cfg.tenant.id, str(event.get("node"))
    token = event.get("token")
    if token is None:
        check_resume(event, cfg)  # a plain start Task: raises to hand a retried execution on
    elif _handed_over(event, cfg, str(token)):
        return {"outcome": "resumed", "resume_at": event.get("resume_at")}
    started = time.perf_counter()
    try:
        answer = service.assign(
            assign_deps(), cfg, event["ticket_id"], event["node"], offer_target=offer_target(context)
        )
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
    if token is not None:
        _answer(str(token), answer, event.get("success") or ["done"])
    return answer


def _answer(token: str, answer: dict[str, Any], success: list[str]) -> None:
    """Answer the callback Task: success on the primary way out, the route error otherwise."""
    try:
        answer_task(_engine(), token, str(answer.get("outcome")), answer, success)
    except TaskTokenGone:  # the execution was stopped meanwhile: nobody waits for the answer
        logger.warning("dispatch answered a task that is gone", extra={"outcome": answer.get("outcome")})


def _handed_over(event: dict[str, Any], cfg: TenantConfig, token: str) -> bool:
    """A retried execution's start Task handed on to its resume node (no dispatch done)."""
    ticket_type = cfg.ticket_types.get(str(event.get("type")))
    target = resume_target(event, ticket_type) if ticket_type is not None else None
    if target is None:
        return False
    try:
        hand_over(_engine(), token, str(event.get("node")), target)
    except TaskTokenGone:
        logger.warning("the retried execution is gone", extra={"resume_at": target})
    return True


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def offer_expired(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """An offer's timer: ``{"op": "offer_expired", "tenant", "ticket_id", "node", "technician",
    "attempt"}`` (written by ``service.assign``). Declines on the technician's behalf when the offer
    is still current and untouched, else does nothing."""
    return _expire_offer(event)


def _expire_offer(event: dict[str, Any]) -> dict[str, Any]:
    cfg = tenant_config(event["tenant"])
    logger.append_keys(ticket_id=event["ticket_id"], node=event.get("node"))
    expired = service.offer_expired(offer_deps(), cfg, event)
    logger.info("offer expired", extra=expired)
    if expired.get("declined"):
        node = str(event.get("node"))
        emit_metric(catalogue.DISPATCH_OUTCOME, 1, tenant=cfg.tenant.id, node=node, outcome="offer_expired")
    return expired


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def seed(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Copy the deployed tenant file's technicians into the registry (never over a changed record).

    ``{"op": "seed_technicians", "tenant", "roster"}``: ``roster`` is the digest the deploy computed;
    a different one means the configuration read is not the one just deployed, and the call fails
    rather than seed an old roster. The custom resource does not fail the deploy on a function error
    (the SDK call itself succeeds); the failure shows as a function error (its alarm) and the
    functions still seed the current roster on first use.
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
