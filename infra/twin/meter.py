"""What the twin's traffic would cost on AWS: counted from the calls, not estimated.

- DynamoDB request units, computed from item sizes the way DynamoDB bills on-demand tables
  (moto's ReturnConsumedCapacity is empty for transactions, so every call is counted here):
  writes 1 WRU per started KB (2 in a transaction), plus one write of the projection to each
  GSI the item appears in; strongly consistent reads 1 RRU per started 4 KB, eventually
  consistent 0.5 (2 in a transaction); a Query is billed on the sum of the items it read.
- Lambda invocations with their in-process CPU milliseconds (the twin runs handlers in threads;
  thread CPU time excludes time spent waiting on the embedded AWS).
- Scheduler schedules created, SQS messages sent, SNS publishes, SES emails, HTTP API requests.
- Every AWS call the product's code makes (``calls``, keyed ``service:Operation`` by the IAM
  action name), classified data plane or control plane (``infra/quotas.py`` ``plane``): counted at
  ``botocore.client.BaseClient._make_api_call``, so boto3 clients of any session and pynamodb's
  connection are all seen. Only calls made inside a Lambda invocation count (:meth:`Meter.invocation`,
  entered by ``infra/twin/lambdas.py`` around each handler, and carried into the tasks a handler
  submits to a thread pool): the twin's own calls (deploying,
  firing schedules, polling queues, sampling metrics) and a benchmark's polling are not the
  product's. Step Functions' own ``lambda:Invoke`` of a Task is not the product's call either: it
  is counted as an invocation (``lambda_calls``).
- Rate buckets (:class:`RateBuckets`): the product's calls to an API with an account-wide rate
  quota (Step Functions, STS, SSM reads, Scheduler) take a token from that API's bucket, with
  AWS's bucket size and refill; an empty bucket throttles the call as AWS would
  (``ThrottlingException``), so a regression that puts a control-plane call on a ticket's path
  fails a test under load instead of passing on an AWS that enforces nothing.
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

SDK_RETRY_SECONDS = 1.5
"""How long a throttled call may wait for its bucket before it fails: what the AWS SDK's standard
retry mode (3 attempts, exponential backoff with full jitter: 0.5 s + 1 s expected) absorbs. A
burst a little over the bucket waits; a sustained rate over the refill fails."""

_NOT_PRODUCT = frozenset({"lambda:Invoke"})
"""Calls made by the embedded AWS on the product's behalf, never by its code (Step Functions
invoking a Task's function); counted as invocations instead."""


class TokenBucket:
    """AWS's throttling scheme: ``size`` tokens, ``refill`` more each second, one per request.

    A request that finds the bucket empty may reserve a future token (the bucket goes negative)
    when it would come within ``max_wait`` seconds; the caller sleeps that long, as the SDK's
    retries would. Beyond that the request is throttled.
    """

    def __init__(self, size: float, refill: float, clock: Any = time.monotonic) -> None:
        self.size = size
        self.refill = refill
        self.tokens = size
        self._clock = clock
        self._at = clock()

    def reserve(self, max_wait: float) -> float | None:
        """Seconds to wait for a token (0: one is there), or None: throttled."""
        now = self._clock()
        self.tokens = min(self.size, self.tokens + (now - self._at) * self.refill)
        self._at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        wait = (1 - self.tokens) / self.refill if self.refill > 0 else float("inf")
        if wait > max_wait:
            return None
        self.tokens -= 1
        return wait


