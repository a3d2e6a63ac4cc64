"""Failing a ticket visibly: status ``failed``, the reason on the ticket and in its history."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from shared.clock import now
from shared.domain.ticket import Ticket, TicketEvent
from shared.errors import Conflict

SYSTEM = "system"


class _Tickets(Protocol):
    def get(self, tenant: str, ticket_id: str) -> Ticket: ...
    def save(self, ticket: Ticket, *, expected_version: int, event: TicketEvent | None = ...) -> None: ...


def mark_failed(
    tickets: _Tickets,
    tenant: str,
    ticket_id: str,
    node: str,
    reason: str,
    *,
    updates: dict[str, Any] | None = None,
    attempts: int = 5,
) -> None:
    """Mark an open ticket failed at ``node`` with ``reason`` (and ``updates``), retrying when it
    changed meanwhile. A ticket that is no longer open is left as it is."""
    for _attempt in range(attempts):
        ticket = tickets.get(tenant, ticket_id)
        if ticket.status != "open":
            return
        failed = ticket.model_copy(
            update={
                "status": "failed",
                "reason": reason,
                "node": node,
                "failure": {"at": now().isoformat(), "node": node, "reason": reason},
                **(updates or {}),
                "updated_at": now(),
                "version": ticket.version + 1,
            }
        )
        event = TicketEvent(
            at=now(),
            actor=SYSTEM,
            kind="failed",
            node=node,
            changes={"reason": reason},
            version=failed.version,
        )
        try:
            tickets.save(failed, expected_version=ticket.version, event=event)
            return
        except Conflict:
            continue


def fail_past_loop_cap(
    tickets: _Tickets,
    ticket: Ticket,
    node: str,
    cap: int,
    *,
    at: datetime,
    updates: dict[str, Any] | None = None,
) -> str:
    """``ticket`` reached ``node`` more than ``cap`` times: mark it failed at the version read
    (``Conflict`` when it changed meanwhile) and answer the reason, for the caller's own error."""
    reason = f"node '{node}' was reached more than {cap} times; the workflow stopped"
    failed = ticket.model_copy(
        update={
            "status": "failed",
            "reason": reason,
            "failure": {"at": at.isoformat(), "node": node, "reason": reason},
            **(updates or {}),
            "updated_at": at,
            "version": ticket.version + 1,
        }
    )
    event = TicketEvent(
        at=at, actor=SYSTEM, kind="failed", node=node, changes={"reason": reason}, version=failed.version
    )
    tickets.save(failed, expected_version=ticket.version, event=event)
    return reason
