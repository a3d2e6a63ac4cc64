"""Ticket logic: create, park, act, step, cancel. Pure Python; repositories and engines come in."""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from shared.clock import now
from shared.domain.failures import fail_past_loop_cap
from shared.domain.ticket import Assignee, Ticket, TicketEvent
from shared.domain.timers import offer_timer_name
from shared.errors import (
    Conflict,
    Forbidden,
    LoopLimitExceeded,
    NotFound,
    NotReady,
    Unavailable,
    ValidationFailed,
)
from shared.identity import Caller
from shared.observability import logger
from shared.ports import NoSla, SlaScheduler, TaskTokenGone, Timers, WorkflowEngine, Workload
from shared.workflow.forms import FormContext, validate_form
from shared.workflow.resume import resume
from shared.workflow.routing import MAX_NODE_VISITS

if TYPE_CHECKING:
    from shared.tenant.models import FieldDef, Node, TenantConfig, TicketType

CREATOR_ROLES = ("agent", "dispatcher", "admin", "supervisor")
STAFF_ROLES = (*CREATOR_ROLES, "finance")  # see every ticket of their tenant
SYSTEM = "system"
ACCEPT = "accept"
"""Built-in action of a node worked by the dispatched technician (``assignee: {technician: assigned}``):
take the offered ticket. It records the acceptance, so the offer no longer expires, and does not move
the ticket or resume the workflow. A node that defines its own ``accept`` action gets that one instead."""


class TicketStore(Protocol):
    def create(self, ticket: Ticket, event: TicketEvent) -> None: ...
    def get(self, tenant: str, ticket_id: str) -> Ticket: ...
    def find(self, tenant: str, ticket_id: str) -> Ticket | None: ...
    def save(
        self,
        ticket: Ticket,
        *,
        expected_version: int,
        event: TicketEvent | None = ...,
        condition: Any = ...,
        conflict_message: str = ...,
    ) -> None: ...
    def history(self, tenant: str, ticket_id: str) -> list[TicketEvent]: ...
    def discard(self, ticket: Ticket) -> None: ...


@dataclass
class Deps:
    """What the ticket logic works with (handlers build it; tests pass fakes)."""

    tickets: TicketStore
    engine: WorkflowEngine
    sla: SlaScheduler = field(default_factory=NoSla)
    workload: Workload | None = None
    catalogs: CatalogStore | None = None
    offers: Timers | None = None
    """The dispatch offers' timers: cancelled once the technician takes or leaves the offered node."""
    notifier: Any = None
    """Tells the tenant's dispatchers about a failed ticket (``functions.dispatch.notify.Notifier``)."""


class CatalogStore(Protocol):
    def ensure(self, cfg: TenantConfig) -> None:
        """Keep the current catalog version, so tickets created now are settled with it."""
        ...


def new_ticket_id() -> str:
    """Readable, roughly time-ordered, unguessable: ``TK-261123-8f3a2c1d``."""
    return f"TK-{now():%y%m%d}-{secrets.token_hex(4)}"


def form_context(cfg: TenantConfig) -> FormContext:
    return FormContext(
        regions=(r.code for r in cfg.regions),
        technicians=(t.id for t in cfg.technicians),
        service_items=(i.code for i in cfg.catalog.service_items),
        parts=(p.sku for p in cfg.catalog.parts),
    )


def ticket_type_of(cfg: TenantConfig, type_id: str) -> TicketType:
    try:
        return cfg.ticket_types[type_id]
    except KeyError:
        known = ", ".join(cfg.ticket_types)
        raise ValidationFailed(
            f"unknown ticket type '{type_id}'",
            [{"field": "type", "message": f"unknown ticket type '{type_id}'; known: {known}"}],
        ) from None


