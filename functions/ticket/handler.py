"""Lambda entry point of the ticket service's /tickets API (its workflow tasks: ``tasks.py``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.ticket import service
from functions.ticket.schemas import (
    ActRequest,
    CancelRequest,
    CreateTicketRequest,
    CustomerList,
    CustomerOut,
    FieldsRequest,
    HistoryOut,
    OpportunityActionRequest,
    OpportunityOut,
    OpportunityPage,
    PipelineReport,
    PipelineRow,
    ReassignRequest,
    TenantDefinitionOut,
    TicketOut,
    TicketPage,
    TimelineEntryOut,
    TimelinePage,
    customer_out,
    opportunity_out,
    ticket_out,
)
from functions.ticket.wiring import customer_repository, deps, opportunity_repository, ticket_repository
from shared import metrics as catalogue
from shared.cursors import decode_cursor, encode_cursor
from shared.errors import Forbidden
from shared.http import current_caller, install_error_handlers, resolve
from shared.observability import emit_metric, logger, metrics, tracer
from shared.tenant.store import tenant_config

app = APIGatewayHttpResolver(enable_validation=True)
OPENAPI = Path(__file__).with_name("openapi.json")
install_error_handlers(app)


@app.post("/tickets", status_code=201)
def create(body: CreateTicketRequest) -> Annotated[TicketOut, "201 the created ticket"]:
    caller = current_caller(app)
    if not caller.has_any(*service.CREATOR_ROLES):
        raise Forbidden("creating tickets needs one of the roles agent, dispatcher, supervisor or admin")
    cfg = tenant_config(caller.tenant)
    ticket = service.create_ticket(deps(), cfg, caller.sub, body.type, body.fields, channel="api")
    emit_metric(catalogue.TICKETS_CREATED, 1, tenant=caller.tenant, ticket_type=ticket.type, channel="api")
    return ticket_out(ticket)  # status set by the after-hook below


@app.get("/tickets/<ticket_id>")
def get(ticket_id: str) -> TicketOut:
    caller = current_caller(app)
    tenant_config(caller.tenant)
    return ticket_out(service.visible_ticket(deps(), caller, ticket_id))


@app.post("/tickets/<ticket_id>/actions")
def act(ticket_id: str, body: ActRequest) -> TicketOut:
    caller = current_caller(app)
    cfg = tenant_config(caller.tenant)
    ticket = service.act(deps(), cfg, caller, ticket_id, body.action, body.fields, body.version)
    emit_metric(catalogue.ACTIONS_TAKEN, 1, tenant=caller.tenant, ticket_type=ticket.type, node=ticket.node)
    return ticket_out(ticket)


@app.get("/tickets/<ticket_id>/history")
def history(ticket_id: str) -> HistoryOut:
    caller = current_caller(app)
    tenant_config(caller.tenant)
    ticket = service.visible_ticket(deps(), caller, ticket_id)
    return HistoryOut(ticket_id=ticket.id, events=deps().tickets.history(caller.tenant, ticket.id))


@app.get("/tickets")
def list_tickets(
    type: Annotated[str | None, Query(description="ticket type id")] = None,
    status: Annotated[str | None, Query(pattern="^(open|closed|cancelled|failed)$")] = None,
    node: Annotated[str | None, Query(description="current node name")] = None,
    assignee: Annotated[str | None, Query(description="a user or technician id, or role:<id>")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next: Annotated[str | None, Query(description="the cursor of the previous page")] = None,
) -> TicketPage:
    caller = current_caller(app)
    cfg = tenant_config(caller.tenant)
    service.check_filters(cfg, type, node)
    assignee = service.list_scope(caller, assignee)
    tickets, more = ticket_repository().page(
        caller.tenant,
        type=type,
        status=status,
        node=node,
        assignee=assignee,
        limit=limit,
        start_key=decode_cursor(next, caller.tenant),
    )
    return TicketPage(items=[ticket_out(t) for t in tickets], next=encode_cursor(more, caller.tenant))


@app.post("/tickets/<ticket_id>/cancel")
def cancel(ticket_id: str, body: CancelRequest) -> TicketOut:
    caller = current_caller(app)
    cfg = tenant_config(caller.tenant)
    return ticket_out(service.cancel(deps(), cfg, caller, ticket_id, body.reason, body.version))


@app.post("/tickets/<ticket_id>/reassign")
def reassign(ticket_id: str, body: ReassignRequest) -> TicketOut:
    """Give a ticket at a technician's node to another technician (dispatcher, admin)."""
    from functions.ticket.reassign import reassign as reassign_ticket

    caller = current_caller(app)
    cfg = tenant_config(caller.tenant)
    return ticket_out(reassign_ticket(deps(), cfg, caller, ticket_id, body.technician, body.version))


@app.patch("/tickets/<ticket_id>/fields")
def update_fields(ticket_id: str, body: FieldsRequest) -> TicketOut:
    """Fill in or correct the ticket's own fields (agent, dispatcher, supervisor, admin)."""
    caller = current_caller(app)
    cfg = tenant_config(caller.tenant)
    return ticket_out(service.update_fields(deps(), cfg, caller, ticket_id, body.fields, body.version))


