"""Dispatch logic: the ``dispatch`` node's task and its expiring offers.

Pure Python: the ticket store and the technician registry come in as arguments (``ports.py``).
The registry's rules of the /technicians API are in ``registry.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from functions.dispatch.notify import notify_no_candidate
from functions.dispatch.ports import DispatchDeps
from functions.dispatch.scoring import Job, Policy, rank
from shared.calendar import BusinessCalendar
from shared.clock import iso, now
from shared.domain.failures import fail_past_loop_cap, mark_failed
from shared.domain.ticket import Assignee, Ticket, TicketEvent
from shared.domain.timers import offer_timer_name
from shared.errors import Conflict
from shared.ports import TaskTokenGone
from shared.repositories.technicians import TechnicianBusy, TechnicianRecord
from shared.tenant.models import Node, TenantConfig
from shared.workflow.routing import MAX_NODE_VISITS, decline_action, is_decline

SYSTEM = "system"
_TICKET_RETRIES = 5
_SAME_TECHNICIAN_RETRIES = 3
_RANKING_ROUNDS = 3


class LoopLimit(Exception):
    """The dispatch node was reached more often than the workflow allows."""


# --------------------------------------------------------------------------- the ticket's needs


def job_for(cfg: TenantConfig, ticket: Ticket, node: Node, declined: frozenset[str]) -> Job:
    """What the ticket needs: its region and location fields, the node's skills, who declined."""
    ticket_type = cfg.ticket_types[ticket.type]
    region_field = ticket_type.field_of_type("region", "region")
    geo_field = ticket_type.field_of_type("geo", "location")
    region = ticket.fields.get(region_field) if region_field else None
    geo = ticket.fields.get(geo_field) if geo_field else None
    location: tuple[float, float] | None = None
    if isinstance(geo, dict) and "lat" in geo and "lon" in geo:
        location = (float(geo["lat"]), float(geo["lon"]))
    return Job(
        region=str(region) if region else None,
        location=location,
        skills=dict(node.skills),
        declined=declined,
    )


def duty_check(cfg: TenantConfig, at: datetime) -> Callable[[TechnicianRecord], bool]:
    """Whether a technician is on duty at ``at`` by their calendar (no calendar: always)."""
    answers: dict[str | None, bool] = {None: True}

    def on_duty(tech: TechnicianRecord) -> bool:
        name = tech.calendar
        if name not in answers:
            cal = cfg.calendars.get(name or "")
            answers[name] = True if cal is None else BusinessCalendar.from_config(cal).is_open(at)
        return answers[name]

    return on_duty


def policy_of(cfg: TenantConfig) -> Policy:
    return Policy(weights=dict(cfg.dispatch.weights), max_distance_km=cfg.dispatch.max_distance_km)


# --------------------------------------------------------------------------- the dispatch task


def _answer(dispatch: dict[str, Any]) -> dict[str, Any]:
    technician = dispatch.get("technician")
    if technician:
        return {"outcome": "done", "technician": technician, "attempt": dispatch.get("attempt")}
    return {"outcome": "no_candidate"}


def _already_done(ticket: Ticket, node_name: str, history: list[TicketEvent]) -> bool:
    """The ticket was dispatched at this node and nothing moved it since (a retried task)."""
    current = ticket.dispatch or {}
    if current.get("node") != node_name or "version" not in current:
        return False
    since = int(current["version"])
    return not any(e.version > since and e.kind in ("action", "entered", "cancelled") for e in history)


def _last_decline(cfg: TenantConfig, ticket: Ticket, history: list[TicketEvent]) -> str | None:
    """The dispatched technician when the last action since the dispatch was their decline."""
    current = ticket.dispatch or {}
    technician = current.get("technician")
    if not technician:
        return None
    since = int(current.get("version", 0))
    actions = [e for e in history if e.kind == "action" and e.version > since]
    if not actions:
        return None
    last = actions[-1]
    # A decline is an action of the dispatched technician's node that leads back to a dispatch node,
    # whatever the tenant called it (decline, refuse, 拒单): routing.is_decline.
    declined = is_decline(cfg.ticket_types[ticket.type], last.node or "", last.action or "")
    return str(technician) if declined else None


