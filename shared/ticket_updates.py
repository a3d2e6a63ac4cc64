"""One way to change a ticket, for every service (``../shared/STYLE.md``: "One way to change a ticket").

- ``update_ticket``: read, describe the change (``Change``), save one version later with its history
  line, and on a conflict read again and decide again; or, with ``expected_version`` (a person's
  request at the version they read), refuse with ``Conflict`` instead.
- ``put_back``: the one compensation of a saga that spans the ticket store and the workflow: a move
  that did not happen in the workflow is written back, with a line of history that says why.
- ``move_and_resume``: a person's action or the platform's action on their behalf (an offer that
  expired): save the move, then resume the parked task; put the ticket back when the workflow is gone
  or could not be reached.

Logic on the ``TicketStore`` port only: no AWS call, no repository import.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from shared.clock import now
from shared.domain.ticket import Change, Ticket, TicketEvent, apply_change, failed_change
from shared.errors import Conflict
from shared.ports import TaskTokenGone

if TYPE_CHECKING:
    from shared.ports import TicketStore, WorkflowEngine
    from shared.tenant.models import Node

ATTEMPTS = 8


class Save(Protocol):
    """How the changed ticket is saved: the store's ``save``, or a transaction that also changes
    something else (a technician's load) at the same time."""

    def __call__(self, ticket: Ticket, *, expected_version: int, event: TicketEvent | None) -> None: ...


Decide = Callable[[Ticket], Change | None]
"""Looks at the ticket as read and says what to change (``None``: nothing; raise to refuse)."""


def update_ticket(
    tickets: TicketStore,
    tenant: str,
    ticket_id: str,
    decide: Decide,
    *,
    expected_version: int | None = None,
    stale: str | None = None,
    read: Ticket | None = None,
    save: Save | None = None,
    attempts: int = ATTEMPTS,
) -> Ticket:
    """Change the ticket as ``decide`` says and answer it as saved (as read when nothing changed).

    ``read``: the ticket already read by the caller (saves the first read). ``expected_version``:
    only at that version, else ``Conflict(stale)``. ``save``: a transactional save instead of the
    store's; a subclass of ``Conflict`` it raises (e.g. the technician is busy) is not a stale read
    and goes to the caller.
    """
    ticket = read
    for _attempt in range(attempts):
        if ticket is None:
            ticket = tickets.get(tenant, ticket_id)
        if expected_version is not None and ticket.version != expected_version:
            raise Conflict(stale or _stale(expected_version, ticket))
        change = decide(ticket)
        if change is None:
            return ticket
        updated, event = apply_change(ticket, change, now())
        try:
            (save or tickets.save)(updated, expected_version=ticket.version, event=event)
        except Conflict as exc:
            if type(exc) is not Conflict:
                raise
            if expected_version is not None:
                raise Conflict(stale or _stale(expected_version, ticket)) from None
            ticket = None  # changed meanwhile (the workflow, a timer, a person): read again
            continue
        return updated
    raise Conflict(f"ticket {ticket_id} kept changing; try again")


def _stale(version: int, ticket: Ticket) -> str:
    return f"stale version {version}: the ticket is at version {ticket.version}; read it again"


def put_back(
    tickets: TicketStore,
    before: Ticket,
    moved: Ticket,
    kind: str,
    reason: str,
    **update: Any,
) -> Ticket | None:
    """Write ``before`` back over ``moved`` (a saga's step that did not happen) with a ``kind`` line
    of history giving ``reason``; ``update`` sets values on the restored ticket (``token=None``: the
    task is gone; ``retries=...``: the count stays).

    Answers the restored ticket, or ``None`` when something changed the ticket after ``moved``: that
    later write stands (the workflow moved on meanwhile)."""
    base = before.model_copy(update={"version": moved.version})
    change = Change(kind=kind, update=update, node=before.node, changes={"reason": reason})
    try:
        return update_ticket(
            tickets, moved.tenant, moved.id, lambda _: change, read=base, expected_version=moved.version
        )
    except Conflict:
        return None


def move_and_resume(
    tickets: TicketStore,
    engine: WorkflowEngine,
    ticket: Ticket,
    node: Node,
    action: str,
    change: Change,
    *,
    stale: str | None = None,
    save: Save | None = None,
    undo: Callable[[], None] | None = None,
    facts: Callable[[Ticket], dict[str, Any] | None] | None = None,
) -> Ticket:
    """Take ``action`` on the parked ``ticket`` (as read): save ``change`` at its version, then resume
    the parked task (with ``facts(moved)``, the facts a decision downstream reads, if given). When
    the task is gone (``TaskTokenGone``, re-raised) or the workflow could not be reached (the error
    re-raised; the token kept, so the action can be taken again), ``undo`` runs and the ticket is
    put back with a line of history that says why."""
    from shared.workflow.resume import resume

    token = ticket.token
    if token is None:
        raise TaskTokenGone(f"ticket {ticket.id} is not parked at '{ticket.node}'")
    moved = update_ticket(
        tickets,
        ticket.tenant,
        ticket.id,
        lambda _: change,
        read=ticket,
        expected_version=ticket.version,
        stale=stale,
        save=save,
    )
    try:
        known = facts(moved) if facts is not None else None
        resume(engine, token, node, ticket.node, action, ticket.routing, ticket.route_success, known)
    except TaskTokenGone as exc:
        if undo is not None:
            undo()
        reason = f"the workflow no longer waits at '{ticket.node}' ({exc})"
        put_back(tickets, ticket, moved, "action_failed", reason, token=None, token_node=None)
        raise TaskTokenGone(reason) from exc
    except Exception as exc:
        # Not delivered (throttled after the SDK's retries, the service unavailable): the workflow
        # still waits with this token. Put the ticket back, token and all, so the action can be
        # taken again, rather than leave it claiming a move that never happened.
        if undo is not None:
            undo()
        reason = f"the workflow could not be resumed ({type(exc).__name__}); try again"
        put_back(tickets, ticket, moved, "action_failed", reason)
        raise
    return moved


def mark_failed(
    tickets: TicketStore,
    tenant: str,
    ticket_id: str,
    node: str,
    reason: str,
    *,
    updates: dict[str, Any] | None = None,
) -> Ticket | None:
    """Mark an open ticket failed at ``node`` with ``reason`` (and ``updates``), reading again when it
    changed meanwhile. A ticket that is no longer open is left as it is (answers ``None``)."""

    def decide(ticket: Ticket) -> Change | None:
        if ticket.status != "open":
            return None
        return failed_change(ticket, node, reason, now(), {"node": node, **(updates or {})})

    ticket = update_ticket(tickets, tenant, ticket_id, decide)
    return ticket if ticket.status == "failed" else None


def fail_past_loop_cap(
    tickets: TicketStore,
    ticket: Ticket,
    node: str,
    cap: int,
    *,
    at: datetime | None = None,
    updates: dict[str, Any] | None = None,
) -> str:
    """``ticket`` reached ``node`` more than ``cap`` times: mark it failed at the version read
    (``Conflict`` when it changed meanwhile) and answer the reason, for the caller's own error."""
    reason = f"node '{node}' was reached more than {cap} times; the workflow stopped"
    change = failed_change(ticket, node, reason, at or now(), updates)
    update_ticket(
        tickets, ticket.tenant, ticket.id, lambda _: change, read=ticket, expected_version=ticket.version
    )
    return reason
