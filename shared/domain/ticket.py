"""The ticket as the domain sees it (stored shape lives in shared/repositories)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

TicketStatus = Literal["open", "closed", "cancelled", "failed"]


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
