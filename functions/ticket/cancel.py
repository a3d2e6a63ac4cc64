"""Cancel an open ticket (``POST /tickets/{id}/cancel``): one of the ways out of its current node."""

from __future__ import annotations

from typing import TYPE_CHECKING

from functions.ticket.access import CREATOR_ROLES
from functions.ticket.leave import cancel_offer, release_technician
from functions.ticket.rules import stale
from shared.clock import now
from shared.domain.ticket import SYSTEM, Change, Ticket
from shared.errors import Conflict, Forbidden
from shared.ticket_updates import update_ticket

if TYPE_CHECKING:
    from functions.ticket.deps import Deps
    from shared.identity import Caller
    from shared.tenant.models import TenantConfig


def cancel(
    deps: Deps, cfg: TenantConfig, caller: Caller, ticket_id: str, reason: str, version: int | None = None
) -> Ticket:
    """Stop the ticket's workflow and mark it cancelled (only while it is open).

    Cancelling claims the ticket under the same version check as an action, so when a cancel and an
    action race exactly one of them wins. With ``version`` the claim is at that version (stale: 409);
    without it, a change the workflow made meanwhile (parking, dispatch) is read again, but a
    person's action meanwhile makes it 409.
    """
    if not caller.has_any(*CREATOR_ROLES):
        raise Forbidden("cancelling tickets needs one of the roles agent, dispatcher, supervisor or admin")
    reads: list[int] = []  # the versions read, one per attempt
    before: list[Ticket] = []

    def decide(ticket: Ticket) -> Change:
        if version is not None and reads:
            raise Conflict(stale(version, ticket_id))  # the claim at the caller's version lost
        if ticket.status != "open":
            raise Conflict(f"ticket {ticket_id} is {ticket.status}; only open tickets can be cancelled")
        if version is not None and ticket.version != version:
            raise Conflict(stale(version, ticket_id))
        if reads:
            _no_action_since(deps, ticket, reads[-1])
        reads.append(ticket.version)
        if cfg.ticket_types[ticket.type].nodes[ticket.node].kind == "end":
            raise Conflict(
                f"ticket {ticket_id} is finishing (it reached '{ticket.node}'); it cannot be cancelled"
            )
        before[:] = [ticket]
        return Change(
            kind="cancelled",
            update={
                "status": "cancelled",
                "reason": reason,
                "token": None,
                "token_node": None,
                "closed_at": now(),
            },
            actor=caller.sub,
            node=ticket.node,
            action="cancel",
            changes={"reason": reason},
        )

    cancelled = update_ticket(deps.tickets, cfg.tenant.id, ticket_id, decide)
    ticket = before[0]
    if ticket.execution_arn:
        deps.engine.stop(ticket.execution_arn, f"cancelled by {caller.sub}: {reason}")
    deps.sla.stop(cfg, ticket, ticket.node)
    release_technician(deps, ticket)
    cancel_offer(deps, ticket)
    return cancelled


def _no_action_since(deps: Deps, ticket: Ticket, read: int) -> None:
    """``Conflict`` when a person acted on the ticket after version ``read`` (the cancel lost)."""
    for event in deps.tickets.history(ticket.tenant, ticket.id):
        if event.version > read and event.kind == "action" and event.actor != SYSTEM:
            raise Conflict(
                f"{event.actor} took '{event.action}' on ticket {ticket.id} meanwhile; "
                "read it again and cancel it if that is still wanted"
            )
