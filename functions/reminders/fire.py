"""A reminder schedule fired: check it is still current, notify each recipient once, mark the level.

Pure logic: the ticket store, the sent-markers and the sender (SMS, email, WeCom) come in as arguments.

1. **Stale check.** The ticket must still be open, on the same node and the same visit of it,
   with its SLA clock running there (not paused), and the schedule must be the level's current
   one (its `generation`); otherwise nothing is sent (a late schedule of a node already left,
   a cancelled ticket, an old visit, a timer moved by a calendar change).
1b. **Calendar change.** When the ticket's SLA state was computed with another policy or
   calendar than the tenant's configuration has now (`digest`), the clock is recomputed from
   the business time already used, its schedules are replaced and `ticket.sla` is updated
   (`SchedulerSla.replan`/`reschedule`). This fire then sends only if its level is already
   due on the new clock; otherwise the outcome is `rescheduled` and nothing is sent.
2. **Recipients** of the level's `notify`: `assignee` (the technician or user assigned; for a
   role or department, its users), `supervisor` (the assigned technician's supervisor, else
   the users with role `supervisor`), `role:X`, `user:X`. Each person once.
3. **Channels**: `sms` to the person's phone, `email` to their address, `wecom` to their
   `wecom_user` through the tenant's `wecom_app` (skipped, and logged, when the person has
   none). A marker per (ticket, node, visit, level, recipient, channel) is claimed before
   sending, so a retried schedule never sends twice.
4. The level is marked fired on `ticket.sla` (and `breached` at the last level). This SLA
   bookkeeping keeps the ticket's version, so a reminder never makes a person's pending
   action stale; the write is still conditioned on the version read (retried on conflict).
5. **Chain.** On a chained clock only the next level has a schedule: the next level not yet
   reached is sent in this same invocation when it is already due (a late fire catches up),
   else its schedule is created (`SchedulerSla.chain`). A retried fire chains again (the
   schedule's name is deterministic, so nothing is doubled) and the markers keep every send
   single. A fire that races the ticket leaving the node may leave one schedule behind; it
   fires once, finds the visit over, and deletes itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from shared.clock import now
from shared.domain.ticket import Change, Ticket
from shared.notices import address_of, send_over
from shared.ports import Markers, Sender, TicketStore
from shared.tenant.models import SlaLevel, TenantConfig, User
from shared.ticket_updates import update_ticket

LEVEL_NAMES_ZH = {"yellow": "黄色", "orange": "橙色", "red": "红色", "warning": "预警", "overdue": "超时"}


class ReminderEvent(BaseModel):
    """The payload of a reminder schedule."""

    tenant: str = Field(min_length=1)
    ticket_id: str = Field(min_length=1)
    node: str = Field(min_length=1)
    visit: int = Field(ge=0)
    level: str = Field(min_length=1)
    generation: int = Field(default=0, ge=0)
    """The schedule's generation (0 until the ticket's timers were rescheduled)."""


@dataclass(frozen=True)
class Contact:
    id: str
    name: str
    phone: str | None = None
    email: str | None = None
    locale: str | None = None
    wecom_user: str | None = None


@dataclass(frozen=True)
class Notice:
    subject: str
    body: str


class Rescheduler(Protocol):
    """What `shared.sla_clock.SchedulerSla` offers for a calendar change."""

    def replan(self, cfg: TenantConfig, ticket: Ticket, firing: str | None = ...) -> Any: ...
    def reschedule(
        self, ticket: Ticket, old: dict[str, Any], new: dict[str, Any], firing: str | None = ...
    ) -> None: ...
    def chain(self, ticket: Ticket, fired: str) -> str | None: ...


MarkerKey = Callable[[str, str, str, int, str, str, str], tuple[str, str]]
"""(tenant, ticket, node, visit, level, recipient, channel) -> the marker's key."""


@dataclass
class FireDeps:
    tickets: TicketStore
    markers: Markers
    sender: Sender
    marker_key: MarkerKey
    """``shared.repositories.reminders.marker_key`` (passed in: this module knows no keys)."""
    sla: Rescheduler | None = None
    """Reschedules a clock whose calendar or policy changed (without it, a change is not acted on)."""


