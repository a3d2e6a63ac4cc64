"""Tell the tenant's dispatchers when a ticket needs a person: dispatch found nobody, or the ticket failed.

Pure logic: the sender (SMS/email, ``shared.adapters.notifications.AwsSender`` in AWS) and the
sent-markers (``shared.repositories.reminders.ReminderMarkers``) come in as arguments.

- **Who**: the tenant's users with the role ``dispatcher``, each once.
- **How**: an SMS to their phone, an email to their address and, when the tenant file has a
  ``wecom_app``, a WeCom application message to their ``wecom_user``; a person without one is
  skipped quietly (listed under ``skipped``), and so is email when no sender address is
  configured for the function.
- **Once**: a marker per (ticket, node, visit, recipient, channel) is claimed before sending,
  so a retried dispatch task (or a duplicated invocation) never sends twice for the same visit
  of the dispatch node; a new visit (after a decline) notifies again.
- **Never in the way**: a failed send gives its marker back and is reported under ``failed``;
  it does not fail the dispatch (the ticket is already on its way to manual dispatch).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.clock import now
from shared.domain.ticket import Ticket
from shared.observability import logger
from shared.ports import Markers, Sender
from shared.tenant.models import TenantConfig

ROLE = "dispatcher"
LEVEL = "no_candidate"
"""The level part of the marker key (reminder markers use SLA level names; no clash)."""
CHANNELS = ("sms", "email", "wecom")
"""Every channel a notice can take; ``wecom`` only for a tenant with a ``wecom_app`` (``channels_of``)."""


class Reachable(Protocol):
    """A person as the notices see them (a reminder's ``Contact``, a dispatcher)."""

    @property
    def phone(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...
    @property
    def wecom_user(self) -> str | None: ...


def address_of(person: Reachable, channel: str) -> str | None:
    """Where ``channel`` reaches ``person``: phone (sms), address (email), WeCom UserId (wecom)."""
    if channel == "sms":
        return person.phone
    if channel == "email":
        return person.email
    return person.wecom_user if channel == "wecom" else None


def channels_of(cfg: TenantConfig) -> tuple[str, ...]:
    """The channels the tenant's dispatchers are told on: SMS, email, and WeCom with a ``wecom_app``."""
    return CHANNELS if cfg.wecom_app is not None else tuple(c for c in CHANNELS if c != "wecom")


def send_over(sender: Sender, cfg: TenantConfig, channel: str, address: str, subject: str, body: str) -> None:
    """One notice out over ``channel`` (raises when it was not sent). A WeCom message is the body
    alone, as an SMS is; it goes through the tenant's ``wecom_app``."""
    if channel == "sms":
        sender.sms(address, body)
    elif channel == "email":
        sender.email(address, subject, body)
    elif channel == "wecom" and cfg.wecom_app is not None:
        sender.wecom(cfg.wecom_app, address, body)
    else:
        raise ValueError(f"no way to send over {channel!r} for tenant {cfg.tenant.id}")


MarkerKey = Callable[[str, str, str, int, str, str, str], tuple[str, str]]
"""(tenant, ticket, node, visit, level, recipient, channel) -> key (``reminders.marker_key``)."""


@dataclass
class Notifier:
    sender: Sender
    markers: Markers
    marker_key: MarkerKey
    email_enabled: bool = True
    """False when the function has no sender address (``SENDER_EMAIL``): email is skipped."""


@dataclass
class Notified:
    sent: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)

    def answer(self) -> dict[str, Any]:
        return {"sent": self.sent, "skipped": self.skipped, "failed": self.failed}


@dataclass(frozen=True)
class _Person:
    id: str
    name: str
    phone: str | None
    email: str | None
    locale: str | None = None
    wecom_user: str | None = None


def dispatchers(cfg: TenantConfig) -> list[_Person]:
    people: dict[str, _Person] = {}
    for user in cfg.users:
        if ROLE in user.roles:
            people.setdefault(
                user.id, _Person(user.id, user.name, user.phone, user.email, user.locale, user.wecom_user)
            )
    return list(people.values())


def notify_no_candidate(
    notifier: Notifier,
    cfg: TenantConfig,
    ticket: Ticket,
    node: str,
    visit: int,
    filtered: Mapping[str, int] | None = None,
) -> Notified:
    """Notify the dispatchers that ``ticket`` found no technician at ``node`` (visit ``visit``)."""
    reasons = dict(filtered or {})
    return notify_dispatchers(
        notifier, cfg, ticket, node, visit, LEVEL, lambda locale: _texts(cfg, ticket, node, reasons, locale)
    )


Texts = Callable[[str], tuple[str, str]]
"""Locale (``zh-CN`` | ``en``) -> (subject, body) of a notice."""


def notify_dispatchers(
    notifier: Notifier,
    cfg: TenantConfig,
    ticket: Ticket,
    node: str,
    visit: int,
    level: str,
    texts: Texts,
) -> Notified:
    """Send the notice to every dispatcher by SMS, email and WeCom (``channels_of``), in their
    language (else the tenant's), at most once per (ticket, node, visit, level, recipient, channel)."""
    result = Notified()
    for person in dispatchers(cfg):
        for channel in channels_of(cfg):
            address = address_of(person, channel)
            entry = {"recipient": person.id, "channel": channel, "to": address or ""}
            if not address:
                result.skipped.append({**entry, "why": f"{person.id} has no {channel} address"})
                continue
            if channel == "email" and not notifier.email_enabled:
                result.skipped.append({**entry, "why": "no sender address configured"})
                continue
            key = notifier.marker_key(cfg.tenant.id, ticket.id, node, visit, level, person.id, channel)
            if not notifier.markers.claim(key, address, now()):
                result.skipped.append({**entry, "why": "already sent"})
                continue
            subject, body = texts(person.locale or cfg.tenant.default_locale)
            try:
                send_over(notifier.sender, cfg, channel, address, subject, body)
            except Exception as exc:  # a notice must not fail the work that sends it
                notifier.markers.release(key)
                result.failed.append({**entry, "why": f"{type(exc).__name__}: {exc}"})
                logger.warning("dispatcher notice not sent", extra={**entry, "error": str(exc)})
                continue
            result.sent.append(entry)
    return result


def _texts(
    cfg: TenantConfig, ticket: Ticket, node: str, filtered: dict[str, int], locale: str
) -> tuple[str, str]:
    kind = cfg.ticket_types.get(ticket.type)
    type_name = kind.name if kind else ticket.type
    spec = kind.nodes.get(node) if kind else None
    target = spec.on_no_candidate if spec is not None else None
    reasons = ", ".join(f"{reason} {count}" for reason, count in filtered.items()) or "-"
    mark = f"[DISPATCH {ticket.id} {LEVEL}]"
    if locale == "zh-CN":
        subject = f"[{cfg.tenant.name}] 工单 {ticket.id} 无可派技师，请人工派单"
        text = (
            f"工单 {ticket.id}（{type_name}）在节点「{node}」没有符合条件的技师，"
            f"已转到「{target or '-'}」。筛除：{reasons}。"
        )
        return subject, f"{text}\n{mark}"
    subject = f"[{cfg.tenant.name}] Ticket {ticket.id}: no technician fits, dispatch it manually"
    text = (
        f"Ticket {ticket.id} ({type_name}) found no technician at node '{node}'; "
        f"it went to '{target or '-'}'. Filtered out: {reasons}."
    )
    return subject, f"{text}\n{mark}"
