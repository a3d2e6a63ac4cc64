"""The ticket as the domain sees it (stored shape lives in shared/repositories), and the one way a
change to it is described (``Change``) and applied (``apply_change``): a new version, the time of the
change and, unless it is bookkeeping, one line of history."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

TicketStatus = Literal["open", "closed", "cancelled", "failed"]
SYSTEM = "system"
"""The actor of changes the platform makes by itself (workflow tasks, timers, recovery)."""


class Assignee(BaseModel):
    """Who must act on the current node: a user, a role, a department or a technician."""

    kind: Literal["user", "role", "department", "technician"]
    id: str


class Ticket(BaseModel):
    tenant: str
    id: str
    type: str
    status: TicketStatus = "open"
    node: str
    version: int = 1
    assignee: Assignee | None = None
    fields: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    created_by: str
    channel: str | None = None
    workflow_version: str | None = None
    catalog_version: str | None = None  # pinned at creation: settlement prices with this snapshot
    sla_policy: str | None = None  # pinned at creation
    execution_arn: str | None = None
    token: str | None = None
    token_node: str | None = None
    routing: str | None = None  # the parked Task's "routing" ("catch"); None: an older, Choice-shaped ASL
    route_success: list[str] | None = None
    """The parked Task's labels taken by succeeding, primary first (from the compiled ASL's payload);
    every other action fails the task with its route error. None: parked by an older ASL."""
    retries: int = 0
    """How many times a person restarted the failed ticket; names its execution (``<id>-r<n>``)."""
    failure: dict[str, Any] | None = None
    """Why and where the ticket failed: ``{"at", "node", "reason", "execution", "status", "error"}``."""
    visits: dict[str, int] = Field(default_factory=dict)
    parent_id: str | None = None
    children: list[str] = Field(default_factory=list)
    dispatch: dict[str, Any] | None = None
    sla: dict[str, Any] | None = None
    settlement: dict[str, Any] | None = None
    closed_at: datetime | None = None
    reason: str | None = None
    handoff: dict[str, Any] | None = None
    """Values given on an action for the linked ticket a hand-off (``create_ticket``) opens."""
    incomplete: dict[str, Any] | None = None  # missing / rejected fields of a leniently created ticket
    follow_ups: list[dict[str, Any]] = Field(default_factory=list)
    """Follow-ups planned by this ticket's events and what became of them (``shared.follow_ups``)."""
    customer_id: str | None = None
    """The customer the ticket is about (``functions/ticket/customers.py`` resolves it at creation)."""

    @property
    def parked(self) -> bool:
        """Waiting for a person: the node's task token is stored."""
        return self.token is not None and self.token_node == self.node


class TicketEvent(BaseModel):
    """One line of a ticket's history."""

    at: datetime
    actor: str
    kind: str
    node: str | None = None
    action: str | None = None
    changes: dict[str, Any] = Field(default_factory=dict)
    version: int


@dataclass(frozen=True)
class Change:
    """What one change does to a ticket: the new values and the line of history that says so.

    ``kind`` is the history event's kind (``None``: no history line). ``node`` is the event's node;
    by default the ticket's node after the change (an action names the node it was taken on, which
    it leaves). ``bump``: the change takes the ticket to its next version. Bookkeeping the platform
    does beside a person's work (the execution ARN, SLA levels) keeps the version, so the version a
    person read stays valid; the write is still conditioned on it.
    """

    kind: str | None
    update: Mapping[str, Any] = field(default_factory=dict)
    actor: str = SYSTEM
    node: str | None = None
    action: str | None = None
    changes: Mapping[str, Any] = field(default_factory=dict)
    bump: bool = True


def apply_change(ticket: Ticket, change: Change, at: datetime) -> tuple[Ticket, TicketEvent | None]:
    """The ticket after ``change`` at ``at`` and its history line."""
    if change.bump:
        updated = ticket.model_copy(update={**change.update, "updated_at": at, "version": ticket.version + 1})
    else:
        updated = ticket.model_copy(update=dict(change.update))
    if change.kind is None:
        return updated, None
    event = TicketEvent(
        at=at,
        actor=change.actor,
        kind=change.kind,
        node=change.node if change.node is not None else updated.node,
        action=change.action,
        changes=dict(change.changes),
        version=updated.version,
    )
    return updated, event


def failed_change(
    ticket: Ticket, node: str, reason: str, at: datetime, updates: Mapping[str, Any] | None = None
) -> Change:
    """The ticket fails visibly at ``node``: status ``failed``, the reason on it and in its history.

    ``updates`` go with it (``{"node": node}`` moves the ticket there; a loop cap leaves it where it was)."""
    return Change(
        kind="failed",
        update={
            "status": "failed",
            "reason": reason,
            "failure": {"at": at.isoformat(), "node": node, "reason": reason},
            **(updates or {}),
        },
        node=node,
        changes={"reason": reason},
    )
