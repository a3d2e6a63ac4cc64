"""Page cursors of the list APIs (``GET /tickets``, ``GET /deliveries``): opaque, and bound to a tenant.

A cursor is the position a page ended at, with the tenant it was read for, as unpadded base64url JSON.
The position is whatever the repository answered (a DynamoDB last key, or the sort key a merged,
sharded listing ended at: ``shared/repositories/tickets.py``); the repository checks it is one of
its own (``invalid_cursor`` otherwise), so a cursor of one listing never resumes another.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from shared.errors import ValidationFailed


def encode_cursor(key: dict[str, Any] | None, tenant: str) -> str | None:
    if not key:
        return None
    raw = json.dumps({"t": tenant, "k": key}, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def invalid_cursor() -> ValidationFailed:
    """The one answer to a cursor that is not one this listing gave (a 422 naming ``next``)."""
    return ValidationFailed(
        "the 'next' cursor is not valid",
        [{"field": "next", "message": "pass the cursor of the previous page"}],
    )


def decode_cursor(cursor: str | None, tenant: str) -> dict[str, Any] | None:
    """The cursor names its tenant, so one tenant's cursor can never read another's keys."""
    if not cursor:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if data["t"] != tenant or not isinstance(data["k"], dict):
            raise ValueError
        return dict(data["k"])
    except (ValueError, KeyError, TypeError):
        raise invalid_cursor() from None
