"""No ticket in limbo: a stopped execution fails its ticket visibly, and a person can retry it.

- ``execution_stopped``: the platform's EventBridge rule on Step Functions status changes (FAILED,
  TIMED_OUT, ABORTED of any ``scrm-*`` state machine) calls this through ``scrm-ticket-failed``.
  When the execution is the ticket's current one and the ticket is still open (or was failed by a
  task without the clean-up), the ticket becomes ``failed`` with the cause in its history, its
  technician's load is released, its timers (SLA reminders, the dispatch offer) are deleted and the
  tenant's dispatchers are told. Idempotent: EventBridge delivers at least once.
- ``retry``: a dispatcher or admin starts a failed ticket again where it failed. A new execution
  (``<id>-r<n>``) starts on the live version (so a corrected workflow is used) with ``resume_at`` =
  that node in its input; the ticket's pinned catalog and SLA policy stay. The start node's Task
  hands it on to that node (``Scrm.Resume.<node>``, ``shared.workflow.compiler``); a version
  compiled with the entry Choice ``Resume?`` reads the same input, so both shapes resume.
  The ticket's data can be corrected before that (fields, technicians, prices of a new catalog).

Pure logic on the ports in ``service.Deps``: no AWS call here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from functions.ticket.access import RETRY_ROLES
from functions.ticket.create import start_execution
from functions.ticket.leave import cancel_offer, release_technician
from functions.ticket.rules import execution_name
from shared.clock import now
from shared.domain.ticket import Change, Ticket
from shared.errors import Conflict, Forbidden, Unavailable
from shared.observability import logger
from shared.ticket_updates import put_back, update_ticket

if TYPE_CHECKING:
    from functions.ticket.deps import Deps
    from shared.identity import Caller
    from shared.tenant.models import TenantConfig

STOPPED = ("FAILED", "TIMED_OUT", "ABORTED")
NOTICE_LEVEL = "failed"


def failure_reason(status: str, error: str | None, cause: str | None) -> str:
    """A person's sentence for why the execution stopped (the cause cut to a readable length)."""
    words = {"FAILED": "failed", "TIMED_OUT": "timed out", "ABORTED": "was stopped"}
    what = words.get(status, status.lower())
    detail = ": ".join(part for part in ((error or "").strip(), (cause or "").strip()[:300]) if part)
    return f"the workflow {what}" + (f" ({detail})" if detail else "")


def execution_stopped(
    deps: Deps,
    cfg: TenantConfig,
    *,
    ticket_id: str,
    execution_name_: str,
    execution_arn: str,
    status: str,
    error: str | None = None,
    cause: str | None = None,
) -> dict[str, Any]:
    """Fail the ticket whose current execution stopped (see the module doc); what was done."""
    if status not in STOPPED:
        return {"handled": False, "why": f"status {status} needs nothing"}
    ticket = deps.tickets.find(cfg.tenant.id, ticket_id)
    if ticket is None:
        return {"handled": False, "why": "no such ticket (its creation was undone)"}
    if execution_name_ != execution_name(ticket):
        return {"handled": False, "why": "an earlier execution of a retried ticket"}
    if ticket.status in ("closed", "cancelled"):
        return {"handled": False, "why": f"the ticket is {ticket.status}"}
    if (ticket.failure or {}).get("handled"):
        return {"handled": False, "why": "already handled"}
    newly = ticket.status == "open"  # else a task marked it failed itself (and counted it)
    reason = failure_reason(status, error, cause)
    failed = _mark(deps, ticket, reason, execution_arn, status, error)
    if failed is None:
        return {"handled": False, "why": "the ticket changed meanwhile and is no longer open"}
    deps.sla.stop(cfg, ticket, ticket.node)
    release_technician(deps, ticket)
    cancel_offer(deps, ticket)
    notified = _notify(deps, cfg, failed)
    return {
        "handled": True,
        "newly_failed": newly,
        "node": failed.node,
        "reason": failed.reason,
        "notified": notified,
    }


