"""Create a ticket and start its workflow: all or nothing (``POST /tickets``, forms, intake, hand-offs)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from functions.ticket.rules import execution_name, new_ticket_id, optional
from shared.clock import now
from shared.domain.ticket import Change, Ticket, TicketEvent
from shared.errors import Conflict, Unavailable, ValidationFailed
from shared.ticket_updates import update_ticket
from shared.workflow.forms import form_context, ticket_type_of, validate_form

if TYPE_CHECKING:
    from functions.ticket.customers import BuyerHints
    from functions.ticket.deps import Deps
    from shared.tenant.models import TenantConfig


def create_ticket(
    deps: Deps,
    cfg: TenantConfig,
    actor: str,
    type_id: str,
    fields: dict[str, Any],
    *,
    ticket_id: str | None = None,
    channel: str | None = None,
    parent_id: str | None = None,
    lenient: bool = False,
    buyer: BuyerHints | None = None,
    customer_id: str | None = None,
) -> Ticket:
    """Validate, store and start a ticket. With a given ``ticket_id`` it is idempotent.

    ``lenient`` (linked tickets opened by a workflow, platform deliveries): nothing is lost for a
    bad or missing field; the ticket is created, and the creation event records what was
    ``missing`` and which values were ``rejected`` and why, for a person to complete.

    With ``deps.customers`` the ticket is linked to its customer (``customers.resolve``: by its
    phone and e-mail fields and the delivery's ``buyer``; else ``customer_id``, a linked ticket's
    source's) and put on the customer's timeline once it
    runs (``customers.record_ticket``, idempotent like the rest).
    """
    ticket_type = ticket_type_of(cfg, type_id)
    specs = [optional(f) for f in ticket_type.fields] if lenient else ticket_type.fields
    accepted, problems = validate_form(specs, fields, form_context(cfg))
    if problems and not lenient:
        raise ValidationFailed(f"{len(problems)} field(s) of the {type_id} ticket are not valid", problems)
    rejected = {p["field"]: {"value": fields.get(p["field"]), "message": p["message"]} for p in problems}
    missing = [f.name for f in ticket_type.fields if f.required and f.name not in accepted]
    known_customer, customer_id = customer_id, None
    if deps.customers is not None:  # imported here: a function that links no customer never loads it
        from functions.ticket import customers

        customer_id = customers.resolve(deps.customers, cfg, type_id, accepted, buyer)
    # a linked ticket (hand-off, follow-up) whose fields name nobody is still its source's customer's
    customer_id = customer_id or known_customer
    sla_policy, applied = ticket_type.sla, None
    if ticket_type.priority_rules:
        from functions.ticket.facts import customer_subject, prioritise, ticket_subject

        subject = {
            **ticket_subject(type_id, accepted, channel),
            **customer_subject(deps, cfg.tenant.id, customer_id),
        }
        found = prioritise(ticket_type, subject)
        if found is not None:
            number, rule = found
            if rule.priority is not None:
                accepted = {**accepted, "priority": rule.priority}
            sla_policy = rule.sla or sla_policy
            applied = {"rule": number, "priority": rule.priority, "sla": rule.sla}
    instant = now()
    new_id = ticket_id or new_ticket_id()
    # Stored with the execution it is about to start (its ARN is known before): no second write.
    planned_arn, planned_version = deps.engine.planned(cfg.tenant.id, type_id, new_id)
    ticket = Ticket(
        tenant=cfg.tenant.id,
        id=new_id,
        type=type_id,
        node=ticket_type.start,
        fields=accepted,
        created_at=instant,
        updated_at=instant,
        created_by=actor,
        channel=channel,
        parent_id=parent_id,
        catalog_version=cfg.catalog.version,
        sla_policy=sla_policy,
        incomplete=({"missing": missing, "rejected": rejected} if missing or rejected else None),
        customer_id=customer_id,
        execution_arn=planned_arn,
        workflow_version=planned_version,
    )
    if deps.catalogs is not None:
        deps.catalogs.ensure(cfg)
    changes: dict[str, Any] = {"fields": accepted}
    if missing:
        changes["missing"] = missing
    if rejected:
        changes["rejected"] = rejected
    if applied is not None:
        changes["priority_rule"] = {k: v for k, v in applied.items() if v is not None}
    event = TicketEvent(at=instant, actor=actor, kind="created", node=ticket.node, changes=changes, version=1)
    try:
        deps.tickets.create(ticket, event)
    except Conflict:
        if ticket_id is None:
            raise
        ticket = deps.tickets.get(cfg.tenant.id, ticket_id)  # a retried intake: keep the first
    if ticket.status == "open":
        # A retried intake starts again too: the name makes it idempotent, and a first attempt that
        # stopped between storing the ticket and starting its workflow is finished here.
        try:
            from functions.ticket.facts import workflow_facts

            ticket = start_execution(deps, ticket, facts=workflow_facts(deps, cfg, ticket))
        except Exception as exc:
            # All or nothing: a ticket with no workflow would stay open with nothing waiting on it.
            # Nothing is kept, so the same request (or the queue's redelivery) can simply come again.
            if ticket.version == 1:
                deps.tickets.discard(ticket)
            raise Unavailable(
                f"the workflow of the {type_id} ticket could not be started ({type(exc).__name__}); "
                "the ticket was not kept: send the request again"
            ) from exc
    if deps.customers is not None:
        from functions.ticket import customers

        customers.record_ticket(deps.customers, cfg, ticket, buyer)
    if deps.opportunities is not None and ticket_type.opportunity_rules:
        from functions.ticket.opportunities import open_opportunities

        open_opportunities(deps, cfg, ticket, "created", ticket.created_at)
    return ticket


def start_execution(
    deps: Deps, ticket: Ticket, resume_at: str | None = None, facts: dict[str, Any] | None = None
) -> Ticket:
    """Start the ticket's execution (idempotent by name) and record its ARN and version.

    The park task records them too when it runs first (``$$.Execution.Id`` and the version from the
    input): whoever comes second finds them set, so the ARN is never lost to a race. ``facts``: what
    the type's decision nodes read (``functions.ticket.facts.workflow_facts``), in the input at
    ``result.facts`` where their Choices look.
    """
    payload: dict[str, Any] = {
        "tenant": ticket.tenant,
        "ticket_id": ticket.id,
        "type": ticket.type,
        "resume_at": resume_at,
    }
    if facts is not None:
        payload["result"] = {"facts": facts}
    arn, version = deps.engine.start(ticket.tenant, ticket.type, execution_name(ticket), payload)

    def record(fresh: Ticket) -> Change | None:
        if (fresh.execution_arn, fresh.workflow_version) == (arn, version) or fresh.retries != ticket.retries:
            return None  # recorded at creation or by the park task, or a later retry took over
        return Change(kind=None, update={"execution_arn": arn, "workflow_version": version}, bump=False)

    return update_ticket(deps.tickets, ticket.tenant, ticket.id, record)
