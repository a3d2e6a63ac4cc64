"""Names of one-time timers (EventBridge Scheduler schedules), shared by whoever sets and cancels them."""

from __future__ import annotations

import hashlib
import re

_NAME_OK = re.compile(r"[^0-9A-Za-z_.-]")


def schedule_name(*parts: str) -> str:
    """A valid schedule name (≤ 64 of [0-9A-Za-z_.-]) that is stable for the same parts."""
    raw = "-".join(parts)
    clean = _NAME_OK.sub("_", raw)
    if len(clean) <= 64:
        return clean
    digest = hashlib.sha256(raw.encode()).hexdigest()[:16]
    return f"{clean[:47]}-{digest}"


def offer_timer_name(tenant: str, ticket_id: str, attempt: int | str) -> str:
    """The timer of a dispatch offer: one per ticket and dispatch attempt."""
    return schedule_name("offer", tenant, ticket_id, str(attempt))
