"""What the twin's traffic would cost on AWS: counted from the calls, not estimated.

- DynamoDB request units, computed from item sizes the way DynamoDB bills on-demand tables
  (moto's ReturnConsumedCapacity is empty for transactions, so every call is counted here):
  writes 1 WRU per started KB (2 in a transaction), plus one write of the projection to each
  GSI the item appears in; strongly consistent reads 1 RRU per started 4 KB, eventually
  consistent 0.5 (2 in a transaction); a Query is billed on the sum of the items it read.
- Lambda invocations with their in-process CPU milliseconds (the twin runs handlers in threads;
  thread CPU time excludes time spent waiting on the embedded AWS).
- Scheduler schedules created, SQS messages sent, SNS publishes, SES emails, HTTP API requests.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

_lock = threading.Lock()


class Meter:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.units: Counter[str] = Counter()  # "rru", "wru" as Decimal-safe floats (halves)
        self.lambda_cpu_ms: Counter[str] = Counter()
        self.lambda_calls: Counter[str] = Counter()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Calls made by this thread are not counted (a benchmark's own polling, not the product's)."""
        _local.paused = True
        try:
            yield
        finally:
            _local.paused = False

    def count(self, key: str, n: float = 1) -> None:
        if getattr(_local, "paused", False):
            return
        with _lock:
            self.counts[key] += n  # type: ignore[assignment]

    def add_units(self, kind: str, n: float) -> None:
        if getattr(_local, "paused", False):
            return
        with _lock:
            self.units[kind] += n  # type: ignore[assignment]
            self.units[f"{kind}:{getattr(_local, 'operation', '?')}"] += n  # type: ignore[assignment]

    def lambda_call(self, name: str, cpu_ms: float) -> None:
        with _lock:
            self.lambda_calls[name] += 1
            self.lambda_cpu_ms[name] += cpu_ms  # type: ignore[assignment]

    def snapshot(self) -> dict[str, Any]:
        with _lock:
            return {
                "counts": dict(self.counts),
                "rru": float(self.units["rru"]),
                "wru": float(self.units["wru"]),
                "units_by_operation": {k: float(v) for k, v in sorted(self.units.items()) if ":" in k},
                "lambda_calls": dict(self.lambda_calls),
                "lambda_cpu_ms": {k: round(v, 3) for k, v in self.lambda_cpu_ms.items()},
            }

    def reset(self) -> None:
        with _lock:
            self.counts.clear()
            self.units.clear()
            self.lambda_cpu_ms.clear()
            self.lambda_calls.clear()


METER = Meter()


# ------------------------------------------------------------------ DynamoDB item sizes
def _value_size(value: Mapping[str, Any]) -> int:
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(str(inner).encode("utf-8"))
    if kind == "N":
        digits = str(inner).lstrip("-").replace(".", "").lstrip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(inner) * 3 // 4 if isinstance(inner, str) else len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "BS"):
        return sum(len(str(v).encode("utf-8")) for v in inner)
    if kind == "NS":
        return sum(_value_size({"N": v}) for v in inner)
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + _value_size(v) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in inner)
    return 0


def item_size(item: Mapping[str, Any] | None) -> int:
    """Bytes of an item in DynamoDB JSON, by DynamoDB's sizing rules."""
    if not item:
        return 0
    return sum(len(name.encode("utf-8")) + _value_size(value) for name, value in item.items())


def _wru(size: int, transactional: bool = False) -> float:
    return max(1, math.ceil(size / 1024)) * (2 if transactional else 1)


def _rru(size: int, consistent: bool, transactional: bool = False) -> float:
    blocks = max(1, math.ceil(size / 4096))
    if transactional:
        return blocks * 2.0
    return blocks * (1.0 if consistent else 0.5)


