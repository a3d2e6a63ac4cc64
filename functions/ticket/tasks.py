"""Lambda entry points of the ticket service's workflow tasks and its intake queue consumer.

Kept apart from the /tickets API (``handler.py``): these functions never load the HTTP resolver,
its request validation or the API schemas, so their cold start stays small.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.ticket import service
from functions.ticket.wiring import deps
from shared import metrics as catalogue
from shared.errors import LoopLimitExceeded
from shared.observability import emit_metric, logger, tracer
from shared.tenant.store import tenant_config
from shared.workflow.task_errors import LoopLimitError, check_resume


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def park(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """``waitForTaskToken`` task of a human node."""
    cfg = tenant_config(event["tenant"])
    logger.append_keys(ticket_id=event["ticket_id"], node=event["node"])
    try:
        return service.park(
            deps(),
            cfg,
            event["ticket_id"],
            event["node"],
            event["token"],
            routing=event.get("routing"),
            success=event.get("success"),
            execution=event.get("execution"),
            workflow_version=event.get("workflow_version"),
            resume_at=event.get("resume_at"),
            ticket_type=event.get("type"),
        )
    except LoopLimitExceeded as exc:
        emit_metric(catalogue.TICKETS_FAILED, 1, tenant=cfg.tenant.id, node=event["node"])
        raise LoopLimitError(str(exc)) from None


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def step(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Plain task of ``end`` and ``create_ticket`` nodes."""
    cfg = tenant_config(event["tenant"])
    logger.append_keys(ticket_id=event["ticket_id"], node=event["node"])
    check_resume(event, cfg)
    try:
        answer = service.step(deps(), cfg, event["ticket_id"], event["node"])
    except LoopLimitExceeded as exc:
        emit_metric(catalogue.TICKETS_FAILED, 1, tenant=cfg.tenant.id, node=event["node"])
        raise LoopLimitError(str(exc)) from None
    if event.get("kind") == "end":
        closed = deps().tickets.get(cfg.tenant.id, event["ticket_id"])
        emit_metric(catalogue.TICKETS_CLOSED, 1, tenant=cfg.tenant.id, ticket_type=closed.type)
    return answer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def follow_up(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Target of a follow-up's one-time schedule: open the linked ticket it planned."""
    from functions.ticket.follow_up import open_follow_up

    cfg = tenant_config(event["tenant"])
    logger.append_keys(ticket_id=event["ticket_id"], follow_up=event["follow_up"])
    answer = open_follow_up(deps(), cfg, event["ticket_id"], event["follow_up"])
    logger.info("follow-up fired", extra={"answer": answer})
    return answer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def execution_status(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Target of the platform's rule on "Step Functions Execution Status Change" (FAILED, TIMED_OUT,
    ABORTED of ``scrm-*`` state machines): the ticket becomes ``failed``, visibly and retryably."""
    from functions.ticket.recovery import execution_stopped

    detail = event.get("detail") or {}
    try:
        started_with = json.loads(detail.get("input") or "{}")
    except ValueError:
        started_with = {}
    tenant, ticket_id = started_with.get("tenant"), started_with.get("ticket_id")
    if not isinstance(tenant, str) or not isinstance(ticket_id, str):
        logger.error("execution status change without a ticket in its input", extra={"detail": detail})
        return {"handled": False, "why": "no tenant/ticket_id in the execution input"}
    cfg = tenant_config(tenant)
    logger.append_keys(ticket_id=ticket_id, execution=detail.get("name"), status=detail.get("status"))
    answer = execution_stopped(
        deps(),
        cfg,
        ticket_id=ticket_id,
        execution_name_=str(detail.get("name") or ""),
        execution_arn=str(detail.get("executionArn") or ""),
        status=str(detail.get("status") or ""),
        error=detail.get("error"),
        cause=detail.get("cause"),
    )
    if answer.get("newly_failed"):
        emit_metric(catalogue.TICKETS_FAILED, 1, tenant=tenant, node=str(answer.get("node")))
    logger.info("execution stopped", extra={"answer": answer})
    return answer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def intake(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """SQS consumer of stored deliveries: delivery -> ticket, failed records reported for retry."""
    # Imported here: only this function needs the batch utilities and the delivery repository.
    from functions.ticket.from_delivery import consume
    from shared.repositories.deliveries import DeliveryRepository

    return consume(event, context, deps=deps(), deliveries=DeliveryRepository(), config=tenant_config)
