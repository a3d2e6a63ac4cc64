"""A dispatcher gives a ticket to another technician (``POST /tickets/{id}/reassign``).

Only where a technician works the ticket: an open ticket parked at a human node whose assignee is
``{technician: assigned}``. The ticket stays where it is (same node, same visit, its workflow still
waiting on the same task token, its SLA clock running); what changes, in one transaction with the
new technician's load (``Workload.take``, as a manual dispatch), is the dispatch record (the new
technician, ``manual``, ``by``, ``reassigned_from``) and the assignee. Then the previous
technician's load falls and their offer's timer is deleted. A reassigned ticket carries no offer:
a person chose the technician, as in manual dispatch.

Refused: a role other than dispatcher/admin (403), a stale version or a ticket that is not at a
technician's node (409), a technician who is not in the file, or the one who has it (422), one
at capacity or unavailable (409, from the registry).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from functions.ticket.access import RETRY_ROLES
from functions.ticket.act import manual_dispatch_save
from functions.ticket.leave import cancel_offer
from functions.ticket.rules import stale, without_offer
from shared.clock import now
from shared.domain.ticket import Assignee, Change, Ticket
from shared.errors import Conflict, Forbidden, ValidationFailed
from shared.ticket_updates import update_ticket

if TYPE_CHECKING:
    from functions.ticket.deps import Deps
    from shared.identity import Caller
    from shared.tenant.models import TenantConfig


def reassign(
    deps: Deps, cfg: TenantConfig, caller: Caller, ticket_id: str, technician: str, version: int
) -> Ticket:
    """Give the ticket at ``version`` to ``technician`` (see the module doc)."""
    if not caller.has_any(*RETRY_ROLES):
        raise Forbidden("reassigning a ticket needs the role dispatcher or admin")
    if cfg.technician(technician) is None:
        known = ", ".join(t.id for t in cfg.technicians)
        raise ValidationFailed(
            f"'{technician}' is not a technician of {cfg.tenant.id}",
            [{"field": "technician", "message": f"must be one of {known}"}],
        )
    ticket = deps.tickets.get(cfg.tenant.id, ticket_id)
    if ticket.status != "open":
        raise Conflict(f"ticket {ticket_id} is {ticket.status}; only open tickets can be reassigned")
    if version != ticket.version:
        raise Conflict(stale(version, ticket_id))
    node = cfg.ticket_types[ticket.type].nodes[ticket.node]
    if not (node.assignee is not None and node.assignee.is_dispatched_technician and ticket.parked):
        raise Conflict(
            f"ticket {ticket_id} is at '{ticket.node}', which no technician works now; "
            "reassign it at a technician's node, or assign it at the manual dispatch node"
        )
    previous = (ticket.dispatch or {}).get("technician")
    if previous == technician:
        raise ValidationFailed(
            f"ticket {ticket_id} is already {technician}'s",
            [{"field": "technician", "message": "choose another technician"}],
        )
    at = now()
    change = Change(
        kind="reassigned",
        update={
            "dispatch": {
                **without_offer(ticket.dispatch),
                "technician": technician,
                "manual": True,
                "by": caller.sub,
                "at": at.isoformat(),
                "reassigned_from": previous,
            },
            "assignee": Assignee(kind="technician", id=technician),
        },
        actor=caller.sub,
        node=ticket.node,
        changes={"from": previous, "to": technician},
    )
    take, _release = manual_dispatch_save(deps, ticket, technician)
    saved = update_ticket(
        deps.tickets,
        ticket.tenant,
        ticket.id,
        lambda _: change,
        read=ticket,
        expected_version=version,
        stale=stale(version, ticket_id),
        save=take,
    )
    if previous and deps.workload is not None:
        deps.workload.release(ticket.tenant, str(previous), ticket.id)
    cancel_offer(deps, ticket)
    return saved
