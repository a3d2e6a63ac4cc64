"""`subscriptions`: the tenant's webhook endpoints for domain events (its CRM, its data warehouse).

```yaml
subscriptions:
  - id: crm
    url: https://crm.example.com/hooks/scrm
    events: [ticket.closed, settlement.posted]   # or ["*"], or ["ticket.*"]
    secret: {ssm: /scrm/acme-home/subscriptions/crm}   # whsec_... (Standard Webhooks)
```

Every event of the tenant whose type one of `events` names is POSTed to `url`, signed with the
secret the Standard Webhooks way (`docs/events.md`). The event names are checked against the
platform's (`shared.domain.events.EVENT_NAMES`) by `checks/subscriptions.py`, with did-you-mean.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, field_validator

from shared.tenant.models.base import _Model
from shared.tenant.models.channels import SecretRef
from shared.tenant.models.formats import Ident, Text

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
"""Hosts an `http://` URL may name: only the local twin (which never sends) has a use for them."""


def check_url(url: str) -> str:
    """An absolute https URL (http only to a loopback host: the twin's), without credentials."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{url!r} is not an absolute URL; write https://host/path")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise ValueError(
            f"{url!r} is http; events are signed but not encrypted there, write https:// "
            "(http is only for localhost on the local twin)"
        )
    if parts.username or parts.password:
        raise ValueError(f"{url!r} holds credentials; the signature authenticates the platform, remove them")
    return url


class Subscription(_Model):
    """One webhook endpoint and the event types it receives."""

    id: Ident
    url: Text
    events: list[Text] = Field(min_length=1)
    """Event types (`ticket.closed`), a group (`ticket.*`) or every event (`*`)."""
    secret: SecretRef
    """The Standard Webhooks secret (`whsec_` + base64) both sides hold; the file names where it is."""
    description: str | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        return check_url(url)

    def wants(self, event_type: str) -> bool:
        """Whether an event of this type goes to this endpoint."""
        return any(_matches(pattern, event_type) for pattern in self.events)


def _matches(pattern: str, event_type: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


def subscribers(subscriptions: list[Subscription], event_type: str) -> list[Subscription]:
    """The subscriptions that receive an event of ``event_type``, in the file's order."""
    return [s for s in subscriptions if s.wants(event_type)]