@dataclass
class FireResult:
    outcome: str  # "sent" | "stale" | "rescheduled"
    reason: str = ""
    sent: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    breached: bool = False
    """True when this fire breached the SLA (the last level, the first time)."""

    def extend(self, more: FireResult) -> None:
        """Add what a chained level sent in the same invocation."""
        self.sent += more.sent
        self.skipped += more.skipped
        self.breached = self.breached or more.breached

    def answer(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "reason": self.reason,
            "sent": self.sent,
            "skipped": self.skipped,
            "breached": self.breached,
        }


def stale_reason(ticket: Ticket | None, request: ReminderEvent) -> str | None:
    """Why a fired schedule no longer applies, or None when it does."""
    if ticket is None:
        return "the ticket does not exist"
    if ticket.status != "open":
        return f"the ticket is {ticket.status}"
    if ticket.node != request.node:
        return f"the ticket left node '{request.node}' (now at '{ticket.node}')"
    if ticket.visits.get(request.node, 0) != request.visit:
        return (
            f"visit {request.visit} of '{request.node}' is over (now visit {ticket.visits.get(request.node)})"
        )
    sla = ticket.sla or {}
    if sla.get("node") != request.node or sla.get("visit") != request.visit:
        return "the ticket's SLA clock times another node or visit"
    if sla.get("paused"):
        return "the SLA clock is paused"
    level = next((lv for lv in sla.get("levels", []) if lv.get("name") == request.level), None)
    if level is None:
        return f"level '{request.level}' is not on the ticket's SLA clock"
    if int(level.get("gen", 0)) != request.generation:
        return (
            f"level '{request.level}' was rescheduled (generation {level.get('gen', 0)}, "
            f"this schedule is generation {request.generation})"
        )
    return None


def fire(deps: FireDeps, cfg: TenantConfig, request: ReminderEvent) -> FireResult:
    result, ticket = _fire_level(deps, cfg, request)
    for _ in range(len(((ticket and ticket.sla) or {}).get("levels", []))):
        if ticket is None or deps.sla is None:
            break
        due = deps.sla.chain(ticket, request.level)
        if due is None:
            break
        level = next(lv for lv in (ticket.sla or {})["levels"] if lv["name"] == due)
        request = request.model_copy(update={"level": due, "generation": int(level.get("gen", 0))})
        more, ticket = _fire_level(deps, cfg, request)
        result.extend(more)
    return result


def _fire_level(
    deps: FireDeps, cfg: TenantConfig, request: ReminderEvent
) -> tuple[FireResult, Ticket | None]:
    """Send one level; the result and the ticket as marked (None when the fire is stale)."""
    ticket = deps.tickets.find(request.tenant, request.ticket_id)
    reason = stale_reason(ticket, request)
    if reason is not None or ticket is None:
        return FireResult("stale", reason or ""), None
    if deps.sla is not None and _config_changed(cfg, ticket):
        ticket, outcome, why = _reschedule(deps, deps.sla, cfg, request)
        if ticket is None:
            return FireResult(outcome, why), None
    policy = cfg.sla_policies.get(str((ticket.sla or {}).get("policy")))
    level = next((lv for lv in policy.levels if lv.name == request.level), None) if policy else None
    if policy is None or level is None:
        return FireResult("stale", f"the policy has no level '{request.level}' any more"), None
    last = level.name == policy.levels[-1].name
    notice_for = _notices(cfg, ticket, request, level, last)
    result = FireResult("sent")
    for contact in recipients(cfg, ticket, level.notify):
        for channel in level.channels:
            address = address_of(contact, channel)
            entry = {"recipient": contact.id, "channel": channel, "to": address or ""}
            if not address:
                result.skipped.append({**entry, "why": f"{contact.id} has no {channel} address"})
                continue
            if channel == "wecom" and cfg.wecom_app is None:
                result.skipped.append({**entry, "why": "the tenant file has no wecom_app"})
                continue
            key = deps.marker_key(
                request.tenant, ticket.id, request.node, request.visit, level.name, contact.id, channel
            )
            if not deps.markers.claim(key, address, now()):
                result.skipped.append({**entry, "why": "already sent"})
                continue
            notice = notice_for(contact)
            try:
                send_over(deps.sender, cfg, channel, address, notice.subject, notice.body)
            except Exception:
                deps.markers.release(key)  # not sent: let the scheduler's retry send it
                raise
            result.sent.append(entry)
    result.breached, marked = _mark_fired(deps, request, level.name, last)
    return result, marked