def _mark(
    deps: Deps, ticket: Ticket, reason: str, execution_arn: str, status: str, error: str | None
) -> Ticket | None:
    """Save the ticket failed (or complete a task's own failure mark) with ``failure.handled``."""

    def decide(ticket: Ticket) -> Change | None:
        if ticket.status not in ("open", "failed"):
            return None
        previous = ticket.failure or {}
        failure = {
            "at": previous.get("at") or now().isoformat(),
            "node": previous.get("node") or ticket.node,
            "reason": ticket.reason if ticket.status == "failed" and ticket.reason else reason,
            "execution": execution_arn,
            "status": status,
            "error": error,
            "handled": True,
        }
        return Change(
            kind="failed",
            update={
                "status": "failed",
                "reason": failure["reason"],
                "node": failure["node"],
                "failure": failure,
                "token": None,
                "token_node": None,
            },
            changes={"reason": failure["reason"], "status": status, "error": error},
        )

    try:
        failed = update_ticket(deps.tickets, ticket.tenant, ticket.id, decide, read=ticket)
    except Conflict:
        return None
    return failed if (failed.failure or {}).get("handled") else None


def _notify(deps: Deps, cfg: TenantConfig, ticket: Ticket) -> dict[str, Any] | None:
    if deps.notifier is None:
        return None
    from shared.notices import notify_dispatchers

    type_name = cfg.ticket_types[ticket.type].name if ticket.type in cfg.ticket_types else ticket.type
    mark = f"[FAILED {ticket.id} {NOTICE_LEVEL}]"

    def texts(locale: str) -> tuple[str, str]:
        if locale == "zh-CN":
            subject = f"[{cfg.tenant.name}] 工单 {ticket.id} 处理失败，请修正后重试"
            text = (
                f"工单 {ticket.id}（{type_name}）在节点「{ticket.node}」失败：{ticket.reason}。修正后可重试。"
            )
            return subject, f"{text}\n{mark}"
        subject = f"[{cfg.tenant.name}] Ticket {ticket.id} failed: fix it and retry"
        text = (
            f"Ticket {ticket.id} ({type_name}) failed at node '{ticket.node}': {ticket.reason}. "
            f"Retry it with POST /tickets/{ticket.id}/retry once the cause is fixed."
        )
        return subject, f"{text}\n{mark}"

    try:
        sent = notify_dispatchers(
            deps.notifier, cfg, ticket, ticket.node, ticket.retries, NOTICE_LEVEL, texts
        )
    except Exception as exc:  # the failure is recorded; a notice must not undo that
        logger.warning("failure notice not sent", extra={"error": type(exc).__name__})
        return None
    return sent.answer()


def retry(deps: Deps, cfg: TenantConfig, caller: Caller, ticket_id: str) -> Ticket:
    """Start a failed ticket again at the node where it failed (see the module doc)."""
    if not caller.has_any(*RETRY_ROLES):
        raise Forbidden("retrying a failed ticket needs one of the roles dispatcher or admin")
    ticket = deps.tickets.get(cfg.tenant.id, ticket_id)
    if ticket.status != "failed":
        raise Conflict(f"ticket {ticket_id} is {ticket.status}; only failed tickets can be retried")
    nodes = cfg.ticket_types[ticket.type].nodes
    node = str((ticket.failure or {}).get("node") or ticket.node)
    if node not in nodes:
        node = cfg.ticket_types[ticket.type].start  # the node was removed from the workflow since
    retry_ = Change(
        kind="retried",
        update={
            "status": "open",
            "reason": None,
            "node": node,
            "assignee": None,
            "token": None,
            "token_node": None,
            "route_success": None,
            "visits": {},
            "execution_arn": None,
            "workflow_version": None,
            "retries": ticket.retries + 1,
            "failure": None,
            "closed_at": None,
        },
        actor=caller.sub,
        action="retry",
        changes={
            "from_node": node,
            "execution": execution_name(ticket.model_copy(update={"retries": ticket.retries + 1})),
            "failure": ticket.failure,
        },
    )
    stale = f"ticket {ticket_id} changed meanwhile (someone else retried it?); read it again"
    reopened = update_ticket(
        deps.tickets,
        ticket.tenant,
        ticket.id,
        lambda _: retry_,
        read=ticket,
        expected_version=ticket.version,
        stale=stale,
    )
    try:
        from functions.ticket.facts import workflow_facts

        return start_execution(deps, reopened, resume_at=node, facts=workflow_facts(deps, cfg, reopened))
    except Exception as exc:
        reason = f"the workflow could not be started ({type(exc).__name__})"
        if put_back(deps.tickets, ticket, reopened, "retry_failed", reason, retries=reopened.retries) is None:
            logger.warning("retry not put back: the ticket changed meanwhile", extra={"ticket_id": ticket.id})
        raise Unavailable(
            f"the workflow of ticket {ticket_id} could not be started ({type(exc).__name__}); "
            "it is still failed: retry again shortly"
        ) from exc