def assignee_for(node: Node, ticket: Ticket) -> Assignee | None:
    """The node's assignee rule for this ticket (``technician: assigned``: the dispatched one)."""
    rule = node.assignee
    if rule is None:
        return None
    if rule.user:
        return Assignee(kind="user", id=rule.user)
    if rule.role:
        return Assignee(kind="role", id=rule.role)
    if rule.department:
        return Assignee(kind="department", id=rule.department)
    if rule.technician == "assigned":
        technician = (ticket.dispatch or {}).get("technician")
        return Assignee(kind="technician", id=technician) if technician else None
    return Assignee(kind="technician", id=str(rule.technician))


def may_act(caller: Caller, assignee: Assignee | None, cfg: TenantConfig) -> bool:
    if "admin" in caller.roles:
        return True
    if assignee is None:
        return False
    if assignee.kind in ("user", "technician"):
        return caller.sub == assignee.id
    if assignee.kind == "role":
        return assignee.id in caller.roles
    departments = {u.id: getattr(u, "department", None) for u in cfg.users}
    return departments.get(caller.sub) == assignee.id


def visible_ticket(deps: Deps, caller: Caller, ticket_id: str) -> Ticket:
    """The ticket if the caller may see it: staff see their tenant's tickets, a technician only
    those dispatched to them. Anything else is ``NotFound`` (no hint that the ticket exists)."""
    ticket = deps.tickets.get(caller.tenant, ticket_id)
    if caller.has_any(*STAFF_ROLES) or (ticket.dispatch or {}).get("technician") == caller.sub:
        return ticket
    raise NotFound(f"ticket '{ticket_id}' does not exist")


def check_filters(cfg: TenantConfig, type_id: str | None, node: str | None) -> None:
    """A filter on a type or node the tenant does not have is a mistake, not an empty page (422)."""
    if type_id is not None:
        ticket_type_of(cfg, type_id)
    if node is None:
        return
    types = [cfg.ticket_types[type_id]] if type_id is not None else list(cfg.ticket_types.values())
    if not any(node in t.nodes for t in types):
        known = list(dict.fromkeys(n for t in types for n in t.nodes))
        raise ValidationFailed(
            f"unknown node '{node[:64]}'",
            [
                {
                    "field": "node",
                    "message": f"no ticket type has node '{node[:64]}'; known: {', '.join(known)}",
                }
            ],
        )


def list_scope(caller: Caller, assignee: str | None) -> str | None:
    """Staff list any assignee's tickets; a technician (or anyone else) only their own."""
    if caller.has_any(*STAFF_ROLES):
        return assignee
    if assignee not in (None, caller.sub):
        raise Forbidden("you can list only the tickets assigned to you")
    return caller.sub


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
) -> Ticket:
    """Validate, store and start a ticket. With a given ``ticket_id`` it is idempotent.

    ``lenient`` (linked tickets opened by a workflow, platform deliveries): nothing is lost for a
    bad or missing field; the ticket is created, and the creation event records what was
    ``missing`` and which values were ``rejected`` and why, for a person to complete.
    """
    ticket_type = ticket_type_of(cfg, type_id)
    specs = [_optional(f) for f in ticket_type.fields] if lenient else ticket_type.fields
    accepted, problems = validate_form(specs, fields, form_context(cfg))
    if problems and not lenient:
        raise ValidationFailed(f"{len(problems)} field(s) of the {type_id} ticket are not valid", problems)
    rejected = {p["field"]: {"value": fields.get(p["field"]), "message": p["message"]} for p in problems}
    missing = [f.name for f in ticket_type.fields if f.required and f.name not in accepted]
    instant = now()
    ticket = Ticket(
        tenant=cfg.tenant.id,
        id=ticket_id or new_ticket_id(),
        type=type_id,
        node=ticket_type.start,
        fields=accepted,
        created_at=instant,
        updated_at=instant,
        created_by=actor,
        channel=channel,
        parent_id=parent_id,
        catalog_version=cfg.catalog.version,
        sla_policy=ticket_type.sla,
        incomplete=({"missing": missing, "rejected": rejected} if missing or rejected else None),
    )
    if deps.catalogs is not None:
        deps.catalogs.ensure(cfg)
    changes: dict[str, Any] = {"fields": accepted}
    if missing:
        changes["missing"] = missing
    if rejected:
        changes["rejected"] = rejected
    event = TicketEvent(at=instant, actor=actor, kind="created", node=ticket.node, changes=changes, version=1)
    try:
        deps.tickets.create(ticket, event)
    except Conflict:
        if ticket_id is None:
            raise
        ticket = deps.tickets.get(cfg.tenant.id, ticket_id)  # a retried intake: keep the first
    if ticket.execution_arn is None and ticket.status == "open":
        try:
            ticket = _start(deps, ticket)
        except Exception as exc:
            # All or nothing: a ticket with no workflow would stay open with nothing waiting on it.
            # Nothing is kept, so the same request (or the queue's redelivery) can simply come again.
            if ticket.version == 1:
                deps.tickets.discard(ticket)
            raise Unavailable(
                f"the workflow of the {type_id} ticket could not be started ({type(exc).__name__}); "
                "the ticket was not kept: send the request again"
            ) from exc
    return ticket