class RateBuckets:
    """One token bucket per rate quota of ``infra/quotas.py`` that the twin enforces (APIs that
    share a quota, such as SSM's three reads, share its bucket); one account, as the twin is."""

    def __init__(self, max_wait: float = SDK_RETRY_SECONDS) -> None:
        from infra.quotas import enforced_buckets

        self.max_wait = max_wait
        self.enabled = True
        self._quotas = enforced_buckets()
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Every bucket full again (a new twin is a new account)."""
        with self._lock:
            self._buckets.clear()

    def take(self, api: str) -> float | None:
        """Seconds to wait before ``api`` may run (0 for an API without a bucket); None: throttled."""
        quota = self._quotas.get(api)
        if quota is None or not self.enabled:
            return 0.0
        with self._lock:
            bucket = self._buckets.get(quota.key)
            if bucket is None:
                bucket = self._buckets[quota.key] = TokenBucket(quota.burst, quota.value)
            return bucket.reserve(self.max_wait)


BUCKETS = RateBuckets()


class Meter:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.units: Counter[str] = Counter()  # "rru", "wru" as Decimal-safe floats (halves)
        self.lambda_cpu_ms: Counter[str] = Counter()
        self.lambda_calls: Counter[str] = Counter()
        self.lambda_wall_ms: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        """The product's AWS calls by ``service:Operation`` (inside invocations only)."""
        self.calls_by_function: Counter[str] = Counter()
        """The same, keyed ``<function> <service:Operation>``: who makes each call."""
        self.throttled: Counter[str] = Counter()
        self.partition_units: Counter[str] = Counter()
        """DynamoDB request units by partition: ``<wru|rru> <function> <table|index> <partition key>``
        (the function whose invocation made the request, ``-`` outside one): hot keys, measured."""

    def add_partition_units(self, kind: str, index: str, key: str, n: float) -> None:
        if getattr(_local, "paused", False) or not key:
            return
        function = getattr(_local, "invocation", None) or "-"
        with _lock:
            self.partition_units[f"{kind} {function} {index} {key}"] += n  # type: ignore[assignment]

    @contextlib.contextmanager
    def invocation(self, function: str) -> Iterator[None]:
        """Calls made by this thread inside the block are ``function``'s (the product's)."""
        outer = getattr(_local, "invocation", None)
        _local.invocation = function
        try:
            yield
        finally:
            _local.invocation = outer

    def product_call(self, api: str) -> None:
        """Count one AWS call when the product's code makes it, and take its rate token: waits as
        the SDK's retries would, or raises ``ThrottlingException`` as AWS would."""
        function = getattr(_local, "invocation", None)
        if function is None or getattr(_local, "paused", False) or api in _NOT_PRODUCT:
            return
        wait = BUCKETS.take(api)
        if wait is None:
            with _lock:
                self.throttled[api] += 1
            raise throttling_error(api)
        with _lock:
            self.calls[api] += 1
            self.calls_by_function[f"{function} {api}"] += 1
        if wait > 0:
            time.sleep(wait)

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

    def lambda_call(self, name: str, cpu_ms: float, wall_ms: float = 0.0) -> None:
        with _lock:
            self.lambda_calls[name] += 1
            self.lambda_cpu_ms[name] += cpu_ms  # type: ignore[assignment]
            self.lambda_wall_ms[name] += wall_ms  # type: ignore[assignment]

    def snapshot(self) -> dict[str, Any]:
        from infra.quotas import plane

        with _lock:
            by_plane: dict[str, dict[str, int]] = {"data": {}, "control": {}}
            for api, n in sorted(self.calls.items()):
                by_plane[plane(api)][api] = n
            return {
                "counts": dict(self.counts),
                "rru": float(self.units["rru"]),
                "wru": float(self.units["wru"]),
                "units_by_operation": {k: float(v) for k, v in sorted(self.units.items()) if ":" in k},
                "lambda_calls": dict(self.lambda_calls),
                "lambda_cpu_ms": {k: round(v, 3) for k, v in self.lambda_cpu_ms.items()},
                "lambda_wall_ms": {k: round(v, 3) for k, v in self.lambda_wall_ms.items()},
                "calls": dict(sorted(self.calls.items())),
                "calls_by_plane": by_plane,
                "control_plane_calls": sum(by_plane["control"].values()),
                "calls_by_function": dict(sorted(self.calls_by_function.items())),
                "throttled": dict(self.throttled),
                "partition_units": {k: float(v) for k, v in sorted(self.partition_units.items())},
            }

    def reset(self) -> None:
        with _lock:
            self.counts.clear()
            self.units.clear()
            self.lambda_cpu_ms.clear()
            self.lambda_calls.clear()
            self.lambda_wall_ms.clear()
            self.calls.clear()
            self.calls_by_function.clear()
            self.throttled.clear()
            self.partition_units.clear()


