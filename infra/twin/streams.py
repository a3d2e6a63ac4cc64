"""DynamoDB Streams event sources, run by the twin as Lambda runs them.

An ``AWS::Lambda::EventSourceMapping`` whose source is a table's stream (the revenue aggregates'
feed, ``infra/constructs/aggregates.py``) becomes a :class:`StreamSource`: the twin polls the
stream every :data:`POLL_SECONDS` (its shards through moto's ``DescribeStream``, their records from
moto's shard itself: see :meth:`StreamSource._read`) and calls the function in-process with the
records, as Lambda's poller would:

- the mapping's **filters** (Lambda event filtering) decide which records reach the function
  (matched with moto's EventBridge pattern matcher: the syntax is the same); the others are
  passed over without an invocation;
- up to ``BatchSize`` records per invocation, in stream order, one invocation at a time per shard;
- **partial batch responses**: the function's ``batchItemFailures`` name the first record that
  failed; the stream is read again from it (records before it are done), as Lambda does with
  ``ReportBatchItemFailures``; a failed invocation retries the whole batch, halved each time when
  the mapping bisects on error;
- after ``MaximumRetryAttempts`` the batch is given up and its description goes to the mapping's
  **on-failure** queue, as Lambda sends it (the records stay in the stream).

Reads of the stream hold the twin's DynamoDB lock (``moto_fixes``): moto writes a transaction's
items (and stream records) one by one and takes them back when it fails, so a read between the two
could see a record no committed write made; DynamoDB's stream never shows one.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from moto.dynamodb.models import dynamodb_backends
from moto.events.models import EventPattern

from infra.twin.deploy import ACCOUNT, REGION
from infra.twin.lambdas import FunctionFailed
from infra.twin.moto_fixes import dynamodb_lock

POLL_SECONDS = 0.02
"""Tens of milliseconds: a test waiting for what a stream consumer folds is not kept waiting."""
READ_LIMIT = 1000
"""Records one ``GetRecords`` reads (DynamoDB's most): filtered-out records do not count towards a
batch, as with Lambda's event filtering."""


@dataclass
class StreamMapping:
    """What the twin needs of one ``AWS::Lambda::EventSourceMapping`` on a DynamoDB stream."""

    stream_arn: str
    function: str
    batch_size: int = 100
    filters: list[str] = field(default_factory=list)  # Lambda filter patterns (JSON)
    retries: int = -1  # MaximumRetryAttempts: -1 is Lambda's "until the record expires"
    bisect: bool = False
    report_failures: bool = False
    on_failure: str | None = None  # queue ARN

    @classmethod
    def of(cls, props: dict[str, Any]) -> StreamMapping:
        """From the mapping's CloudFormation properties (references filled in)."""
        criteria = (props.get("FilterCriteria") or {}).get("Filters") or []
        destination = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        return cls(
            stream_arn=str(props["EventSourceArn"]),
            function=str(props["FunctionName"]).rsplit(":", 1)[-1],
            batch_size=int(props.get("BatchSize", 100)),
            filters=[str(f["Pattern"]) for f in criteria],
            retries=int(props.get("MaximumRetryAttempts", -1)),
            bisect=bool(props.get("BisectBatchOnFunctionError", False)),
            report_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
            on_failure=str(destination) if destination else None,
        )


class StreamSource:
    """One mapping's poller: :meth:`poll` reads what is new on each shard and delivers it."""

    def __init__(
        self, mapping: StreamMapping, invoke: Callable[[str, Any], Any], log: Callable[[str], None]
    ) -> None:
        self.mapping = mapping
        self.invoke = invoke
        self.log = log
        self.streams: Any = boto3.client("dynamodbstreams", region_name=REGION)
        self.patterns: list[Any] = [EventPattern.load(p) for p in mapping.filters]
        self._keys_only = all(
            set(json.loads(p)) <= {"eventName", "dynamodb"}
            and set(json.loads(p).get("dynamodb", {})) <= {"Keys"}
            for p in mapping.filters
        )
        self.after: dict[str, str | None] = {}  # shard id -> sequence number of the last record done
        self.failures: dict[str, int] = {}  # shard id -> failed attempts of the batch at its position
        self.limit: dict[str, int] = {}  # shard id -> records an invocation takes now (bisected)
        self._table = mapping.stream_arn.split(":table/", 1)[1].split("/stream/", 1)[0]
        self._shards: list[str] = []
        self._shards_read = float("-inf")

    def poll(self) -> int:
        """Deliver what is new on every shard, batch after batch until the shard is read to its end
        or a batch fails (it is retried at the next poll); the number of records the function took."""
        taken = 0
        for shard in self._shard_ids():
            while True:
                before = self.after.get(shard)
                taken += self._poll_shard(shard)
                if self.after.get(shard) == before or self.failures.get(shard):
                    break
        return taken

    def _shard_ids(self) -> list[str]:
        """The stream's shards, described again at most once a second (a table's shards change over
        hours, and every call is the twin's CPU)."""
        if time.monotonic() - self._shards_read > 1.0:
            described = self.streams.describe_stream(StreamArn=self.mapping.stream_arn)["StreamDescription"]
            self._shards = [shard["ShardId"] for shard in described.get("Shards", [])]
            self._shards_read = time.monotonic()
        return self._shards

    def _read(self, shard: str) -> list[dict[str, Any]]:
        """The records after the shard's position (at most :data:`READ_LIMIT`), as moto keeps them.

        Read from moto's shard, not through ``GetRecords``: botocore parses every record's image
        (every table write, most of them filtered out) at ~2 ms each, which cost the twin ~70 ms of
        CPU per ticket; moto already holds the records in the stream's JSON."""
        with dynamodb_lock():
            table = dynamodb_backends[ACCOUNT][REGION].get_table(self._table)
            stream = table.stream_shard
            if stream is None or stream.id != shard:
                return []
            after = self.after.get(shard)
            first = int(after) + 1 if after else stream.starting_sequence_number
            start = first - stream.starting_sequence_number
            return [record.to_json() for record in stream.items[start : start + READ_LIMIT]]

    def _poll_shard(self, shard: str) -> int:
        records = self._read(shard)
        if not records:
            return 0
        wanted = [self._lambda_record(r) for r in records if self._wanted(r)]
        cap = self.limit.get(shard, self.mapping.batch_size)
        if len(wanted) > cap:  # a full batch (or, bisected after a failure, its first part) at a time
            cut = int(_sequence(wanted[cap]))
            wanted, records = wanted[:cap], [r for r in records if int(_sequence(r)) < cut]
        if not wanted:
            self.after[shard] = _sequence(records[-1])
            return 0
        event = {"Records": wanted}
        try:
            result = self.invoke(self.mapping.function, event)
            failed = [f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])]
            if not self.mapping.report_failures:
                failed = []
        except FunctionFailed as exc:
            self.log(f"stream {self.mapping.function}: {exc}")
            failed, errored = [_sequence(wanted[0])], True
        else:
            errored = False
        if not failed:
            self._done(shard, _sequence(records[-1]))
            return len(wanted)
        first = min(failed, key=int)
        done_before = [r for r in records if int(_sequence(r)) < int(first)]
        if done_before:  # the records before the first failure are done; read again from it
            self._done(shard, _sequence(done_before[-1]))
        self._failed(shard, wanted, first, errored)
        return 0

    def _done(self, shard: str, sequence: str) -> None:
        self.after[shard] = sequence
        self.failures.pop(shard, None)
        self.limit.pop(shard, None)

    def _failed(self, shard: str, wanted: list[dict[str, Any]], first: str, errored: bool) -> None:
        """``errored``: the invocation failed (not a reported record): bisected when the mapping says so."""
        attempts = self.failures.get(shard, 0) + 1
        self.failures[shard] = attempts
        if errored and self.mapping.bisect:  # the failed batch is tried again in halves
            self.limit[shard] = max(1, len(wanted) // 2)
        if 0 <= self.mapping.retries < attempts:
            given_up = [r for r in wanted if int(_sequence(r)) >= int(first)]
            self._send_to_on_failure(shard, given_up)
            self._done(shard, _sequence(given_up[-1]))
            return
        time.sleep(min(1.0, 0.05 * attempts))  # Lambda's pause before retrying a batch

    def _send_to_on_failure(self, shard: str, records: list[dict[str, Any]]) -> None:
        first, last = _sequence(records[0]), _sequence(records[-1])
        self.log(f"stream {self.mapping.function}: gave up records {first}..{last} of shard {shard}")
        if self.mapping.on_failure is None:
            return
        sqs: Any = boto3.client("sqs", region_name=REGION)
        url = sqs.get_queue_url(QueueName=self.mapping.on_failure.rsplit(":", 1)[-1])["QueueUrl"]
        body = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.mapping.function,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": self.failures.get(shard, 0),
            },
            "DDBStreamBatchInfo": {
                "shardId": shard,
                "startSequenceNumber": first,
                "endSequenceNumber": last,
                "batchSize": len(records),
                "streamArn": self.mapping.stream_arn,
            },
        }
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))

    def _wanted(self, record: dict[str, Any]) -> bool:
        """The mapping's filters on the record (on its event name and keys only when the patterns
        look at nothing else: every table write passes here, most of them to be passed over)."""
        if not self.patterns:
            return True
        body = record.get("dynamodb", {})
        shown = {"eventName": record.get("eventName"), "dynamodb": {"Keys": body.get("Keys", {})}}
        if not self._keys_only:
            shown = self._lambda_record(record)
        return any(p.matches_event(shown) for p in self.patterns)

    def _lambda_record(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record as Lambda hands it over, in JSON: boto3 parsed the creation time into a date
        and binary attributes into bytes; Lambda gives epoch seconds and base64 text."""
        body = _as_json(record.get("dynamodb", {}))
        return {
            "eventID": record.get("eventID", uuid.uuid4().hex),
            "eventName": record.get("eventName"),
            "eventVersion": record.get("eventVersion", "1.1"),
            "eventSource": "aws:dynamodb",
            "awsRegion": REGION,
            "dynamodb": body,
            "eventSourceARN": self.mapping.stream_arn,
        }


def _as_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_json(v) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime):
        return int(value.astimezone(UTC).timestamp())
    return value


def _sequence(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])