def execution_name(ticket: Ticket) -> str:
    """The name of the ticket's current execution: its id, then ``<id>-r<n>`` for the n-th retry."""
    return ticket.id if not ticket.retries else f"{ticket.id}-r{ticket.retries}"


def _start(deps: Deps, ticket: Ticket, resume_at: str | None = None) -> Ticket:
    """Start the ticket's execution (idempotent by name) and record its ARN and version.

    The park task records them too when it runs first (``$$.Execution.Id`` and the version from the
    input): whoever comes second finds them set, so the ARN is never lost to a race.
    """
    payload = {"tenant": ticket.tenant, "ticket_id": ticket.id, "type": ticket.type, "resume_at": resume_at}
    arn, version = deps.engine.start(ticket.tenant, ticket.type, execution_name(ticket), payload)
    for _attempt in range(8):
        fresh = deps.tickets.get(ticket.tenant, ticket.id)
        if fresh.execution_arn == arn or fresh.retries != ticket.retries:
            return fresh  # recorded by the park task, or a later retry took over
        started = fresh.model_copy(update={"execution_arn": arn, "workflow_version": version})
        try:
            deps.tickets.save(started, expected_version=fresh.version)
        except Conflict:
            continue  # the workflow moved it meanwhile; read again
        return started
    return deps.tickets.get(ticket.tenant, ticket.id)


def _visit(cfg: TenantConfig, ticket: Ticket, node: str) -> Ticket:
    visits = dict(ticket.visits)
    visits[node] = visits.get(node, 0) + 1
    return ticket.model_copy(update={"visits": visits})


def _fail_loop(deps: Deps, ticket: Ticket, node: str) -> None:
    updates = {"token": None}
    raise LoopLimitExceeded(
        fail_past_loop_cap(deps.tickets, ticket, node, MAX_NODE_VISITS, at=now(), updates=updates)
    )


