"""Dispatch logic: the ``dispatch`` node's task and its expiring offers.

Use cases on ports (``ports.py``: the ticket store, the technician registry, the offer timer, the
workflow engine, the notifier): no AWS client, no repository. Every ticket write goes through
``shared.ticket_updates``; the technicians' rules are ``shared.domain.technician``'s. The registry's
rules of the /technicians API are in ``registry.py``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from functions.dispatch.ports import DispatchDeps
from functions.dispatch.scoring import Job, OnDuty, Policy, Ranking, rank
from shared.calendar import BusinessCalendar
from shared.clock import iso, now
from shared.domain.technician import Assignment, TechnicianRecord, assignment, has_room
from shared.domain.ticket import Assignee, Change, Ticket, TicketEvent
from shared.domain.timers import offer_timer_name
from shared.errors import Conflict, TechnicianBusy
from shared.notices import notify_no_candidate
from shared.ports import TaskTokenGone
from shared.tenant.models import Node, TenantConfig
from shared.ticket_updates import fail_past_loop_cap, mark_failed, move_and_resume, update_ticket
from shared.workflow import routing
from shared.workflow.routing import decline_action, is_decline

__all__ = ["DispatchDeps", "LoopLimit", "NoCandidate", "assign", "duty_check", "job_for", "offer_expired"]

_TICKET_RETRIES = 5
_SAME_TECHNICIAN_RETRIES = 3
_RANKING_ROUNDS = 3


class LoopLimit(Exception):
    """The dispatch node was reached more often than the workflow allows."""


class NoCandidate(Exception):
    """Nobody fits and the node names no ``on_no_candidate``: the execution fails visibly."""


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


def duty_check(cfg: TenantConfig, at: datetime) -> OnDuty:
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


def _missing_inputs(cfg: TenantConfig, ticket: Ticket, job: Job) -> list[str]:
    """Fields dispatch needs that the ticket lacks: its region, when its type has a region field."""
    region_field = cfg.ticket_types[ticket.type].field_of_type("region", "region")
    return [region_field] if region_field and job.region is None else []


def _lacking(ticket: Ticket, missing: list[str]) -> dict[str, Any]:
    """The explanation of a dispatch that could not rank anyone: the ticket lacks ``missing``."""
    why = f"the ticket lacks {', '.join(missing)}; complete it (PATCH /tickets/{ticket.id}/fields)"
    return {"considered": 0, "filtered": {}, "missing": missing, "why": why}


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


# --------------------------------------------------------------------------- the dispatch task


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
    visit = _Visit(deps, cfg, node_name)
    ticket = visit.run(ticket_id)
    answer = visit.answer
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


def _fail_without_candidate(deps: DispatchDeps, cfg: TenantConfig, ticket_id: str, node_name: str) -> None:
    """Never let a ticket go on to a technician's node with no technician: fail it, loudly."""
    reason = (
        f"no technician fits dispatch node '{node_name}' and it has no on_no_candidate route; "
        "add one (e.g. a manual dispatch node) to the tenant file"
    )
    mark_failed(deps.tickets, cfg.tenant.id, ticket_id, node_name, reason)
    raise NoCandidate(reason)