METER = Meter()


# ------------------------------------------------------------------ every botocore call
_THROTTLING_CODES = {"sts": "Throttling", "iam": "Throttling", "cloudformation": "Throttling"}
_SIGNING_TO_IAM = {"monitoring": "cloudwatch", "email": "ses"}


def throttling_error(api: str) -> Exception:
    """The ``ClientError`` AWS answers an over-quota request with (HTTP 400, ``ThrottlingException``
    or, for STS/IAM/CloudFormation, ``Throttling``)."""
    from botocore.exceptions import ClientError

    service, _, operation = api.partition(":")
    code = _THROTTLING_CODES.get(service, "ThrottlingException")
    response: Any = {
        "Error": {"Code": code, "Message": "Rate exceeded"},
        "ResponseMetadata": {"HTTPStatusCode": 400, "HTTPHeaders": {}},
    }
    return ClientError(response, operation)


def api_name(client: Any, operation: str) -> str:
    """``service:Operation`` as IAM names the action (``states:StartExecution``, ``ses:SendEmail``)."""
    model = client.meta.service_model
    prefix = str(model.signing_name or model.endpoint_prefix)
    return f"{_SIGNING_TO_IAM.get(prefix, prefix)}:{operation}"


_ORIGINAL_CALL: Any = None


def install_call_meter() -> None:
    """Wrap ``BaseClient._make_api_call`` (once per process): every client's calls pass
    :meth:`Meter.product_call` first, whatever session made the client (boto3's default one,
    pynamodb's own, a tenant-scoped one)."""
    global _ORIGINAL_CALL
    from botocore.client import BaseClient

    if _ORIGINAL_CALL is not None:
        return
    original = BaseClient._make_api_call  # type: ignore[attr-defined]
    _ORIGINAL_CALL = original

    def metered(self: Any, operation_name: str, api_params: Any) -> Any:
        api = api_name(self, operation_name)
        METER.product_call(api)
        if api == "events:PutEvents":  # billed per event (64 KB chunk), not per request
            METER.count("events:event", len(api_params.get("Entries") or []))
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = metered  # type: ignore[attr-defined]
    _carry_invocation_into_pools()