def park(
    deps: Deps,
    cfg: TenantConfig,
    ticket_id: str,
    node_name: str,
    token: str,
    routing: str | None = None,
    *,
    success: list[str] | None = None,
    execution: str | None = None,
    workflow_version: str | None = None,
) -> dict[str, Any]:
    """A human node was reached: store its task token on the ticket so an action can resume it.

    ``routing`` and ``success`` are the Task payload's (``"catch"`` and the labels taken by
    succeeding, primary first, as the compiled ASL says; None from older versions); they are stored
    with the token and decide how an action resumes the task and which one needs the full form.
    ``execution`` (``$$.Execution.Id``) and ``workflow_version`` are recorded when the ticket has none
    yet (the start that recorded them lost a race with this task).
    """
    for _attempt in range(8):
        ticket = deps.tickets.get(cfg.tenant.id, ticket_id)
        if ticket.status != "open":
            return {"parked": False, "status": ticket.status}
        if execution and ticket.execution_arn and execution != ticket.execution_arn:
            return {"parked": False, "status": "superseded"}  # an older execution of a retried ticket
        visited = _visit(cfg, ticket, node_name)
        if visited.visits[node_name] > MAX_NODE_VISITS:
            _fail_loop(deps, ticket, node_name)
        node = cfg.ticket_types[ticket.type].nodes[node_name]
        parked = visited.model_copy(
            update={
                "node": node_name,
                "token": token,
                "token_node": node_name,
                "routing": routing,
                "route_success": success,
                "assignee": assignee_for(node, ticket),
                "execution_arn": ticket.execution_arn or execution,
                "workflow_version": ticket.workflow_version or workflow_version,
                "updated_at": now(),
                "version": ticket.version + 1,
            }
        )
        sla = deps.sla.start(cfg, parked, node_name)
        if sla is not None:
            parked = parked.model_copy(update={"sla": sla})
        event = TicketEvent(
            at=now(),
            actor=SYSTEM,
            kind="entered",
            node=node_name,
            changes={"assignee": parked.assignee.model_dump() if parked.assignee else None},
            version=parked.version,
        )
        try:
            deps.tickets.save(parked, expected_version=ticket.version, event=event)
        except Conflict:
            continue  # an API write raced us; read again
        return {"parked": True, "node": node_name}
    raise Conflict(f"could not park ticket {ticket_id} at {node_name}: it kept changing")


