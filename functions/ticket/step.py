"""System nodes worked by the ticket service (``scrm-ticket-step``): ``end`` closes the ticket,
``create_ticket`` opens a linked one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from functions.ticket.create import create_ticket
from functions.ticket.follow_up import plan_follow_ups
from functions.ticket.leave import release_technician
from functions.ticket.rules import inherited, with_visit
from shared.clock import now
from shared.domain.ticket import Change, Ticket
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
        instant = now()
        update: dict[str, Any] = {
            "status": "closed",
            "node": node_name,
            "assignee": None,
            "visits": visited.visits,
            "closed_at": instant,
        }
        if deps.opportunities is not None and cfg.ticket_types[ticket.type].opportunity_rules:
            # before the close: a step retried after a failure finds the ticket open and tries again
            from functions.ticket.opportunities import open_opportunities

            open_opportunities(deps, cfg, ticket, "closed", instant)
        planned = plan_follow_ups(deps, cfg, ticket, "closed", instant)
        if planned:
            update["follow_ups"] = [*ticket.follow_ups, *planned]
        close = Change(kind="closed", update=update, node=node_name)
        update_ticket(
            deps.tickets,
            ticket.tenant,
            ticket.id,
            lambda _: close,
            read=ticket,
            expected_version=ticket.version,
        )
        release_technician(deps, ticket)
        if deps.customers is not None:  # the customer's timeline shows it closed (once)
            from functions.ticket.customers import record_closed

            record_closed(deps.customers, cfg, ticket, instant, "closed")
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
            customer_id=ticket.customer_id,
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
    if node.kind == "decision":
        return _decide(deps, cfg, ticket, node_name, visited.visits)
    raise NotFound(f"node '{node_name}' of kind {node.kind} is not handled by the ticket service")


def _decide(
    deps: Deps, cfg: TenantConfig, ticket: Ticket, node_name: str, visits: dict[str, int]
) -> dict[str, Any]:
    """A decision node's refresh Task (``shared.workflow.decision``: no facts reached its Choice):
    the facts the type's decisions read, and a history line saying which rule holds and where it
    leads (the same ``evaluate`` the compiled Choice mirrors)."""
    from functions.ticket.facts import facts_of, workflow_facts
    from shared.rules.conditions import evaluate

    node = cfg.ticket_types[ticket.type].nodes[node_name]
    seen = facts_of(deps, ticket)
    number = next((n for n, rule in enumerate(node.rules, start=1) if evaluate(rule.when, seen)), None)
    target = node.rules[number - 1].next if number is not None else node.default
    decided = Change(
        kind="decided",
        update={"node": node_name, "visits": visits},
        node=node_name,
        changes={"rule": number, "next": target},
        bump=False,
    )
    update_ticket(deps.tickets, ticket.tenant, ticket.id, lambda _: decided, read=ticket)
    return {"facts": workflow_facts(deps, cfg, ticket, seen) or {}, "rule": number, "next": target}
