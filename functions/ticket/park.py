"""A human node was reached: the workflow's ``waitForTaskToken`` task parks the ticket there and
starts the node's SLA clock (its reminders' one-time schedules, ``shared.sla_clock``).

When the node is the start node of a retried execution whose ``resume_at`` names another node, it
parks nothing: it fails its own task with ``Scrm.Resume.<node>`` (SendTaskFailure, not a Lambda
error) and the start Task's Catch takes the execution there (``shared.workflow.compiler``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from functions.ticket.access import assignee_for
from functions.ticket.follow_up import plan_follow_ups
from functions.ticket.rules import with_visit
from shared.clock import now
from shared.domain.ticket import Change, Ticket
from shared.errors import LoopLimitExceeded
from shared.ports import TaskTokenGone
from shared.ticket_updates import fail_past_loop_cap, update_ticket
from shared.workflow import routing as loops
from shared.workflow.resume import hand_over

if TYPE_CHECKING:
    from functions.ticket.deps import Deps
    from shared.tenant.models import TenantConfig


def park(
    deps: Deps,
    cfg: TenantConfig,
    ticket_id: str,
    node_name: str,
    token: str,
    routing: str | None = None,
    *,
    success: list[str] | None = None,
    execution: str | None = None,
    workflow_version: str | None = None,
    resume_at: object = None,
    ticket_type: str | None = None,
) -> dict[str, Any]:
    """Store the node's task token on the ticket so that an action can resume it.

    ``routing`` and ``success`` are the Task payload's (``"catch"`` and the labels taken by
    succeeding, primary first, as the compiled ASL says; None from older versions); they are stored
    with the token and decide how an action resumes the task and which one needs the full form.
    ``execution`` (``$$.Execution.Id``) and ``workflow_version`` are recorded when the ticket has none
    yet (the start that recorded them lost a race with this task). ``resume_at`` is the start
    node's only (``$.resume_at``, with ``ticket_type``, the input's ``$.type``): see the module doc.
    """
    if isinstance(resume_at, str) and resume_at != node_name:
        resumed = _resume_elsewhere(deps, cfg, ticket_type, node_name, token, resume_at)
        if resumed is not None:
            return resumed
    answer: dict[str, Any] = {"parked": True, "node": node_name}

    def decide(ticket: Ticket) -> Change | None:
        if ticket.status != "open":
            answer.update(parked=False, status=ticket.status)
            return None
        if execution and ticket.execution_arn and execution != ticket.execution_arn:
            answer.update(parked=False, status="superseded")  # an older execution of a retried ticket
            return None
        visited = with_visit(ticket, node_name)
        if visited.visits[node_name] > loops.MAX_NODE_VISITS:
            reason = fail_past_loop_cap(
                deps.tickets, ticket, node_name, loops.MAX_NODE_VISITS, updates={"token": None}
            )
            raise LoopLimitExceeded(reason)
        node = cfg.ticket_types[ticket.type].nodes[node_name]
        assignee = assignee_for(node, ticket)
        update: dict[str, Any] = {
            "visits": visited.visits,
            "node": node_name,
            "token": token,
            "token_node": node_name,
            "routing": routing,
            "route_success": success,
            "assignee": assignee,
            "execution_arn": ticket.execution_arn or execution,
            "workflow_version": ticket.workflow_version or workflow_version,
        }
        sla = deps.sla.start(cfg, ticket.model_copy(update=update), node_name)
        if sla is not None:
            update["sla"] = sla
        entered = ticket.model_copy(update=update)
        planned = plan_follow_ups(deps, cfg, entered, f"entered:{node_name}", now())
        if planned:
            update["follow_ups"] = [*ticket.follow_ups, *planned]
        return Change(
            kind="entered",
            update=update,
            node=node_name,
            changes={"assignee": assignee.model_dump() if assignee else None},
        )

    update_ticket(deps.tickets, cfg.tenant.id, ticket_id, decide)
    return answer


def _resume_elsewhere(
    deps: Deps, cfg: TenantConfig, ticket_type: str | None, node_name: str, token: str, resume_at: str
) -> dict[str, Any] | None:
    """Hand a retried execution from its start node to ``resume_at``; None to park here instead
    (the node is gone from the live workflow)."""
    type_ = cfg.ticket_types.get(str(ticket_type))
    target = loops.resume_target({"node": node_name, "resume_at": resume_at}, type_) if type_ else None
    if target is None:
        return None
    try:
        hand_over(deps.engine, token, node_name, target)
    except TaskTokenGone:
        return {"parked": False, "node": node_name, "status": "gone"}
    return {"parked": False, "node": node_name, "resumed_at": target}
