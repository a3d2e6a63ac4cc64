"""Where moto differs from AWS in a way the product depends on, the twin makes it behave.

- DynamoDB transactions: moto applies a TransactWriteItems item by item and restores a
  snapshot of the whole table on failure. Concurrent requests then interleave, and one
  request's rollback can undo another's committed write. DynamoDB serializes them; so does
  the twin, by handling one DynamoDB request at a time.

The same wrapper meters request units (see meter.py).
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from moto.dynamodb.responses import DynamoHandler

from infra.twin.meter import enter_aws, leave_aws, meter_dynamodb

_lock = threading.RLock()
_installed = False


def serialize_dynamodb() -> None:
    global _installed
    if _installed:
        return
    original = DynamoHandler.call_action

    @functools.wraps(original)
    def call_action(self: DynamoHandler) -> Any:
        operation = str(self.headers.get("X-Amz-Target", "")).rsplit(".", 1)[-1]
        enter_aws()
        try:
            with _lock:
                try:
                    response = original(self)
                except Exception:
                    meter_dynamodb(self, operation, getattr(self, "body", {}) or {}, None)
                    raise
                meter_dynamodb(self, operation, self.body or {}, response)
                return response
        finally:
            leave_aws()

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    _installed = True
