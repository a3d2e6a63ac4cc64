"""Outbound webhooks: a domain event, signed the Standard Webhooks way, POSTed to each of the tenant's
subscriptions that wants it (``scrm-webhooks-outbound``, fed by the platform rule on ``scrm-events``
through an SQS queue; ``docs/events.md`` says why not API destinations).

One message is one event for one endpoint:

- a message from the rule is an EventBridge event; when more than one subscription wants it, it is
  split into one message per subscription (:class:`Split`), so each endpoint is retried and
  dead-lettered on its own and a slow CRM never makes another receive an event twice;
- the request: ``POST url`` with the event's JSON, ``webhook-id`` = the event id (the same on every
  retry and for every redelivery of the event: receivers dedupe on it), ``webhook-timestamp`` = the
  attempt's wall-clock second (receivers compare it with their own clock, so not the twin's
  business clock) and ``webhook-signature`` = ``v1,<HMAC-SHA256>`` (the ``standardwebhooks``
  package, the same one a receiver verifies with);
- the answer: 2xx is delivered; 408, 429, 5xx and no answer (timeout, refused) are retried
  (:class:`Retry`: the message comes back after a doubling delay), up to :data:`MAX_ATTEMPTS`;
  any other status (a 4xx, a redirect) is a refusal no retry changes: dead-lettered at once with
  the reason (:class:`DeadLetter`), as are messages that cannot be read and unknown tenants.

Pure use-case code: the tenant's configuration, its secrets, the transport and the clock are
passed in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from standardwebhooks import Webhook

from shared.domain.events import DomainEvent
from shared.ports import TransportError
from shared.tenant.models.subscriptions import Subscription, subscribers

if TYPE_CHECKING:
    from shared.ports import ChannelSecrets, WebhookTransport
    from shared.tenant.models import TenantConfig

MAX_ATTEMPTS = 8
"""Attempts of one event at one endpoint; the last failure is dead-lettered with its reason."""
MAX_DELAY_SECONDS = 43_200
"""SQS's longest visibility timeout (12 hours)."""
TIMEOUT_SECONDS = 4.0
"""Per request: a batch of 5 waits at most 20 s, inside the function's 30 s."""
RETRIED_STATUSES = frozenset({408, 429})


class Unreadable(ValueError):
    """A message that is no event (or no event of a known shape): retrying cannot help."""


@dataclass(frozen=True)
class Outgoing:
    event: DomainEvent
    subscription: str | None = None
    """Set on a split message: the one endpoint it is for."""

    def body(self) -> str:
        return json.dumps({"subscription": self.subscription, "event": self.event.model_dump(mode="json")})


def read_message(body: str) -> Outgoing:
    """An SQS message: the rule's EventBridge event, or a split message (:meth:`Outgoing.body`)."""
    try:
        parsed = json.loads(body)
        if isinstance(parsed, dict) and "detail" in parsed:
            return Outgoing(DomainEvent.model_validate(parsed["detail"]))
        if isinstance(parsed, dict) and "event" in parsed:
            return Outgoing(DomainEvent.model_validate(parsed["event"]), parsed.get("subscription"))
    except (ValueError, ValidationError) as exc:
        raise Unreadable(f"not a domain event: {exc}") from exc
    raise Unreadable("not a domain event: neither an EventBridge event nor a split message")


# ---------------------------------------------------------------- outcomes
@dataclass(frozen=True)
class Delivered:
    subscription: str
    status: int


@dataclass(frozen=True)
class Skipped:
    reason: str


@dataclass(frozen=True)
class Split:
    messages: list[str]


@dataclass(frozen=True)
class Retry:
    reason: str
    delay_seconds: int


@dataclass(frozen=True)
class DeadLetter:
    reason: str
    subscription: str | None = None
    """The endpoint that refused it: a redriven message goes to that one only."""


Outcome = Delivered | Skipped | Split | Retry | DeadLetter


def retry_delay(attempt: int, base_seconds: int) -> int:
    """Seconds before attempt ``attempt + 1``: ``base``, then doubling, at most 12 hours."""
    return int(min(MAX_DELAY_SECONDS, max(1, base_seconds) * 2 ** max(0, attempt - 1)))


def signed_request(event: DomainEvent, secret: str, sent_at: datetime) -> tuple[dict[str, str], bytes]:
    """The headers and body of one attempt (Standard Webhooks: id, timestamp, signature)."""
    body = event.body()
    signature = Webhook(secret).sign(event.id, sent_at, body)
    headers = {
        "content-type": "application/json",
        "user-agent": "scrm-webhooks/1",
        "webhook-id": event.id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signature,
    }
    return headers, body


def deliver(
    message: Outgoing,
    cfg: TenantConfig,
    secrets: ChannelSecrets,
    transport: WebhookTransport,
    *,
    sent_at: datetime,
    attempt: int,
    retry_base_seconds: int,
) -> Outcome:
    """One attempt of one message (``attempt``: SQS's receive count, from 1)."""
    event = message.event
    wanted: list[Subscription] = subscribers(list(cfg.subscriptions), event.type)
    if message.subscription is not None:
        wanted = [s for s in wanted if s.id == message.subscription]
    if not wanted:
        return Skipped(f"no subscription of {cfg.tenant.id} wants {event.type} (now)")
    if len(wanted) > 1:
        return Split([Outgoing(event, s.id).body() for s in wanted])
    sub = wanted[0]
    secret = secrets.get(sub.secret.ssm)
    if secret is None:
        return _retry_or_give_up(
            f"subscription {sub.id}: its secret {sub.secret.ssm} is missing",
            attempt,
            retry_base_seconds,
            sub.id,
        )
    headers, body = signed_request(event, secret, sent_at)
    try:
        status = transport.post(sub.url, headers, body, TIMEOUT_SECONDS)
    except TransportError as exc:
        return _retry_or_give_up(
            f"subscription {sub.id}: no answer from {sub.url}: {exc}", attempt, retry_base_seconds, sub.id
        )
    except ValueError as exc:  # a URL the transport refuses to call (http in AWS)
        return DeadLetter(f"subscription {sub.id}: {exc}", sub.id)
    if 200 <= status < 300:
        return Delivered(sub.id, status)
    reason = f"subscription {sub.id}: {sub.url} answered {status}"
    if status >= 500 or status in RETRIED_STATUSES:
        return _retry_or_give_up(reason, attempt, retry_base_seconds, sub.id)
    return DeadLetter(f"{reason} (not retried: a {status} means the receiver refuses this event)", sub.id)


def _retry_or_give_up(reason: str, attempt: int, base: int, subscription: str) -> Outcome:
    if attempt >= MAX_ATTEMPTS:
        return DeadLetter(f"{reason}; gave up after {attempt} attempts", subscription)
    return Retry(reason, retry_delay(attempt, base))


def describe(outcome: Outcome) -> dict[str, Any]:
    """For the log line of each message."""
    return {
        "outcome": type(outcome).__name__.lower(),
        **{k: v for k, v in vars(outcome).items() if k != "messages"},
    }