def act(
    deps: Deps,
    cfg: TenantConfig,
    caller: Caller,
    ticket_id: str,
    action: str,
    fields: dict[str, Any],
    version: int,
) -> Ticket:
    """Take an action on the ticket's current node: check, claim with a conditional write, resume."""
    ticket = deps.tickets.get(cfg.tenant.id, ticket_id)
    if ticket.status != "open":
        raise Conflict(f"ticket {ticket_id} is {ticket.status}; no action can be taken")
    if version != ticket.version:
        raise Conflict(f"stale version {version}: the ticket is at version {ticket.version}; read it again")
    node = cfg.ticket_types[ticket.type].nodes[ticket.node]
    if node.kind != "human":
        raise NotReady(
            f"node '{ticket.node}' is worked by the system ({node.kind}); retry when the ticket reaches "
            "a person's node"
        )
    if not ticket.parked or ticket.token is None:
        # Not parked yet: the assignee rule of the node says who will act; anyone else never may.
        expected = assignee_for(node, ticket)
        if expected is not None and not may_act(caller, expected, cfg):
            raise Forbidden(
                f"node '{ticket.node}' will be assigned to {expected.kind} {expected.id}; "
                f"you ({caller.sub}) may not act on it"
            )
        raise NotReady(f"node '{ticket.node}' is not ready for actions yet; retry in a moment")
    if not may_act(caller, ticket.assignee, cfg):
        who = f"{ticket.assignee.kind} {ticket.assignee.id}" if ticket.assignee else "nobody"
        raise Forbidden(f"node '{ticket.node}' is assigned to {who}; you ({caller.sub}) may not act on it")
    if action == ACCEPT and takes_offers(node):
        return _accept(deps, caller, ticket, version)
    if action not in node.actions:
        known = [*node.actions, *([ACCEPT] if takes_offers(node) else [])]
        raise ValidationFailed(
            f"'{action}' is not an action of node '{ticket.node}'",
            [{"field": "action", "message": f"must be one of {', '.join(known)}"}],
        )
    target = node.actions[action]
    # The form must be complete for the node's primary action (its first way out, as the compiled
    # ASL told the park task), which takes the work forward; other ways out (decline, need_parts,
    # rework) check only the values given.
    primary = action == primary_action(node, ticket)
    specs = node.form if primary else [_optional(f) for f in node.form]
    carried = handoff_fields(cfg, ticket.type, target, exclude={f.name for f in node.form})
    accepted, problems = validate_form([*specs, *carried], fields, form_context(cfg))
    if problems:
        raise ValidationFailed(f"{len(problems)} field(s) of the {ticket.node} form are not valid", problems)
    # Values for the linked ticket a hand-off opens travel with it, not in this ticket's fields (and
    # only those the person gave: no defaults of the other type).
    handoff = {f.name: accepted.pop(f.name) for f in carried if f.name in accepted and f.name in fields}
    for spec in carried:
        accepted.pop(spec.name, None)
    token = ticket.token
    moved = ticket.model_copy(
        update={
            "fields": {**ticket.fields, **accepted},
            "handoff": {**(ticket.handoff or {}), **handoff} or None,
            "node": target,
            "token": None,
            "token_node": None,
            "updated_at": now(),
            "version": ticket.version + 1,
        }
    )
    chosen = _chosen_technician(node, accepted)
    if chosen is not None:
        moved = moved.model_copy(
            update={
                "dispatch": {
                    **_without_offer(ticket.dispatch),
                    "technician": chosen,
                    "manual": True,
                    "by": caller.sub,
                    "at": now().isoformat(),
                }
            }
        )
    changed = {k: v for k, v in accepted.items() if ticket.fields.get(k) != v}
    event = TicketEvent(
        at=now(),
        actor=caller.sub,
        kind="action",
        node=ticket.node,
        action=action,
        changes={"fields": changed, "to": target},
        version=moved.version,
    )
    stale = _stale(version, ticket_id)
    if chosen is not None and deps.workload is not None:
        deps.workload.take(chosen, moved, expected_version=version, event=event)
    else:
        deps.tickets.save(moved, expected_version=version, event=event, conflict_message=stale)
    try:
        resume(deps.engine, token, node, ticket.node, action, ticket.routing, ticket.route_success)
    except TaskTokenGone as exc:
        if chosen is not None and deps.workload is not None:
            deps.workload.release(ticket.tenant, chosen, ticket.id)
        _undo(deps, ticket, moved, f"the workflow no longer waits at '{ticket.node}' ({exc})")
    except Exception as exc:
        # Not delivered (throttled after the SDK's retries, the service unavailable): the workflow
        # still waits with this token. Put the ticket back, token and all, so the action can be
        # taken again, rather than leave it claiming a move that never happened.
        if chosen is not None and deps.workload is not None:
            deps.workload.release(ticket.tenant, chosen, ticket.id)
        reason = f"the workflow could not be resumed ({type(exc).__name__}); try again"
        _undo(deps, ticket, moved, reason, keep_token=True)
        raise
    deps.sla.stop(cfg, ticket, ticket.node)
    if takes_offers(node):
        _cancel_offer(deps, ticket)
    return moved


def primary_action(node: Node, ticket: Ticket) -> str:
    """The parked node's primary action: as stored at park (from the ASL), else the file's first."""
    if ticket.route_success:
        return ticket.route_success[0]
    return next(iter(node.actions))


def _stale(version: int, ticket_id: str) -> str:
    return f"stale version {version}: someone acted on ticket {ticket_id} first; read it again"


def takes_offers(node: Node) -> bool:
    """The node is worked by the dispatched technician and has no ``accept`` action of its own."""
    return node.assignee is not None and node.assignee.is_dispatched_technician and ACCEPT not in node.actions