def _stored_item(handler: Any, table: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
    try:
        found = handler.dynamodb_backend.get_item(table, key)
    except Exception:
        return None
    return dict(found.to_json()["Attributes"]) if found is not None else None


def _stored(handler: Any, table: str, key: Mapping[str, Any]) -> int:
    return item_size(_stored_item(handler, table, key))


def _index_writes(handler: Any, table_name: str, item: Mapping[str, Any] | None) -> None:
    """Each GSI the written item appears in is a write of its projection (standard rate, even
    inside a transaction). Changing an index key also deletes the old entry; that second write
    is not counted (an under-count, on key changes only)."""
    if not item:
        return
    try:
        table = handler.dynamodb_backend.get_table(table_name)
    except Exception:
        return
    keys = [k["AttributeName"] for k in table.schema]
    for index in table.global_indexes:
        index_keys = [k["AttributeName"] for k in index.schema]
        if not all(k in item for k in index_keys):
            continue
        kind = (index.projection or {}).get("ProjectionType", "ALL")
        if kind == "ALL":
            projected: Mapping[str, Any] = item
        else:
            wanted = set(keys + index_keys) | set((index.projection or {}).get("NonKeyAttributes", []))
            projected = {k: v for k, v in item.items() if k in wanted}
        operation = getattr(_local, "operation", "?")
        _local.operation = f"{operation}>{index.name}"
        METER.add_units("wru", _wru(item_size(projected)))
        _local.operation = operation
        METER.count("dynamodb:index-write")


def meter_dynamodb(handler: Any, operation: str, body: Mapping[str, Any], response: Any) -> None:
    """Count the request units of one DynamoDB call (called after moto handled it)."""
    METER.count(f"dynamodb:{operation}")
    _local.operation = operation
    consistent = bool(body.get("ConsistentRead"))
    image: dict[str, Any] | None = None
    if operation == "PutItem":
        METER.add_units("wru", _wru(item_size(body.get("Item"))))
        if response is not None:
            _index_writes(handler, body["TableName"], body.get("Item"))
    elif operation in ("UpdateItem", "DeleteItem"):
        image = _stored_item(handler, body["TableName"], body["Key"]) if operation == "UpdateItem" else None
        METER.add_units("wru", _wru(item_size(image)))
        if response is not None:
            _index_writes(handler, body["TableName"], image)
    elif operation == "GetItem":
        METER.add_units("rru", _rru(_stored(handler, body["TableName"], body["Key"]), consistent))
    elif operation in ("Query", "Scan"):
        items = _items_of(response)
        METER.add_units("rru", _rru(sum(item_size(i) for i in items), consistent))
    elif operation == "TransactWriteItems":
        for entry in body.get("TransactItems", []):
            ((kind, spec),) = entry.items()
            image = None
            if kind == "Put":
                image = dict(spec.get("Item") or {})
            elif kind == "Update":
                image = _stored_item(handler, spec["TableName"], spec["Key"])
            METER.add_units("wru", _wru(item_size(image), transactional=True))
            if response is not None and kind in ("Put", "Update"):
                _index_writes(handler, spec["TableName"], image)
    elif operation == "TransactGetItems":
        for entry in body.get("TransactItems", []):
            spec = entry["Get"]
            METER.add_units("rru", _rru(_stored(handler, spec["TableName"], spec["Key"]), True, True))
    elif operation == "BatchWriteItem":
        for requests in body.get("RequestItems", {}).values():
            for request in requests:
                put = request.get("PutRequest", {}).get("Item")
                METER.add_units("wru", _wru(item_size(put)))
                if response is not None:
                    _index_writes(handler, next(iter(body["RequestItems"])), put)
    elif operation == "BatchGetItem":
        for items in (_json(response).get("Responses") or {}).values():
            for item in items:
                METER.add_units("rru", _rru(item_size(item), consistent))


def _json(response: Any) -> dict[str, Any]:
    body = response[2] if isinstance(response, tuple) and len(response) == 3 else response
    if isinstance(body, bytes | str):
        try:
            return dict(json.loads(body))
        except ValueError:
            return {}
    return body if isinstance(body, dict) else {}


def _items_of(response: Any) -> list[dict[str, Any]]:
    return list(_json(response).get("Items") or [])


# ------------------------------------------------------------------ AWS list prices
# us-east-1 list prices (USD), checked 2026-11; see README "Performance and cost".
PRICES = {
    "stepfunctions_per_transition": Decimal("0.000025"),
    "lambda_per_request": Decimal("0.0000002"),
    "lambda_arm_per_gb_second": Decimal("0.0000133334"),
    "dynamodb_per_wru": Decimal("0.000000625"),
    "dynamodb_per_rru": Decimal("0.000000125"),
    "scheduler_per_invocation": Decimal("0.000001"),
    "sqs_per_request": Decimal("0.0000004"),
    "apigw_http_per_request": Decimal("0.000001"),
    "ses_per_email": Decimal("0.0001"),
}


# ------------------------------------------------------------------ CPU spent inside the embedded AWS
_local = threading.local()


def aws_cpu_ms() -> float:
    """Thread CPU ms spent inside embedded-AWS calls so far (subtracted from handler CPU)."""
    return float(getattr(_local, "aws_ms", 0.0))


def enter_aws() -> None:
    depth = getattr(_local, "depth", 0)
    if depth == 0:
        _local.started = time.thread_time()
    _local.depth = depth + 1


def leave_aws() -> None:
    depth = getattr(_local, "depth", 1) - 1
    _local.depth = max(0, depth)
    if depth <= 0 and hasattr(_local, "started"):
        _local.aws_ms = aws_cpu_ms() + (time.thread_time() - _local.started) * 1000
