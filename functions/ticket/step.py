"""System nodes worked by the ticket service (``scrm-ticket-step``): ``end`` closes the ticket,
``create_ticket`` opens a linked one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from functions.ticket.create import create_ticket
from functions.ticket.leave import release_technician
from functions.ticket.rules import inherited, with_visit
from shared.clock import now
from shared.domain.ticket import Change
from shared.errors import LoopLimitExceeded, NotFound
from shared.ticket_updates import fail_past_loop_cap, update_ticket
from shared.workflow import routing

if TYPE_CHECKING:
    from functions.ticket.deps import Deps
    from shared.tenant.models import TenantConfig


def step(deps: Deps, cfg: TenantConfig, ticket_id: str, node_name: str) -> dict[str, Any]:
    """Work the system node ``node_name`` the workflow reached (a retried task changes nothing)."""
    ticket = deps.tickets.get(cfg.tenant.id, ticket_id)
    if ticket.status != "open":
        # Cancelled (or failed) while the workflow was on its way here: nothing more to do.
        return {"outcome": "done"}
    node = cfg.ticket_types[ticket.type].nodes[node_name]
    visited = with_visit(ticket, node_name)
    if visited.visits[node_name] > routing.MAX_NODE_VISITS:
        cap = routing.MAX_NODE_VISITS
        raise LoopLimitExceeded(
            fail_past_loop_cap(deps.tickets, ticket, node_name, cap, updates={"token": None})
        )
    if node.kind == "end":
        close = Change(
            kind="closed",
            update={
                "status": "closed",
                "node": node_name,
                "assignee": None,
                "visits": visited.visits,
                "closed_at": now(),
            },
            node=node_name,
        )
        update_ticket(
            deps.tickets,
            ticket.tenant,
            ticket.id,
            lambda _: close,
            read=ticket,
            expected_version=ticket.version,
        )
        release_technician(deps, ticket)
        return {"outcome": "done"}
    if node.kind == "create_ticket" and node.ticket_type:
        child_id = f"{ticket.id}-{node_name}-{visited.visits[node_name]}"
        child = create_ticket(
            deps,
            cfg,
            ticket.id,
            node.ticket_type,
            inherited(cfg, node.ticket_type, ticket),
            ticket_id=child_id,
            channel=ticket.channel,
            parent_id=ticket.id,
            lenient=True,
        )
        if child.id not in ticket.children:
            link = Change(
                kind="linked",
                update={
                    "node": node_name,
                    "visits": visited.visits,
                    "children": [*ticket.children, child.id],
                },
                node=node_name,
                changes={"child": child.id},
            )
            update_ticket(
                deps.tickets,
                ticket.tenant,
                ticket.id,
                lambda _: link,
                read=ticket,
                expected_version=ticket.version,
            )
        return {"outcome": "done", "child": child.id}
    raise NotFound(f"node '{node_name}' of kind {node.kind} is not handled by the ticket service")
