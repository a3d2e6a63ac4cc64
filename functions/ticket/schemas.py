"""API input and output models of the ticket service (separate from the domain and stored models)."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.ticket import Assignee, Ticket, TicketEvent, TicketStatus
from shared.errors import ValidationFailed


class CreateTicketRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(description="ticket type id from the tenant file, e.g. 'install'")
    fields: dict[str, Any] = Field(
        default_factory=dict, description="ticket fields (wire format of CONTRACT.md)"
    )


class ActRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: str = Field(description="one of the current node's actions")
    fields: dict[str, Any] = Field(default_factory=dict, description="the node's form")
    version: int = Field(ge=1, description="the ticket version the caller read (optimistic locking)")


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class TicketOut(BaseModel):
    id: str
    type: str
    status: TicketStatus
    node: str
    version: int
    assignee: Assignee | None
    fields: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    created_by: str
    channel: str | None = None
    workflow_version: str | None = None
    catalog_version: str | None = None
    sla_policy: str | None = None
    ready: bool = Field(description="true when the current node waits for an action")
    parent_id: str | None = None
    children: list[str] = Field(default_factory=list)
    dispatch: dict[str, Any] | None = None
    sla: dict[str, Any] | None = None
    settlement: dict[str, Any] | None = None
    closed_at: datetime | None = None
    reason: str | None = None
    incomplete: dict[str, Any] | None = Field(
        default=None, description="fields still missing or rejected (tickets from platforms or workflows)"
    )


class TicketPage(BaseModel):
    items: list[TicketOut]
    next: str | None = Field(description="pass as ?next= for the following page; null at the end")


def encode_cursor(key: dict[str, Any] | None, tenant: str) -> str | None:
    if not key:
        return None
    raw = json.dumps({"t": tenant, "k": key}, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, tenant: str) -> dict[str, Any] | None:
    """The cursor names its tenant, so one tenant's cursor can never read another's keys."""
    if not cursor:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if data["t"] != tenant or not isinstance(data["k"], dict):
            raise ValueError
        return dict(data["k"])
    except (ValueError, KeyError, TypeError):
        raise ValidationFailed(
            "the 'next' cursor is not valid",
            [{"field": "next", "message": "pass the cursor of the previous page"}],
        ) from None


class HistoryOut(BaseModel):
    ticket_id: str
    events: list[TicketEvent]


def ticket_out(ticket: Ticket) -> TicketOut:
    data = ticket.model_dump(exclude={"token", "token_node", "routing", "execution_arn", "visits", "tenant"})
    return TicketOut(**data, ready=ticket.parked)