def _accept(deps: Deps, caller: Caller, ticket: Ticket, version: int) -> Ticket:
    """The technician takes the offered ticket: the offer stops expiring; the ticket stays where it is."""
    offer = ticket.dispatch or {}
    if offer.get("accepted_at"):
        raise Conflict(
            f"ticket {ticket.id} was already accepted by {offer.get('accepted_by')} at {offer['accepted_at']}"
        )
    at = now()
    accepted = ticket.model_copy(
        update={
            "dispatch": {**offer, "accepted_at": at.isoformat(), "accepted_by": caller.sub},
            "updated_at": at,
            "version": ticket.version + 1,
        }
    )
    event = TicketEvent(
        at=at,
        actor=caller.sub,
        kind="action",
        node=ticket.node,
        action=ACCEPT,
        changes={"accepted": True},
        version=accepted.version,
    )
    stale = _stale(version, ticket.id)
    deps.tickets.save(accepted, expected_version=version, event=event, conflict_message=stale)
    _cancel_offer(deps, ticket)
    return accepted


def _cancel_offer(deps: Deps, ticket: Ticket) -> None:
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


def _without_offer(dispatch: dict[str, Any] | None) -> dict[str, Any]:
    """A new assignment starts with no acceptance and no offer deadline of the previous one."""
    return {
        k: v
        for k, v in (dispatch or {}).items()
        if k not in ("accepted_at", "accepted_by", "offer_expires_at")
    }


def _undo(deps: Deps, before: Ticket, moved: Ticket, reason: str, *, keep_token: bool = False) -> None:
    """The claimed move did not happen: write the ticket back and say so, loudly.

    The task is gone (timed out): nobody can act on the node any more, ``Conflict``. With
    ``keep_token`` the workflow still waits: the ticket gets its token back and the caller
    re-raises its own error (the action can be taken again).
    """
    token = before.token if keep_token else None
    restored = before.model_copy(update={"version": moved.version + 1, "token": token, "updated_at": now()})
    event = TicketEvent(
        at=now(),
        actor=SYSTEM,
        kind="action_failed",
        node=before.node,
        changes={"reason": reason},
        version=restored.version,
    )
    if keep_token:
        with contextlib.suppress(Conflict):  # the workflow moved it on meanwhile: its write stands
            deps.tickets.save(restored, expected_version=moved.version, event=event)
        return
    deps.tickets.save(restored, expected_version=moved.version, event=event)
    raise Conflict(f"the action was not applied: {reason}")


FIELD_EDITOR_ROLES = ("agent", "dispatcher", "supervisor", "admin")


def update_fields(
    deps: Deps, cfg: TenantConfig, caller: Caller, ticket_id: str, fields: dict[str, Any], version: int
) -> Ticket:
    """Fill in or correct the ticket's own fields (an incomplete ticket from a platform or a hand-off,
    or a failed one before its retry), by the type's field rules; every change is in the history.

    A value of ``null`` clears an optional field; a required field cannot be cleared.
    """
    if not caller.has_any(*FIELD_EDITOR_ROLES):
        raise Forbidden(
            "changing ticket fields needs one of the roles agent, dispatcher, supervisor or admin"
        )
    ticket = deps.tickets.get(cfg.tenant.id, ticket_id)
    if ticket.status not in ("open", "failed"):
        raise Conflict(f"ticket {ticket_id} is {ticket.status}; only open or failed tickets can be changed")
    if version != ticket.version:
        raise Conflict(f"stale version {version}: the ticket is at version {ticket.version}; read it again")
    specs = cfg.ticket_types[ticket.type].fields
    given = {k: v for k, v in fields.items() if v is not None}
    cleared = [k for k, v in fields.items() if v is None]
    accepted, problems = validate_form([_optional(f) for f in specs], given, form_context(cfg))
    accepted = {k: v for k, v in accepted.items() if k in given}  # no defaults for what was not sent
    by_name = {f.name: f for f in specs}
    for name in cleared:
        if name not in by_name:
            problems.append({"field": name[:64], "message": "is not a field of this ticket type"})
        elif by_name[name].required:
            problems.append({"field": name, "message": "is required and cannot be cleared"})
    if problems:
        raise ValidationFailed(
            f"{len(problems)} field(s) of the {ticket.type} ticket are not valid", problems
        )
    values = {k: v for k, v in {**ticket.fields, **accepted}.items() if k not in cleared}
    changed = {k: v for k, v in values.items() if ticket.fields.get(k) != v}
    changed.update({k: None for k in cleared if k in ticket.fields})
    missing = [f.name for f in specs if f.required and f.name not in values]
    rejected = {
        k: v for k, v in ((ticket.incomplete or {}).get("rejected") or {}).items() if k not in changed
    }
    at = now()
    updated = ticket.model_copy(
        update={
            "fields": values,
            "incomplete": ({"missing": missing, "rejected": rejected} if missing or rejected else None),
            "updated_at": at,
            "version": ticket.version + 1,
        }
    )
    event = TicketEvent(
        at=at,
        actor=caller.sub,
        kind="fields_changed",
        node=ticket.node,
        changes={"fields": changed, "missing": missing},
        version=updated.version,
    )
    deps.tickets.save(
        updated, expected_version=version, event=event, conflict_message=_stale(version, ticket_id)
    )
    return updated


