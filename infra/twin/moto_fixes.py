"""Where moto differs from AWS in a way the product depends on, the twin makes it behave.

- DynamoDB transactions: moto applies a TransactWriteItems item by item and restores a
  snapshot of the whole table on failure. Concurrent requests then interleave, and one
  request's rollback can undo another's committed write. DynamoDB serializes them; so does
  the twin, by handling one DynamoDB request at a time.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from moto.dynamodb.responses import DynamoHandler

_lock = threading.RLock()
_installed = False


def serialize_dynamodb() -> None:
    global _installed
    if _installed:
        return
    original = DynamoHandler.call_action

    @functools.wraps(original)
    def call_action(self: DynamoHandler) -> Any:
        with _lock:
            return original(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    _installed = True
