"""What a ticket leaving its node or its technician undoes: the technician's load, the offer's timer.
Both are best kept even when they fail half-way (idempotent, and stale timers do nothing)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.domain.timers import offer_timer_name
from shared.observability import logger

if TYPE_CHECKING:
    from functions.ticket.deps import Deps
    from shared.domain.ticket import Ticket


def release_technician(deps: Deps, ticket: Ticket) -> None:
    """The ticket leaves its technician for good: their load falls (idempotent per ticket)."""
    technician = (ticket.dispatch or {}).get("technician")
    if technician and deps.workload is not None:
        deps.workload.release(ticket.tenant, str(technician), ticket.id)


def cancel_offer(deps: Deps, ticket: Ticket) -> None:
    """The offer's timer has nothing left to do: delete it rather than let it fire and find so.

    Best effort: a timer that stays fires, sees the acceptance or the move, and does nothing.
    """
    offer = ticket.dispatch or {}
    if deps.offers is None or not offer.get("offer_expires_at") or offer.get("attempt") is None:
        return
    name = offer_timer_name(ticket.tenant, ticket.id, offer["attempt"])
    try:
        deps.offers.delete(name)
    except Exception as exc:
        logger.warning("offer timer not deleted", extra={"schedule": name, "error": type(exc).__name__})
