"""The ticket rules read from the tenant file: ticket types, their forms, hand-offs and offers.
Pure functions on the tenant configuration and the ticket (no store, no engine)."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from shared.clock import now
from shared.errors import ValidationFailed
from shared.workflow.forms import ticket_type_of

if TYPE_CHECKING:
    from shared.domain.ticket import Ticket
    from shared.tenant.models import FieldDef, Node, TenantConfig

ACCEPT = "accept"
"""Built-in action of a node worked by the dispatched technician (``assignee: {technician: assigned}``):
take the offered ticket. It records the acceptance, so the offer no longer expires, and does not move
the ticket or resume the workflow. A node that defines its own ``accept`` action gets that one instead."""


def new_ticket_id() -> str:
    """Readable, roughly time-ordered, unguessable: ``TK-261123-8f3a2c1d``."""
    return f"TK-{now():%y%m%d}-{secrets.token_hex(4)}"


def execution_name(ticket: Ticket) -> str:
    """The name of the ticket's current execution: its id, then ``<id>-r<n>`` for the n-th retry."""
    return ticket.id if not ticket.retries else f"{ticket.id}-r{ticket.retries}"


def check_filters(cfg: TenantConfig, type_id: str | None, node: str | None) -> None:
    """A filter on a type or node the tenant does not have is a mistake, not an empty page (422)."""
    if type_id is not None:
        ticket_type_of(cfg, type_id)
    if node is None:
        return
    types = [cfg.ticket_types[type_id]] if type_id is not None else list(cfg.ticket_types.values())
    if not any(node in t.nodes for t in types):
        known = list(dict.fromkeys(n for t in types for n in t.nodes))
        raise ValidationFailed(
            f"unknown node '{node[:64]}'",
            [
                {
                    "field": "node",
                    "message": f"no ticket type has node '{node[:64]}'; known: {', '.join(known)}",
                }
            ],
        )


def optional(spec: FieldDef) -> FieldDef:
    return spec.model_copy(update={"required": False})


def with_visit(ticket: Ticket, node: str) -> Ticket:
    """The ticket with one more visit of ``node`` counted (for the workflow's loop cap)."""
    visits = dict(ticket.visits)
    visits[node] = visits.get(node, 0) + 1
    return ticket.model_copy(update={"visits": visits})


def primary_action(node: Node, ticket: Ticket) -> str:
    """The parked node's primary action: as stored at park (from the ASL), else the file's first."""
    if ticket.route_success:
        return ticket.route_success[0]
    return next(iter(node.actions))


def takes_offers(node: Node) -> bool:
    """The node is worked by the dispatched technician and has no ``accept`` action of its own."""
    return node.assignee is not None and node.assignee.is_dispatched_technician and ACCEPT not in node.actions


def chosen_technician(node: Node, accepted: dict[str, Any]) -> str | None:
    """A node whose form picks a technician (manual dispatch) assigns the ticket to them."""
    for spec in node.form:
        if spec.type == "technician" and accepted.get(spec.name):
            return str(accepted[spec.name])
    return None


def without_offer(dispatch: dict[str, Any] | None) -> dict[str, Any]:
    """A new assignment starts with no acceptance and no offer deadline of the previous one."""
    return {
        k: v
        for k, v in (dispatch or {}).items()
        if k not in ("accepted_at", "accepted_by", "offer_expires_at")
    }


def handoff_fields(cfg: TenantConfig, type_id: str, target: str, exclude: set[str]) -> list[FieldDef]:
    """An action that leads to a ``create_ticket`` node may carry the linked ticket's fields too
    (optional here: the linked ticket records what is still missing)."""
    node = cfg.ticket_types[type_id].nodes.get(target)
    if node is None or node.kind != "create_ticket" or not node.ticket_type:
        return []
    return [optional(f) for f in cfg.ticket_types[node.ticket_type].fields if f.name not in exclude]


def inherited(cfg: TenantConfig, type_id: str, parent: Ticket) -> dict[str, Any]:
    """Fields of the parent that the linked ticket type also has, and what the hand-off carried."""
    names = {f.name for f in cfg.ticket_types[type_id].fields}
    given = {**parent.fields, **(parent.handoff or {})}
    return {k: v for k, v in given.items() if k in names}


def stale(version: int, ticket_id: str) -> str:
    return f"stale version {version}: someone acted on ticket {ticket_id} first; read it again"