def assign(
    deps: DispatchDeps,
    cfg: TenantConfig,
    ticket_id: str,
    node_name: str,
    *,
    offer_target: str | None = None,
) -> dict[str, Any]:
    """The ``dispatch`` node: pick the best technician and take them atomically, or say nobody fits
    (and tell the tenant's dispatchers, when the deps have a notifier).

    Answers ``{"outcome": "done", "technician": id, "attempt": n}`` or ``{"outcome": "no_candidate"}``;
    a retry of the same visit gives the same answer. With ``offer_target`` (the ARN of the function
    to call back) and an offer timer, the offer expires after ``dispatch.offer_timeout``.
    """
    answer = _assign(deps, cfg, ticket_id, node_name)
    ticket = deps.tickets.get(cfg.tenant.id, ticket_id)
    node = cfg.ticket_types[ticket.type].nodes[node_name]
    if answer["outcome"] == "no_candidate" and "status" not in answer:
        if not node.on_no_candidate:
            _fail_without_candidate(deps, cfg, ticket_id, node_name)
        if deps.notifier is not None:
            # once per visit of the node (markers), so a retried task does not send again
            explanation = (ticket.dispatch or {}).get("explanation") or {}
            notify_no_candidate(
                deps.notifier,
                cfg,
                ticket,
                node_name,
                ticket.visits.get(node_name, 0),
                explanation.get("filtered"),
            )
    if answer["outcome"] == "done" and offer_target and deps.offers is not None:
        payload = {
            "op": "offer_expired",
            "tenant": cfg.tenant.id,
            "ticket_id": ticket_id,
            "node": node_name,
            "technician": answer["technician"],
            "attempt": answer["attempt"],
        }
        name = offer_timer_name(cfg.tenant.id, ticket_id, answer["attempt"])
        deadline = (ticket.dispatch or {}).get("offer_expires_at")
        when = datetime.fromisoformat(deadline) if deadline else now() + cfg.dispatch.offer_timeout_delta
        deps.offers.at(name, when, offer_target, payload)
    return answer


class NoCandidate(Exception):
    """Nobody fits and the node names no ``on_no_candidate``: the execution fails visibly."""


def _fail_without_candidate(deps: DispatchDeps, cfg: TenantConfig, ticket_id: str, node_name: str) -> None:
    """Never let a ticket go on to a technician's node with no technician: fail it, loudly."""
    reason = (
        f"no technician fits dispatch node '{node_name}' and it has no on_no_candidate route; "
        "add one (e.g. a manual dispatch node) to the tenant file"
    )
    mark_failed(deps.tickets, cfg.tenant.id, ticket_id, node_name, reason, attempts=_TICKET_RETRIES)
    raise NoCandidate(reason)


def _assign(deps: DispatchDeps, cfg: TenantConfig, ticket_id: str, node_name: str) -> dict[str, Any]:
    tenant = cfg.tenant.id
    for _attempt in range(_TICKET_RETRIES):
        ticket = deps.tickets.get(tenant, ticket_id)
        if ticket.status != "open":
            return {"outcome": "no_candidate", "status": ticket.status}
        history = deps.tickets.history(tenant, ticket_id)
        if _already_done(ticket, node_name, history):
            return _answer(ticket.dispatch or {})
        node = cfg.ticket_types[ticket.type].nodes[node_name]
        previous = dict(ticket.dispatch or {})
        declined = set(previous.get("declined") or [])
        decliner = _last_decline(cfg, ticket, history)
        if decliner:
            declined.add(decliner)
        if previous.get("technician"):
            # A new visit: the ticket leaves whoever held it (declined, or sent back here).
            deps.technicians.release(tenant, str(previous["technician"]), ticket_id)
        try:
            return _dispatch(deps, cfg, ticket, node_name, node, sorted(declined), previous)
        except Conflict as exc:
            if isinstance(exc, TechnicianBusy):
                raise
            continue  # the ticket changed meanwhile (an SLA write, a cancel): read it again
    raise Conflict(f"ticket {ticket_id} kept changing while being dispatched")