class _Visit:
    """One visit of a dispatch node, as one ``update_ticket``: ``decide`` plans the visit on each read
    of the ticket (who declined, the ranking) and names the candidate to take; ``save`` takes them in
    the same transaction as the ticket. A candidate who can no longer take it (``TechnicianBusy``)
    gives way to the next, on the same read; when others took every candidate of a ranking meanwhile,
    the fresh roster is ranked again (``_RANKING_ROUNDS`` at most)."""

    def __init__(self, deps: DispatchDeps, cfg: TenantConfig, node_name: str) -> None:
        self.deps, self.cfg, self.node_name = deps, cfg, node_name
        self.answer: dict[str, Any] = {"outcome": "no_candidate"}
        """What the task answers once the change ``decide`` described is saved (or nothing changed)."""
        self._read: Ticket | None = None  # the ticket as read, which the plan below is for
        self._at = now()
        self._visits: dict[str, int] = {}
        self._dispatch: dict[str, Any] = {}  # the dispatch record of this visit, whoever gets it
        self._job = Job()
        self._ranking: Ranking | None = None
        self._explanation: dict[str, Any] = {}
        self._rounds = 0
        self._next = 0  # the candidate of the ranking to try
        self._tries = 0  # how often the registry refused that candidate
        self._fresh: TechnicianRecord | None = None  # their record as read after a refusal
        self._lost: list[str] = []  # candidates of this ranking others took meanwhile
        self._taking: Assignment | None = None  # what ``save`` writes to the registry (None: nothing)

    def run(self, ticket_id: str) -> Ticket:
        """The ticket as saved (or as read, when the visit changed nothing)."""
        read: Ticket | None = None
        while True:
            try:
                return update_ticket(
                    self.deps.tickets,
                    self.cfg.tenant.id,
                    ticket_id,
                    self.decide,
                    read=read,
                    save=self.save,
                    attempts=_TICKET_RETRIES,
                )
            except TechnicianBusy:
                read = self._refused()

    def save(self, ticket: Ticket, *, expected_version: int, event: TicketEvent | None) -> None:
        if self._taking is None:
            self.deps.tickets.save(ticket, expected_version=expected_version, event=event)
        else:
            self.deps.technicians.assign(self._taking, ticket, expected_version=expected_version, event=event)

    def decide(self, ticket: Ticket) -> Change | None:
        if ticket is not self._read:  # the first read, or the ticket changed meanwhile: plan again
            self._read = ticket
            if not self._plan(ticket):
                return None
            missing = _missing_inputs(self.cfg, ticket, self._job)
            if missing:
                # Dispatching without a region would send anyone anywhere: the ticket goes to a person
                # (the node's on_no_candidate), or fails visibly without one, until its fields are complete.
                self._explanation = _lacking(ticket, missing)
                return self._unassigned()
            self._rounds = 0
            self._rank()
        return self._next_offer()

    def _plan(self, ticket: Ticket) -> bool:
        """Prepare the visit on this read: who declined, the release of whoever held the ticket, the
        loop cap, the job; ``False`` when there is nothing to write (the answer is set)."""
        deps, cfg, node_name = self.deps, self.cfg, self.node_name
        if ticket.status != "open":
            self.answer = {"outcome": "no_candidate", "status": ticket.status}
            return False
        history = deps.tickets.history(ticket.tenant, ticket.id)
        if _already_done(ticket, node_name, history):
            self.answer = _answer(ticket.dispatch or {})
            return False
        previous = dict(ticket.dispatch or {})
        declined = set(previous.get("declined") or [])
        decliner = _last_decline(cfg, ticket, history)
        if decliner:
            declined.add(decliner)
        if previous.get("technician"):
            # A new visit: the ticket leaves whoever held it (declined, or sent back here).
            deps.technicians.release(ticket.tenant, str(previous["technician"]), ticket.id)
        self._at = now()
        self._visits = {**ticket.visits, node_name: ticket.visits.get(node_name, 0) + 1}
        if self._visits[node_name] > routing.MAX_NODE_VISITS:
            cap = routing.MAX_NODE_VISITS
            raise LoopLimit(fail_past_loop_cap(deps.tickets, ticket, node_name, cap, at=self._at))
        deps.technicians.ensure_seeded(ticket.tenant, list(cfg.technicians))
        node = cfg.ticket_types[ticket.type].nodes[node_name]
        self._job = job_for(cfg, ticket, node, frozenset(declined))
        self._dispatch = {
            "node": node_name,
            "at": iso(self._at),
            "declined": sorted(declined),
            "attempt": int(previous.get("attempt", 0)) + 1,
            "version": ticket.version + 1,
        }
        return True

    def _rank(self) -> None:
        """Rank the roster as it is now; its candidates are tried best first.

        Only the technicians covering the ticket's region are read (the region filter would drop
        every other one). A ticket without a region is one whose type has no region field (a
        ticket lacking its region field's value is never ranked: ``_missing_inputs``): anyone of
        the tenant may take it, so the whole roster is read. The tenant file has no cross-region
        dispatch setting; a technician works outside their home region by listing that region.
        """
        tenant, cfg, at = self.cfg.tenant.id, self.cfg, self._at
        roster = self.deps.technicians.roster(tenant, region=self._job.region)
        self._ranking = rank(roster, self._job, policy_of(cfg), at=at, on_duty=duty_check(cfg, at))
        self._explanation = self._ranking.explanation()
        self._rounds += 1
        self._next, self._tries, self._fresh, self._lost = 0, 0, None, []

    def _next_offer(self) -> Change:
        """The change that offers the ticket to the next candidate, or says nobody fits."""
        assert self._ranking is not None
        while self._next >= len(self._ranking.candidates):
            if not self._lost or self._rounds >= _RANKING_ROUNDS:
                if self._lost:
                    self._explanation["lost_to_concurrent_assignment"] = self._lost
                return self._unassigned()
            self._rank()  # others took the candidates meanwhile: rank the fresh roster again
        tech = self._fresh or self._ranking.candidates[self._next].technician
        self._taking = assignment(tech, self._at)
        dispatch = self._dispatch
        self.answer = {"outcome": "done", "technician": tech.id, "attempt": dispatch["attempt"]}
        record = {**dispatch, "explanation": self._explanation}
        if self.deps.offers is not None:
            record["offer_expires_at"] = iso(self._at + self.cfg.dispatch.offer_timeout_delta)
        return Change(
            kind="dispatched",
            update={
                "node": self.node_name,
                "assignee": Assignee(kind="technician", id=tech.id),
                "visits": self._visits,
                "dispatch": {**record, "technician": tech.id},
            },
            node=self.node_name,
            changes={"technician": tech.id, "declined": dispatch["declined"], "attempt": dispatch["attempt"]},
        )

    def _unassigned(self) -> Change:
        """Nobody takes the ticket on this visit: it records why, with no assignee."""
        self._taking = None
        self.answer = {"outcome": "no_candidate"}
        explanation = self._explanation
        return Change(
            kind="no_candidate",
            update={
                "node": self.node_name,
                "assignee": None,
                "visits": self._visits,
                "dispatch": {**self._dispatch, "explanation": explanation, "technician": None},
            },
            node=self.node_name,
            changes={"declined": self._dispatch["declined"], "filtered": explanation["filtered"]},
        )

    def _refused(self) -> Ticket:
        """The registry refused the candidate: try them again while a fresh read leaves them room
        (a concurrent change), else the next one. Answers the ticket as read (it did not change)."""
        assert self._taking is not None and self._read is not None
        fresh = self.deps.technicians.get(self._taking.tenant, self._taking.technician)
        self._tries += 1
        if has_room(fresh) and self._tries < _SAME_TECHNICIAN_RETRIES:
            self._fresh = fresh
        else:
            self._lost.append(fresh.id)
            self._next, self._tries, self._fresh = self._next + 1, 0, None
        return self._read


