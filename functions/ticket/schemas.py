"""API input and output models of the ticket service (separate from the domain and stored models).

Every model is ``defer_build``: its validator and serializer are built when a request first uses
it (powertools builds a route's models when the route is first resolved), not at the cold start.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.ticket import Assignee, Ticket, TicketEvent, TicketStatus

if TYPE_CHECKING:
    from shared.domain.customer import Customer
    from shared.domain.opportunity import Opportunity


class CreateTicketRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    type: str = Field(description="ticket type id from the tenant file, e.g. 'install'")
    fields: dict[str, Any] = Field(
        default_factory=dict, description="ticket fields in their wire format (README)"
    )


class ActRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    action: str = Field(description="one of the current node's actions")
    fields: dict[str, Any] = Field(default_factory=dict, description="the node's form")
    version: int = Field(ge=1, description="the ticket version the caller read (optimistic locking)")


class FieldsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    fields: dict[str, Any] = Field(description="the ticket's own fields to set or correct; null clears one")
    version: int = Field(ge=1, description="the version you read (optimistic locking)")


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    reason: str = Field(min_length=1, max_length=500)
    version: int | None = Field(
        default=None, ge=1, description="cancel only if the ticket is still at this version (else 409)"
    )


class ReassignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    technician: str = Field(min_length=1, max_length=64, description="a technician of the tenant file")
    version: int = Field(ge=1, description="the version read; a changed ticket answers 409")


class TicketOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

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
    execution_arn: str | None = Field(default=None, description="the Step Functions execution running it")
    retries: int = Field(default=0, description="how many times the failed ticket was retried")
    failure: dict[str, Any] | None = Field(
        default=None, description="failed tickets: node, reason, execution status and error; retry it"
    )
    customer_id: str | None = Field(default=None, description="the customer (GET /customers/{id})")
    follow_ups: list[dict[str, Any]] = Field(
        default_factory=list,
        description="follow-ups (回访) planned by this ticket's events: key, id, event, ticket_type, at, "
        "status (pending, created with its ticket, cancelled, failed with a reason)",
    )


class TicketPage(BaseModel):
    model_config = ConfigDict(defer_build=True)

    items: list[TicketOut]
    next: str | None = Field(description="pass as ?next= for the following page; null at the end")


class HistoryOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    ticket_id: str
    events: list[TicketEvent]


class CustomerOut(BaseModel):
    """A customer across channels. For a merged id, the survivor's profile with ``requested_id``."""

    model_config = ConfigDict(defer_build=True)

    id: str
    requested_id: str | None = Field(
        default=None, description="the id asked for, when it was merged into this customer"
    )
    name: str | None = None
    phones: list[str]
    emails: list[str]
    platform_ids: list[str] = Field(description="shopify:<buyer id>, youzan:..., wecom:<external user id>")
    tier: str | None = None
    tags: list[str]
    lifetime_value: str = Field(description="decimal string, the tenant's currency")
    orders: int
    tickets: int
    merged_from: list[str] = Field(description="ids merged into this customer")
    created_at: datetime
    updated_at: datetime


class CustomerList(BaseModel):
    model_config = ConfigDict(defer_build=True)

    items: list[CustomerOut]


class TimelineEntryOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    at: datetime
    kind: str = Field(description="ticket_opened, ticket_closed, ticket_cancelled, order_received, ...")
    ref: str = Field(description="the ticket id, or <channel>/<delivery id>")
    channel: str | None = None
    summary: dict[str, Any] = Field(default_factory=dict)


class TimelinePage(BaseModel):
    model_config = ConfigDict(defer_build=True)

    customer_id: str
    items: list[TimelineEntryOut]
    next: str | None = Field(description="pass as ?cursor= for the following page; null at the end")


def customer_out(customer: Customer, requested_id: str | None = None) -> CustomerOut:
    data = customer.model_dump(exclude={"tenant", "merged_into", "version", "lifetime_value"})
    return CustomerOut(**data, requested_id=requested_id, lifetime_value=f"{customer.lifetime_value:.2f}")


def ticket_out(ticket: Ticket) -> TicketOut:
    data = ticket.model_dump(exclude={"token", "token_node", "routing", "route_success", "visits", "tenant"})
    return TicketOut(**data, ready=ticket.parked)


# ------------------------------------------------------------------ opportunities


class OpportunityActionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    action: Literal["win", "lose", "assign"]
    reason: str | None = Field(default=None, max_length=500, description="why it was lost (required to lose)")
    user: str | None = Field(
        default=None, max_length=100, description="the user to assign it to (required to assign)"
    )
    version: int | None = Field(
        default=None, ge=1, description="act only if the opportunity is still at this version (else 409)"
    )


class OpportunityEventOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    at: datetime
    actor: str
    action: str
    details: dict[str, Any] = Field(default_factory=dict)


class OpportunityOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    id: str
    kind: str
    amount: str | None = Field(description="money in `currency`, a decimal string")
    currency: str
    status: str = Field(description="open, won or lost")
    stage: str = Field(description="new (a role owns it), working (a user does), won or lost")
    owner: str = Field(description="a user id, or role:<id>")
    ticket_id: str
    ticket_type: str
    rule: str
    customer_id: str | None = None
    lost_reason: str | None = None
    created_at: datetime
    updated_at: datetime
    version: int
    history: list[OpportunityEventOut]


class OpportunityPage(BaseModel):
    model_config = ConfigDict(defer_build=True)

    items: list[OpportunityOut]
    next: str | None = Field(description="pass as ?cursor= for the following page; null at the end")


class PipelineRow(BaseModel):
    model_config = ConfigDict(defer_build=True)

    stage: str = Field(description="new, working, won or lost")
    kind: str
    currency: str
    count: int
    amount: str = Field(description="the sum of their amounts, a decimal string")


class PipelineReport(BaseModel):
    model_config = ConfigDict(defer_build=True)

    rows: list[PipelineRow] = Field(description="stages in pipeline order, kinds as first met")


def opportunity_out(opp: Opportunity) -> OpportunityOut:
    data = opp.model_dump(exclude={"tenant", "amount", "history"})
    return OpportunityOut(
        **data,
        amount=None if opp.amount is None else f"{opp.amount:.2f}",
        stage=opp.stage,
        history=[OpportunityEventOut(**line.model_dump()) for line in opp.history],
    )


class TenantDefinitionOut(BaseModel):
    """``GET /tenant``: the tenant file as the web console needs it (``functions/ticket/definition.py``):
    types, nodes (actions as ``[label, target]`` in file order), forms, names; no contact, secret or price."""

    tenant: dict[str, Any]
    regions: list[dict[str, Any]]
    ticket_types: dict[str, dict[str, Any]] = Field(description="in the file's order; nodes too")
    catalog: dict[str, Any]
    users: list[dict[str, Any]]
    technicians: list[dict[str, Any]]