def _dispatch(
    deps: DispatchDeps,
    cfg: TenantConfig,
    ticket: Ticket,
    node_name: str,
    node: Node,
    declined: list[str],
    previous: dict[str, Any],
) -> dict[str, Any]:
    tenant = cfg.tenant.id
    at = now()
    visits = dict(ticket.visits)
    visits[node_name] = visits.get(node_name, 0) + 1
    if visits[node_name] > MAX_NODE_VISITS:
        _fail_loop(deps, ticket, node_name, at)
    deps.technicians.ensure_seeded(tenant, list(cfg.technicians))
    job = job_for(cfg, ticket, node, frozenset(declined))
    version = ticket.version + 1
    missing = _missing_inputs(cfg, ticket, job)
    if missing:
        # Dispatching without a region would send anyone anywhere: the ticket goes to a person (the
        # node's on_no_candidate), or fails visibly without one, until its fields are completed.
        return _unassigned(deps, ticket, node_name, declined, previous, visits, version, at, missing)
    for _round in range(_RANKING_ROUNDS):
        ranking = rank(
            deps.technicians.roster(tenant), job, policy_of(cfg), at=at, on_duty=duty_check(cfg, at)
        )
        explanation = ranking.explanation()
        base = {
            "node": node_name,
            "at": iso(at),
            "declined": declined,
            "attempt": int(previous.get("attempt", 0)) + 1,
            "version": version,
            "explanation": explanation,
        }
        if deps.offers is not None:
            base["offer_expires_at"] = iso(at + cfg.dispatch.offer_timeout_delta)
        lost: list[str] = []
        for candidate in ranking.candidates:
            technician = _try_candidate(deps, ticket, candidate.technician, base, visits, version, at, lost)
            if technician:
                return {"outcome": "done", "technician": technician, "attempt": base["attempt"]}
        if not lost:
            break  # nobody fits; when others took the candidates meanwhile, rank the fresh roster again
    if lost:
        explanation["lost_to_concurrent_assignment"] = lost
    return _no_candidate(deps, ticket, node_name, base, visits, version, at)


def _missing_inputs(cfg: TenantConfig, ticket: Ticket, job: Job) -> list[str]:
    """Fields dispatch needs that the ticket lacks: its region, when its type has a region field."""
    region_field = cfg.ticket_types[ticket.type].field_of_type("region", "region")
    return [region_field] if region_field and job.region is None else []


def _unassigned(
    deps: DispatchDeps,
    ticket: Ticket,
    node_name: str,
    declined: list[str],
    previous: dict[str, Any],
    visits: dict[str, int],
    version: int,
    at: datetime,
    missing: list[str],
) -> dict[str, Any]:
    base = {
        "node": node_name,
        "at": iso(at),
        "declined": declined,
        "attempt": int(previous.get("attempt", 0)) + 1,
        "version": version,
        "explanation": {
            "considered": 0,
            "filtered": {},
            "missing": missing,
            "why": f"the ticket lacks {', '.join(missing)}; complete it (PATCH /tickets/{ticket.id}/fields)",
        },
    }
    return _no_candidate(deps, ticket, node_name, base, visits, version, at)


def _no_candidate(
    deps: DispatchDeps,
    ticket: Ticket,
    node_name: str,
    base: dict[str, Any],
    visits: dict[str, int],
    version: int,
    at: datetime,
) -> dict[str, Any]:
    explanation = base["explanation"]
    declined = base["declined"]
    dispatch = {**base, "technician": None}
    unassigned = ticket.model_copy(
        update={
            "node": node_name,
            "assignee": None,
            "visits": visits,
            "dispatch": dispatch,
            "updated_at": at,
            "version": version,
        }
    )
    event = TicketEvent(
        at=at,
        actor=SYSTEM,
        kind="no_candidate",
        node=node_name,
        changes={"declined": declined, "filtered": explanation["filtered"]},
        version=version,
    )
    deps.tickets.save(unassigned, expected_version=ticket.version, event=event)
    return {"outcome": "no_candidate"}