def _config_changed(cfg: TenantConfig, ticket: Ticket) -> bool:
    """True when the ticket's clock was computed with another policy or calendar than `cfg` has."""
    from shared.sla_clock import digest_of  # sla_clock imports nothing of this module

    sla = ticket.sla or {}
    stored = sla.get("digest")
    if not stored:
        return False  # a clock from before digests were kept: nothing to compare with
    return digest_of(cfg, str(sla.get("policy"))) != stored


def _reschedule(
    deps: FireDeps, sla: Rescheduler, cfg: TenantConfig, request: ReminderEvent
) -> tuple[Ticket | None, str, str]:
    """Recompute the clock on the current configuration, replace its schedules, store it.

    Returns the updated ticket when the fired level is already due on the new clock (send
    it), else (None, "rescheduled" or "stale", why).
    """
    outcome: list[tuple[Ticket | None, str, str]] = []
    replans: list[Any] = []

    def decide(ticket: Ticket) -> Change | None:
        outcome.clear()
        reason = stale_reason(ticket, request)
        if reason is not None:
            outcome.append((None, "stale", reason))  # it moved on meanwhile
            return None
        if not _config_changed(cfg, ticket):
            outcome.append((ticket, "", ""))  # another fire rescheduled it already
            return None
        replanned = sla.replan(cfg, ticket, request.level)
        if replanned is None:
            why = "the ticket's SLA clock cannot be recomputed on the current configuration"
            outcome.append((None, "stale", why))
            return None
        new = replanned.state
        # new schedules first: a failure here leaves the old state, so the scheduler's retry redoes it
        sla.reschedule(ticket, dict(ticket.sla or {}), new, firing=request.level)
        replans[:] = [replanned]
        return Change(
            kind="sla_rescheduled",
            update={"sla": new},
            node=request.node,
            changes={"digest": new.get("digest"), "deadline": new.get("deadline")},
            bump=False,
        )

    updated = update_ticket(deps.tickets, request.tenant, request.ticket_id, decide, attempts=5)
    if outcome:
        return outcome[0]
    replanned = replans[0]
    level = next((lv for lv in replanned.state["levels"] if lv["name"] == request.level), None)
    if level is not None and (level.get("fired") or request.level in replanned.due_now):
        return updated, "", ""
    at = level["at"] if level is not None else None
    return (
        None,
        "rescheduled",
        (
            f"the calendar or policy changed: level '{request.level}' moved to {at}"
            if at
            else f"the calendar or policy changed: level '{request.level}' is gone"
        ),
    )


def _mark_fired(deps: FireDeps, request: ReminderEvent, level: str, last: bool) -> tuple[bool, Ticket | None]:
    """Mark the level fired on the ticket's SLA state: whether this made the ticket breached, and
    the ticket as marked (None when it moved on meanwhile)."""
    breached: list[bool] = []
    current: list[bool] = []

    def decide(ticket: Ticket) -> Change | None:
        breached.clear()
        current.clear()
        if stale_reason(ticket, request) is not None:
            return None  # it moved on while we were sending
        current.append(True)
        sla = dict(ticket.sla or {})
        levels = [dict(lv, fired=True) if lv.get("name") == level else lv for lv in sla.get("levels", [])]
        newly_breached = last and not sla.get("breached")
        already = any(lv.get("name") == level and lv.get("fired") for lv in sla.get("levels", []))
        if already and not newly_breached:
            return None
        sla.update(levels=levels, level=level, breached=bool(sla.get("breached")) or last)
        breached.append(newly_breached)
        return Change(
            kind="sla_breached" if newly_breached else "sla_level",
            update={"sla": sla},
            node=request.node,
            changes={"level": level, "breached": sla["breached"]},
            bump=False,
        )

    marked = update_ticket(deps.tickets, request.tenant, request.ticket_id, decide, attempts=5)
    return bool(breached and breached[0]), (marked if current else None)


# --------------------------------------------------------------------------- recipients


def _contact_of_user(cfg: TenantConfig, user_id: str) -> Contact | None:
    user = cfg.user(user_id)
    if user is not None:
        return _contact(user)
    tech = cfg.technician(user_id)
    if tech is not None:
        return Contact(tech.id, tech.name, tech.phone, tech.email, tech.locale, tech.wecom_user)
    return None