def cancel(
    deps: Deps, cfg: TenantConfig, caller: Caller, ticket_id: str, reason: str, version: int | None = None
) -> Ticket:
    """Stop the ticket's workflow and mark it cancelled (only while it is open).

    Cancelling is one of the ways out of the current node: it claims the ticket under the same
    version check as an action, so when a cancel and an action race exactly one of them wins. With
    ``version`` the claim is at that version (stale: 409); without it, a change the workflow made
    meanwhile (parking, dispatch) is read again, but a person's action meanwhile makes it 409.
    """
    if not caller.has_any(*CREATOR_ROLES):
        raise Forbidden("cancelling tickets needs one of the roles agent, dispatcher, supervisor or admin")
    read: int | None = None
    for _attempt in range(8):
        ticket = deps.tickets.get(cfg.tenant.id, ticket_id)
        if ticket.status != "open":
            raise Conflict(f"ticket {ticket_id} is {ticket.status}; only open tickets can be cancelled")
        if version is not None and ticket.version != version:
            raise Conflict(_stale(version, ticket_id))
        if read is not None:
            _no_action_since(deps, ticket, read)
        read = ticket.version
        if cfg.ticket_types[ticket.type].nodes[ticket.node].kind == "end":
            raise Conflict(
                f"ticket {ticket_id} is finishing (it reached '{ticket.node}'); it cannot be cancelled"
            )
        cancelled = ticket.model_copy(
            update={
                "status": "cancelled",
                "reason": reason,
                "token": None,
                "token_node": None,
                "closed_at": now(),
                "updated_at": now(),
                "version": ticket.version + 1,
            }
        )
        event = TicketEvent(
            at=now(),
            actor=caller.sub,
            kind="cancelled",
            node=ticket.node,
            action="cancel",
            changes={"reason": reason},
            version=cancelled.version,
        )
        try:
            deps.tickets.save(cancelled, expected_version=ticket.version, event=event)
        except Conflict:
            if version is not None:
                raise Conflict(_stale(version, ticket_id)) from None
            continue  # something moved it meanwhile; read again (a person's action: 409 above)
        if ticket.execution_arn:
            deps.engine.stop(ticket.execution_arn, f"cancelled by {caller.sub}: {reason}")
        deps.sla.stop(cfg, ticket, ticket.node)
        _release(deps, ticket)
        _cancel_offer(deps, ticket)
        return cancelled
    raise Conflict(f"ticket {ticket_id} kept changing; try again")


def _no_action_since(deps: Deps, ticket: Ticket, read: int) -> None:
    """``Conflict`` when a person acted on the ticket after version ``read`` (the cancel lost)."""
    for event in deps.tickets.history(ticket.tenant, ticket.id):
        if event.version > read and event.kind == "action" and event.actor != SYSTEM:
            raise Conflict(
                f"{event.actor} took '{event.action}' on ticket {ticket.id} meanwhile; "
                "read it again and cancel it if that is still wanted"
            )