def _try_candidate(
    deps: DispatchDeps,
    ticket: Ticket,
    tech: TechnicianRecord,
    base: dict[str, Any],
    visits: dict[str, int],
    version: int,
    at: datetime,
    lost: list[str],
) -> str | None:
    """Take ``tech`` for the ticket in one transaction; ``None`` when they can no longer take it."""
    dispatch = {**base, "technician": tech.id}
    dispatched = ticket.model_copy(
        update={
            "node": base["node"],
            "assignee": Assignee(kind="technician", id=tech.id),
            "visits": visits,
            "dispatch": dispatch,
            "updated_at": at,
            "version": version,
        }
    )
    event = TicketEvent(
        at=at,
        actor=SYSTEM,
        kind="dispatched",
        node=base["node"],
        changes={"technician": tech.id, "declined": base["declined"], "attempt": base["attempt"]},
        version=version,
    )
    for _ in range(_SAME_TECHNICIAN_RETRIES):
        try:
            deps.technicians.assign(tech, dispatched, expected_version=ticket.version, event=event)
            return tech.id
        except TechnicianBusy:
            fresh = deps.technicians.get(ticket.tenant, tech.id)
            if fresh.status != "active" or fresh.load >= fresh.capacity:
                lost.append(tech.id)
                return None
            tech = fresh  # a concurrent change that still leaves room: try again
    lost.append(tech.id)
    return None


def _fail_loop(deps: DispatchDeps, ticket: Ticket, node_name: str, at: datetime) -> None:
    raise LoopLimit(fail_past_loop_cap(deps.tickets, ticket, node_name, MAX_NODE_VISITS, at=at))


# --------------------------------------------------------------------------- offers


def offer_expired(deps: DispatchDeps, cfg: TenantConfig, payload: dict[str, Any]) -> dict[str, Any]:
    """The offer's time ran out: decline on the technician's behalf if they have not acted since.

    Acting on the offered node (any action, an accept included) or any later dispatch makes the
    timer stale, and a stale timer does nothing.
    """
    ticket = deps.tickets.get(cfg.tenant.id, str(payload["ticket_id"]))
    current = ticket.dispatch or {}
    technician = str(payload.get("technician"))
    if (
        ticket.status != "open"
        or current.get("technician") != technician
        or current.get("attempt") != payload.get("attempt")
        or current.get("node") != payload.get("node")
    ):
        return {"declined": False, "reason": "superseded"}
    if current.get("accepted_at"):
        return {"declined": False, "reason": "accepted"}
    dispatch_node = cfg.ticket_types[ticket.type].nodes[str(payload["node"])]
    offered = dispatch_node.next
    if ticket.node != offered or not ticket.parked or ticket.token is None:
        return {"declined": False, "reason": "moved on"}
    since = int(current.get("version", 0))
    if any(e.kind == "action" and e.version > since for e in deps.tickets.history(cfg.tenant.id, ticket.id)):
        return {"declined": False, "reason": "acted"}
    decline = decline_action(cfg.ticket_types[ticket.type], offered)
    if decline is None or deps.engine is None:
        return {"declined": False, "reason": f"node '{offered}' has no action back to a dispatch node"}
    target = cfg.ticket_types[ticket.type].nodes[offered].actions[decline]
    at = now()
    moved = ticket.model_copy(
        update={
            "node": target,
            "token": None,
            "token_node": None,
            "updated_at": at,
            "version": ticket.version + 1,
        }
    )
    event = TicketEvent(
        at=at,
        actor=SYSTEM,
        kind="action",
        node=offered,
        action=decline,
        changes={"to": target, "on_behalf_of": technician, "reason": "the offer expired"},
        version=moved.version,
    )
    try:
        deps.tickets.save(moved, expected_version=ticket.version, event=event)
    except Conflict:
        return {"declined": False, "reason": "acted"}  # the technician acted at the last moment
    from shared.workflow.resume import resume  # the offer timer's path only

    offered_node = cfg.ticket_types[ticket.type].nodes[offered]
    try:
        resume(
            deps.engine, ticket.token, offered_node, offered, decline, ticket.routing, ticket.route_success
        )
    except TaskTokenGone as exc:
        restored = ticket.model_copy(
            update={"version": moved.version + 1, "token": None, "updated_at": now()}
        )
        failed = TicketEvent(
            at=now(),
            actor=SYSTEM,
            kind="action_failed",
            node=offered,
            changes={"reason": f"the workflow no longer waits at '{offered}' ({exc})"},
            version=restored.version,
        )
        deps.tickets.save(restored, expected_version=moved.version, event=failed)
        return {"declined": False, "reason": "workflow gone"}
    return {"declined": True, "technician": technician}