@app.post("/tickets/<ticket_id>/retry")
def retry(ticket_id: str) -> TicketOut:
    """A failed ticket starts again at the node where it failed (dispatcher, admin)."""
    from functions.ticket.recovery import retry as retry_ticket

    caller = current_caller(app)
    cfg = tenant_config(caller.tenant)
    return ticket_out(retry_ticket(deps(), cfg, caller, ticket_id))


@app.get("/customers")
def list_customers(
    phone: Annotated[str | None, Query(description="a phone number, any written form", max_length=40)] = None,
    q: Annotated[str | None, Query(description="a name or e-mail prefix", max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> CustomerList:
    """Customers by phone or by name / e-mail prefix (staff)."""
    from functions.ticket import customers  # its first request loads it, not the cold start

    caller = current_caller(app)
    cfg = tenant_config(caller.tenant)
    found = customers.find_customers(customer_repository(), cfg, caller, phone=phone, q=q, limit=limit)
    return CustomerList(items=[customer_out(c) for c in found])


@app.get("/customers/<customer_id>")
def get_customer(customer_id: str) -> CustomerOut:
    """One customer; a merged id answers its survivor with ``requested_id`` (staff; a technician:
    the customers of their tickets)."""
    from functions.ticket import customers

    caller = current_caller(app)
    customer, requested = customers.visible_customer(
        customer_repository(), deps().tickets, caller, customer_id
    )
    return customer_out(customer, requested)


@app.get("/customers/<customer_id>/timeline")
def customer_timeline(
    customer_id: str,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(description="the cursor of the previous page")] = None,
) -> TimelinePage:
    """Tickets, deliveries and opportunities of the customer across channels, oldest first."""
    from functions.ticket import customers

    caller = current_caller(app)
    store = customer_repository()
    customer, _requested = customers.visible_customer(store, deps().tickets, caller, customer_id)
    entries, more = store.timeline(
        caller.tenant, customer.id, limit=limit, start_key=decode_cursor(cursor, caller.tenant)
    )
    return TimelinePage(
        customer_id=customer.id,
        items=[TimelineEntryOut(**e.model_dump()) for e in entries],
        next=encode_cursor(more, caller.tenant),
    )


@app.get("/opportunities")
def list_opportunities(
    status: Annotated[str | None, Query(pattern="^(open|won|lost)$")] = None,
    owner: Annotated[str | None, Query(description="a user id, or role:<id>", max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(description="the cursor of the previous page")] = None,
) -> OpportunityPage:
    """Sales opportunities opened by the tenant's rules, by status, newest first (staff and sales;
    anyone else only their own)."""
    from functions.ticket import opportunities

    caller = current_caller(app)
    tenant_config(caller.tenant)
    found, more = opportunity_repository().page(
        caller.tenant,
        status=status,
        owner=opportunities.list_scope(caller, owner),
        limit=limit,
        start_key=decode_cursor(cursor, caller.tenant),
    )
    return OpportunityPage(items=[opportunity_out(o) for o in found], next=encode_cursor(more, caller.tenant))


@app.get("/reports/pipeline")
def pipeline_report() -> PipelineReport:
    """The sales pipeline now: count and amount of the tenant's opportunities per stage and kind
    (staff and sales)."""
    from functions.ticket import opportunities
    from shared.domain.opportunity import pipeline

    caller = current_caller(app)
    tenant_config(caller.tenant)
    if not caller.has_any(*opportunities.VIEWER_ROLES):
        raise Forbidden("the pipeline report is for staff and sales")
    rows = pipeline(opportunity_repository().every(caller.tenant))
    return PipelineReport(rows=[PipelineRow(**{**row, "amount": f"{row['amount']:.2f}"}) for row in rows])


@app.get("/opportunities/<opportunity_id>")
def get_opportunity(opportunity_id: str) -> OpportunityOut:
    from functions.ticket import opportunities

    caller = current_caller(app)
    tenant_config(caller.tenant)
    return opportunity_out(opportunities.visible(opportunity_repository(), caller, opportunity_id))


@app.post("/opportunities/<opportunity_id>/actions")
def act_on_opportunity(opportunity_id: str, body: OpportunityActionRequest) -> OpportunityOut:
    """``win``, ``lose`` (with ``reason``) or ``assign`` (to ``user``) an open opportunity (sales,
    supervisor, admin, or its owner); 409 when it is not open or moved meanwhile."""
    from functions.ticket import opportunities

    caller = current_caller(app)
    cfg = tenant_config(caller.tenant)
    opp = opportunities.act(
        deps(),
        cfg,
        caller,
        opportunity_id,
        body.action,
        reason=body.reason,
        user=body.user,
        version=body.version,
    )
    return opportunity_out(opp)


@app.get("/tenant")
def tenant_definition() -> TenantDefinitionOut:
    """The tenant file as the people who work the tickets need it (types, nodes, forms, names)."""
    from functions.ticket.definition import tenant_definition as view

    caller = current_caller(app)
    return TenantDefinitionOut.model_validate(view(tenant_config(caller.tenant)))


@app.get("/openapi.json", include_in_schema=False)
def openapi() -> dict[str, Any]:
    """The whole API's document (all services), generated at build time by ``scrm openapi``."""
    return dict(json.loads(OPENAPI.read_text(encoding="utf-8")))


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@metrics.log_metrics
@tracer.capture_lambda_handler
def api(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    answer = resolve(app, event, context)
    if event.get("routeKey") == "POST /tickets" and answer.get("statusCode") == 200:
        answer["statusCode"] = 201
    return answer