def _carry_invocation_into_pools() -> None:
    """A function's own thread pool works for its invocation (the gauges fan out over tenants in
    one): a task submitted inside an invocation runs inside it, so its calls are the product's."""
    from concurrent.futures import ThreadPoolExecutor

    original = ThreadPoolExecutor.submit

    def submit(self: Any, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        function = getattr(_local, "invocation", None)
        if function is None:
            return original(self, fn, *args, **kwargs)

        def within(*inner: Any, **named: Any) -> Any:
            with METER.invocation(function):
                return fn(*inner, **named)

        return original(self, within, *args, **kwargs)

    ThreadPoolExecutor.submit = submit  # type: ignore[method-assign]


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


def _key_text(value: Any) -> str:
    """A key attribute's value as text (``{"S": "TENANT#a#TICKETS"}`` -> ``TENANT#a#TICKETS``)."""
    if isinstance(value, Mapping) and len(value) == 1:
        return str(next(iter(value.values())))
    return ""


def _table_partition(
    handler: Any, table_name: str, item: Mapping[str, Any] | None, kind: str, n: float
) -> None:
    """``n`` units on the base table's partition of ``item`` (its hash key's value)."""
    if not item:
        return
    try:
        attr = handler.dynamodb_backend.get_table(table_name).hash_key_attr
    except Exception:
        return
    METER.add_partition_units(kind, "table", _key_text(item.get(attr)), n)


def _query_partition(handler: Any, body: Mapping[str, Any], items: list[dict[str, Any]], n: float) -> None:
    """A Query reads one partition (of the table or of ``IndexName``): the items' hash key value."""
    if not items:
        return
    try:
        table = handler.dynamodb_backend.get_table(body["TableName"])
    except Exception:
        return
    index_name = body.get("IndexName")
    attr = table.hash_key_attr
    for index in table.global_indexes:
        if index.name == index_name:
            attr = next((k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"), attr)
    METER.add_partition_units("rru", index_name or "table", _key_text(items[0].get(attr)), n)


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
        units = _wru(item_size(projected))
        METER.add_units("wru", units)
        _local.operation = operation
        hash_attr = next((k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"), "")
        METER.add_partition_units("wru", index.name, _key_text(item.get(hash_attr)), units)
        METER.count("dynamodb:index-write")


def meter_dynamodb(handler: Any, operation: str, body: Mapping[str, Any], response: Any) -> None:
    """Count the request units of one DynamoDB call (called after moto handled it)."""
    METER.count(f"dynamodb:{operation}")
    _local.operation = operation
    consistent = bool(body.get("ConsistentRead"))
    image: dict[str, Any] | None = None
    if operation == "PutItem":
        units = _wru(item_size(body.get("Item")))
        METER.add_units("wru", units)
        _table_partition(handler, body["TableName"], body.get("Item"), "wru", units)
        if response is not None:
            _index_writes(handler, body["TableName"], body.get("Item"))
    elif operation in ("UpdateItem", "DeleteItem"):
        image = _stored_item(handler, body["TableName"], body["Key"]) if operation == "UpdateItem" else None
        units = _wru(item_size(image))
        METER.add_units("wru", units)
        _table_partition(handler, body["TableName"], body["Key"], "wru", units)
        if response is not None:
            _index_writes(handler, body["TableName"], image)
    elif operation == "GetItem":
        units = _rru(_stored(handler, body["TableName"], body["Key"]), consistent)
        METER.add_units("rru", units)
        _table_partition(handler, body["TableName"], body["Key"], "rru", units)
    elif operation in ("Query", "Scan"):
        items = _items_of(response)
        units = _rru(sum(item_size(i) for i in items), consistent)
        METER.add_units("rru", units)
        if operation == "Query":
            _query_partition(handler, body, items, units)
    elif operation == "TransactWriteItems":
        for entry in body.get("TransactItems", []):
            ((kind, spec),) = entry.items()
            image = None
            if kind == "Put":
                image = dict(spec.get("Item") or {})
            elif kind == "Update":
                image = _stored_item(handler, spec["TableName"], spec["Key"])
            units = _wru(item_size(image), transactional=True)
            METER.add_units("wru", units)
            _table_partition(handler, spec["TableName"], spec.get("Key") or image, "wru", units)
            if response is not None and kind in ("Put", "Update"):
                _index_writes(handler, spec["TableName"], image)
    elif operation == "TransactGetItems":
        for entry in body.get("TransactItems", []):
            spec = entry["Get"]
            units = _rru(_stored(handler, spec["TableName"], spec["Key"]), True, True)
            METER.add_units("rru", units)
            _table_partition(handler, spec["TableName"], spec["Key"], "rru", units)
    elif operation == "BatchWriteItem":
        for table_name, requests in body.get("RequestItems", {}).items():
            for request in requests:
                put = request.get("PutRequest", {}).get("Item")
                units = _wru(item_size(put))
                METER.add_units("wru", units)
                _table_partition(
                    handler, table_name, put or request.get("DeleteRequest", {}).get("Key"), "wru", units
                )
                if response is not None:
                    _index_writes(handler, table_name, put)
    elif operation == "BatchGetItem":
        for table_name, items in (_json(response).get("Responses") or {}).items():
            for item in items:
                units = _rru(item_size(item), consistent)
                METER.add_units("rru", units)
                _table_partition(handler, table_name, item, "rru", units)


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
    "eventbridge_per_event": Decimal("0.000001"),  # custom events put on a bus
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