def _contact(user: User) -> Contact:
    return Contact(user.id, user.name, user.phone, user.email, user.locale, user.wecom_user)


def _with_role(cfg: TenantConfig, role: str) -> list[Contact]:
    return [_contact(u) for u in cfg.users if role in u.roles]


def _assignees(cfg: TenantConfig, ticket: Ticket) -> list[Contact]:
    assignee = ticket.assignee
    if assignee is None:
        return []
    if assignee.kind in ("user", "technician"):
        found = _contact_of_user(cfg, assignee.id)
        return [found] if found else []
    if assignee.kind == "role":
        return _with_role(cfg, assignee.id)
    return [_contact(u) for u in cfg.users if u.department == assignee.id]


def _supervisors(cfg: TenantConfig, ticket: Ticket) -> list[Contact]:
    assignee = ticket.assignee
    if assignee is not None and assignee.kind == "technician":
        tech = cfg.technician(assignee.id)
        if tech is not None and tech.supervisor:
            found = _contact_of_user(cfg, tech.supervisor)
            if found:
                return [found]
    return _with_role(cfg, "supervisor")


def recipients(cfg: TenantConfig, ticket: Ticket, notify: list[str]) -> list[Contact]:
    """The people a level notifies, each once, in the order of `notify`."""
    people: dict[str, Contact] = {}
    for rule in notify:
        if rule == "assignee":
            found = _assignees(cfg, ticket)
        elif rule == "supervisor":
            found = _supervisors(cfg, ticket)
        elif rule.startswith("role:"):
            found = _with_role(cfg, rule.removeprefix("role:"))
        elif rule.startswith("user:"):
            one = _contact_of_user(cfg, rule.removeprefix("user:"))
            found = [one] if one else []
        else:
            found = []
        for contact in found:
            people.setdefault(contact.id, contact)
    return list(people.values())


# --------------------------------------------------------------------------- texts


def marker(ticket_id: str, level: str) -> str:
    """The reference line closing every reminder: `[SLA <ticket id> <level>]` (the twin reads it)."""
    return f"[SLA {ticket_id} {level}]"


def _notices(
    cfg: TenantConfig, ticket: Ticket, request: ReminderEvent, level: SlaLevel, last: bool
) -> Callable[[Contact], Notice]:
    sla = ticket.sla or {}
    zone = ZoneInfo(cfg.tenant.timezone)
    deadline = datetime.fromisoformat(sla["deadline"]).astimezone(zone)
    due = f"{deadline:%Y-%m-%d %H:%M} ({cfg.tenant.timezone})"
    kind = cfg.ticket_types.get(ticket.type)
    type_name = kind.name if kind else ticket.type
    node = kind.nodes.get(request.node) if kind else None
    node_name = (node.label if node and node.label else None) or request.node
    customer = str(ticket.fields.get("customer_name") or "-")
    level_zh = LEVEL_NAMES_ZH.get(level.name, level.name)
    share = f"{level.at.normalize():f}%"
    if last:
        zh_state, en_state = f"已超时（{level_zh}）", f"OVERDUE ({level.name})"
    else:
        zh_state, en_state = (
            f"{level_zh}提醒（已用时限 {share}）",
            f"{level.name} reminder ({share} of the time used)",
        )

    def notice(contact: Contact) -> Notice:
        # One language per person: theirs, else the tenant's (``tenant.locale``), never both.
        if (contact.locale or cfg.tenant.default_locale) == "zh-CN":
            subject = f"[{cfg.tenant.name}] 工单 {ticket.id} {zh_state}"
            text = (
                f"{contact.name}，您好：工单 {ticket.id}（{type_name}）在节点「{node_name}」{zh_state}，"
                f"截止时间 {due}。客户：{customer}。"
            )
        else:
            subject = f"[{cfg.tenant.name}] Ticket {ticket.id}: {en_state}"
            text = (
                f"Hello {contact.name}, ticket {ticket.id} ({type_name}) at node '{node_name}': "
                f"{en_state}, due {due}. Customer: {customer}."
            )
        body = "\n".join([text, marker(ticket.id, level.name)])
        return Notice(subject, body)

    return notice
