"""Cancel an open ticket (``POST /tickets/{id}/cancel``): one of the ways out of its current node."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from functions.ticket.access import CREATOR_ROLES
from functions.ticket.leave import cancel_offer, release_technician
from functions.ticket.rules import stale
from shared.clock import now
from shared.domain.follow_ups import cancelled as cancelled_follow_ups
from shared.domain.follow_ups import pending as pending_follow_ups
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
        update: dict[str, Any] = {
            "status": "cancelled",
            "reason": reason,
            "token": None,
            "token_node": None,
            "closed_at": now(),
        }
        if pending_follow_ups(ticket.follow_ups):
            update["follow_ups"] = cancelled_follow_ups(ticket.follow_ups)
        return Change(
            kind="cancelled",
            update=update,
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
    if deps.customers is not None and cancelled.closed_at is not None:  # on the customer's timeline
        from functions.ticket.customers import record_closed

        record_closed(deps.customers, cfg, cancelled, cancelled.closed_at, "cancelled")
    if deps.follow_ups is not None:
        deps.follow_ups.cancel(ticket)  # their schedules; one that fires anyway finds them cancelled
    return cancelled


def _no_action_since(deps: Deps, ticket: Ticket, read: int) -> None:
    """``Conflict`` when a person acted on the ticket after version ``read`` (the cancel lost)."""
    for event in deps.tickets.history(ticket.tenant, ticket.id):
        if event.version > read and event.kind == "action" and event.actor != SYSTEM:
            raise Conflict(
                f"{event.actor} took '{event.action}' on ticket {ticket.id} meanwhile; "
                "read it again and cancel it if that is still wanted"
            )