# --------------------------------------------------------------------------- offers


def offer_expired(deps: DispatchDeps, cfg: TenantConfig, payload: dict[str, Any]) -> dict[str, Any]:
    """The offer's time ran out: decline on the technician's behalf if they have not acted since.

    Acting on the offered node (any action, an accept included) or any later dispatch makes the
    timer stale, and a stale timer does nothing. The decline is the offered node's own action back to
    the dispatch node, taken as a person takes one (``move_and_resume``).
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
    ticket_type = cfg.ticket_types[ticket.type]
    offered = ticket_type.nodes[str(payload["node"])].next
    if ticket.node != offered or not ticket.parked or ticket.token is None:
        return {"declined": False, "reason": "moved on"}
    since = int(current.get("version", 0))
    if any(e.kind == "action" and e.version > since for e in deps.tickets.history(cfg.tenant.id, ticket.id)):
        return {"declined": False, "reason": "acted"}
    decline = decline_action(ticket_type, offered)
    if decline is None or deps.engine is None:
        return {"declined": False, "reason": f"node '{offered}' has no action back to a dispatch node"}
    offered_node = ticket_type.nodes[offered]
    target = offered_node.actions[decline]
    change = Change(
        kind="action",
        update={"node": target, "token": None, "token_node": None},
        node=offered,
        action=decline,
        changes={"to": target, "on_behalf_of": technician, "reason": "the offer expired"},
    )
    try:
        move_and_resume(deps.tickets, deps.engine, ticket, offered_node, decline, change)
    except TaskTokenGone:
        return {"declined": False, "reason": "workflow gone"}
    except Conflict:
        return {"declined": False, "reason": "acted"}  # the technician acted at the last moment
    return {"declined": True, "technician": technician}
