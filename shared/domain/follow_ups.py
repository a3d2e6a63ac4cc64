"""A ticket's follow-up entries (``ticket.follow_ups``): their states and the names they give.

Kept apart from ``shared.follow_ups`` (which plans them from the tenant file and a calendar) so the
ticket API, which only cancels them, loads nothing of the tenant models or calendars for it.
"""

from __future__ import annotations

from typing import Any

from shared.domain.timers import schedule_name

PENDING, CREATED, CANCELLED, FAILED = "pending", "created", "cancelled", "failed"


def follow_up_timer_name(tenant: str, ticket_id: str, key: str) -> str:
    """The one-time schedule of the ticket's follow-up ``key``."""
    return schedule_name("fu", tenant, ticket_id, key)


def child_id(ticket_id: str, key: str) -> str:
    """The id of the ticket a follow-up opens: the same for every retry of its schedule."""
    return f"{ticket_id}-{key}"


def pending(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [entry for entry in entries if entry.get("status") == PENDING]


def cancelled(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries with every pending one cancelled (the source ticket was cancelled first)."""
    return [{**entry, "status": CANCELLED} if entry.get("status") == PENDING else entry for entry in entries]