def step(deps: Deps, cfg: TenantConfig, ticket_id: str, node_name: str) -> dict[str, Any]:
    """System nodes handled by the ticket service: ``end`` and ``create_ticket``."""
    ticket = deps.tickets.get(cfg.tenant.id, ticket_id)
    if ticket.status != "open":
        # Cancelled (or failed) while the workflow was on its way here: nothing more to do.
        return {"outcome": "done"}
    node = cfg.ticket_types[ticket.type].nodes[node_name]
    visited = _visit(cfg, ticket, node_name)
    if visited.visits[node_name] > MAX_NODE_VISITS:
        _fail_loop(deps, ticket, node_name)
    if node.kind == "end":
        if ticket.status == "closed":
            return {"outcome": "done"}
        closed = visited.model_copy(
            update={
                "status": "closed",
                "node": node_name,
                "assignee": None,
                "closed_at": now(),
                "updated_at": now(),
                "version": ticket.version + 1,
            }
        )
        event = TicketEvent(at=now(), actor=SYSTEM, kind="closed", node=node_name, version=closed.version)
        deps.tickets.save(closed, expected_version=ticket.version, event=event)
        _release(deps, ticket)
        return {"outcome": "done"}
    if node.kind == "create_ticket" and node.ticket_type:
        child_id = f"{ticket.id}-{node_name}-{visited.visits[node_name]}"
        child = create_ticket(
            deps,
            cfg,
            ticket.id,
            node.ticket_type,
            _inherited(cfg, node.ticket_type, ticket),
            ticket_id=child_id,
            channel=ticket.channel,
            parent_id=ticket.id,
            lenient=True,
        )
        linked = visited.model_copy(
            update={
                "node": node_name,
                "children": [*ticket.children, child.id],
                "updated_at": now(),
                "version": ticket.version + 1,
            }
        )
        event = TicketEvent(
            at=now(),
            actor=SYSTEM,
            kind="linked",
            node=node_name,
            changes={"child": child.id},
            version=linked.version,
        )
        if child.id not in ticket.children:
            deps.tickets.save(linked, expected_version=ticket.version, event=event)
        return {"outcome": "done", "child": child.id}
    raise NotFound(f"node '{node_name}' of kind {node.kind} is not handled by the ticket service")


def _release(deps: Deps, ticket: Ticket) -> None:
    """The ticket leaves its technician for good: their load falls (idempotent per ticket)."""
    technician = (ticket.dispatch or {}).get("technician")
    if technician and deps.workload is not None:
        deps.workload.release(ticket.tenant, str(technician), ticket.id)


def _chosen_technician(node: Node, accepted: dict[str, Any]) -> str | None:
    """A node whose form picks a technician (manual dispatch) assigns the ticket to them."""
    for spec in node.form:
        if spec.type == "technician" and accepted.get(spec.name):
            return str(accepted[spec.name])
    return None


def _optional(spec: FieldDef) -> FieldDef:
    return spec.model_copy(update={"required": False})


def handoff_fields(cfg: TenantConfig, type_id: str, target: str, exclude: set[str]) -> list[FieldDef]:
    """An action that leads to a ``create_ticket`` node may carry the linked ticket's fields too
    (optional here: the linked ticket records what is still missing)."""
    node = cfg.ticket_types[type_id].nodes.get(target)
    if node is None or node.kind != "create_ticket" or not node.ticket_type:
        return []
    return [_optional(f) for f in cfg.ticket_types[node.ticket_type].fields if f.name not in exclude]


def _inherited(cfg: TenantConfig, type_id: str, parent: Ticket) -> dict[str, Any]:
    """Fields of the parent that the linked ticket type also has, and what the hand-off carried."""
    names = {f.name for f in cfg.ticket_types[type_id].fields}
    given = {**parent.fields, **(parent.handoff or {})}
    return {k: v for k, v in given.items() if k in names}
