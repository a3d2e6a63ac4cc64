"""Routes and tasks named by the contract whose behaviour later issues build.

They answer clearly instead of pretending: HTTP routes get 404 ``not_available`` naming
what is missing; workflow tasks fail loudly so the execution stops visibly.
"""

from __future__ import annotations

import json
from typing import Any


def unavailable_route(event: dict[str, Any], what: str) -> dict[str, Any]:
    body = {
        "error": "not_available",
        "message": f"{event.get('routeKey', 'this route')}: {what} is not available in this release yet",
        "details": [],
    }
    return {"statusCode": 404, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


class NotBuiltYet(Exception):
    """A workflow task whose behaviour is not built yet: the execution fails visibly."""
