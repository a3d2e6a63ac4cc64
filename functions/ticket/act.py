"""A person acts on the ticket's current node (``POST /tickets/{id}/actions``): check, claim at the
version they read, resume the workflow; or accept a dispatch offer."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from functions.ticket.access import assignee_for, may_act
from functions.ticket.facts import workflow_facts
from functions.ticket.leave import cancel_offer
from functions.ticket.rules import (
    ACCEPT,
    chosen_technician,
    handoff_fields,
    optional,
    primary_action,
    stale,
    takes_offers,
    without_offer,
)
from shared.clock import now
from shared.domain.ticket import Change, Ticket, TicketEvent
from shared.errors import Conflict, Forbidden, NotReady, ValidationFailed
from shared.ports import TaskTokenGone
from shared.ticket_updates import Save, move_and_resume, update_ticket
from shared.workflow.forms import form_context, validate_form

if TYPE_CHECKING:
    from functions.ticket.deps import Deps
    from shared.identity import Caller
    from shared.tenant.models import Node, TenantConfig


def act(
    deps: Deps,
    cfg: TenantConfig,
    caller: Caller,
    ticket_id: str,
    action: str,
    fields: dict[str, Any],
    version: int,
) -> Ticket:
    """Take ``action`` on the ticket's current node at the ``version`` the caller read."""
    ticket = deps.tickets.get(cfg.tenant.id, ticket_id)
    if ticket.status != "open":
        raise Conflict(f"ticket {ticket_id} is {ticket.status}; no action can be taken")
    if version != ticket.version:
        raise Conflict(f"stale version {version}: the ticket is at version {ticket.version}; read it again")
    node = cfg.ticket_types[ticket.type].nodes[ticket.node]
    _check_actor(cfg, caller, ticket, node)
    if action == ACCEPT and takes_offers(node):
        return _accept(deps, caller, ticket, version)
    if action not in node.actions:
        known = [*node.actions, *([ACCEPT] if takes_offers(node) else [])]
        raise ValidationFailed(
            f"'{action}' is not an action of node '{ticket.node}'",
            [{"field": "action", "message": f"must be one of {', '.join(known)}"}],
        )
    target = node.actions[action]
    # The form must be complete for the node's primary action (its first way out, as the compiled
    # ASL told the park task), which takes the work forward; other ways out (decline, need_parts,
    # rework) check only the values given.
    primary = action == primary_action(node, ticket)
    specs = node.form if primary else [optional(f) for f in node.form]
    carried = handoff_fields(cfg, ticket.type, target, exclude={f.name for f in node.form})
    accepted, problems = validate_form([*specs, *carried], fields, form_context(cfg))
    if problems:
        raise ValidationFailed(f"{len(problems)} field(s) of the {ticket.node} form are not valid", problems)
    # Values for the linked ticket a hand-off opens travel with it, not in this ticket's fields (and
    # only those the person gave: no defaults of the other type).
    handoff = {f.name: accepted.pop(f.name) for f in carried if f.name in accepted and f.name in fields}
    for spec in carried:
        accepted.pop(spec.name, None)
    update: dict[str, Any] = {
        "fields": {**ticket.fields, **accepted},
        "handoff": {**(ticket.handoff or {}), **handoff} or None,
        "node": target,
        "token": None,
        "token_node": None,
    }
    chosen = chosen_technician(node, accepted)
    if chosen is not None:
        update["dispatch"] = {
            **without_offer(ticket.dispatch),
            "technician": chosen,
            "manual": True,
            "by": caller.sub,
            "at": now().isoformat(),
        }
    changed = {k: v for k, v in accepted.items() if ticket.fields.get(k) != v}
    move = Change(
        kind="action",
        update=update,
        actor=caller.sub,
        node=ticket.node,
        action=action,
        changes={"fields": changed, "to": target},
    )
    take, release = manual_dispatch_save(deps, ticket, chosen)
    try:
        moved = move_and_resume(
            deps.tickets,
            deps.engine,
            ticket,
            node,
            action,
            move,
            stale=stale(version, ticket_id),
            save=take,
            undo=release,
            facts=lambda moved: workflow_facts(deps, cfg, moved),
        )
    except TaskTokenGone as exc:
        raise Conflict(f"the action was not applied: {exc}") from None
    deps.sla.stop(cfg, ticket, ticket.node)
    if takes_offers(node):
        cancel_offer(deps, ticket)
    return moved


def manual_dispatch_save(
    deps: Deps, ticket: Ticket, technician: str | None
) -> tuple[Save | None, Callable[[], None] | None]:
    """A person picked the technician: the move takes their load in the same transaction, and gives
    it back when the workflow could not be resumed. ``(None, None)`` for any other action."""
    workload = deps.workload
    if technician is None or workload is None:
        return None, None

    def take(ticket: Ticket, *, expected_version: int, event: TicketEvent | None) -> None:
        assert event is not None
        workload.take(technician, ticket, expected_version=expected_version, event=event)

    tenant, ticket_id = ticket.tenant, ticket.id

    def release() -> None:
        workload.release(tenant, technician, ticket_id)

    return take, release


def _check_actor(cfg: TenantConfig, caller: Caller, ticket: Ticket, node: Node) -> None:
    """Only the node's assignee acts, and only once the workflow waits there."""
    if node.kind != "human":
        raise NotReady(
            f"node '{ticket.node}' is worked by the system ({node.kind}); retry when the ticket reaches "
            "a person's node"
        )
    if not ticket.parked or ticket.token is None:
        # Not parked yet: the assignee rule of the node says who will act; anyone else never may.
        expected = assignee_for(node, ticket)
        if expected is not None and not may_act(caller, expected, cfg):
            raise Forbidden(
                f"node '{ticket.node}' will be assigned to {expected.kind} {expected.id}; "
                f"you ({caller.sub}) may not act on it"
            )
        raise NotReady(f"node '{ticket.node}' is not ready for actions yet; retry in a moment")
    if not may_act(caller, ticket.assignee, cfg):
        who = f"{ticket.assignee.kind} {ticket.assignee.id}" if ticket.assignee else "nobody"
        raise Forbidden(f"node '{ticket.node}' is assigned to {who}; you ({caller.sub}) may not act on it")


def _accept(deps: Deps, caller: Caller, ticket: Ticket, version: int) -> Ticket:
    """The technician takes the offered ticket: the offer stops expiring; the ticket stays where it is."""
    offer = ticket.dispatch or {}
    if offer.get("accepted_at"):
        raise Conflict(
            f"ticket {ticket.id} was already accepted by {offer.get('accepted_by')} at {offer['accepted_at']}"
        )
    accept = Change(
        kind="action",
        update={"dispatch": {**offer, "accepted_at": now().isoformat(), "accepted_by": caller.sub}},
        actor=caller.sub,
        node=ticket.node,
        action=ACCEPT,
        changes={"accepted": True},
    )
    accepted = update_ticket(
        deps.tickets,
        ticket.tenant,
        ticket.id,
        lambda _: accept,
        read=ticket,
        expected_version=version,
        stale=stale(version, ticket.id),
    )
    cancel_offer(deps, ticket)
    return accepted
