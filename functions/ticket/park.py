"""A human node was reached: the workflow's ``waitForTaskToken`` task parks the ticket there and
starts the node's SLA clock (its reminders' one-time schedules, ``shared.sla_clock``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from functions.ticket.access import assignee_for
from functions.ticket.rules import with_visit
from shared.domain.ticket import Change, Ticket
from shared.errors import LoopLimitExceeded
from shared.ticket_updates import fail_past_loop_cap, update_ticket
from shared.workflow import routing as loops

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
) -> dict[str, Any]:
    """Store the node's task token on the ticket so that an action can resume it.

    ``routing`` and ``success`` are the Task payload's (``"catch"`` and the labels taken by
    succeeding, primary first, as the compiled ASL says; None from older versions); they are stored
    with the token and decide how an action resumes the task and which one needs the full form.
    ``execution`` (``$$.Execution.Id``) and ``workflow_version`` are recorded when the ticket has none
    yet (the start that recorded them lost a race with this task).
    """
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
        return Change(
            kind="entered",
            update=update,
            node=node_name,
            changes={"assignee": assignee.model_dump() if assignee else None},
        )

    update_ticket(deps.tickets, cfg.tenant.id, ticket_id, decide)
    return answer
