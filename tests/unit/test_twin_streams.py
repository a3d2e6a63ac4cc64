"""The twin's DynamoDB Streams event source (``infra/twin/streams.py``): what it reads of a mapping and
how it hands records to a function, on moto's stream (no twin needed)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.constructs.aggregates import SETTLEMENT_INSERTS
from infra.twin.lambdas import FunctionFailed
from infra.twin.streams import StreamMapping, StreamSource

PROPS = {
    "EventSourceArn": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-11-23T00:00:00.000",
    "FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:scrm-settlement-aggregates",
    "BatchSize": 100,
    "FilterCriteria": {"Filters": [{"Pattern": json.dumps(SETTLEMENT_INSERTS)}]},
    "MaximumRetryAttempts": 2,
    "BisectBatchOnFunctionError": True,
    "FunctionResponseTypes": ["ReportBatchItemFailures"],
    "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:123456789012:dlq"}},
}


def test_a_mapping_is_read_from_its_cloudformation_properties() -> None:
    mapping = StreamMapping.of(PROPS)
    assert mapping.function == "scrm-settlement-aggregates"
    assert (mapping.batch_size, mapping.retries, mapping.bisect, mapping.report_failures) == (
        100,
        2,
        True,
        True,
    )
    assert mapping.on_failure == "arn:aws:sqs:us-east-1:123456789012:dlq"
    assert [json.loads(f) for f in mapping.filters] == [SETTLEMENT_INSERTS]


@pytest.fixture
def table() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in ("pk", "sk")],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )
        boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="dlq")
        yield client


def _source(client: Any, invoke: Any, retries: int = 2) -> StreamSource:
    arn = client.describe_table(TableName="t")["Table"]["LatestStreamArn"]
    mapping = StreamMapping.of({**PROPS, "EventSourceArn": arn, "MaximumRetryAttempts": retries})
    return StreamSource(mapping, invoke, log=lambda _line: None)


def _put(client: Any, sk: str, body: bytes = b"x") -> None:
    client.put_item(
        TableName="t", Item={"pk": {"S": "TENANT#a#TICKET#1"}, "sk": {"S": sk}, "raw": {"B": body}}
    )


def test_only_filtered_records_reach_the_function_as_lambda_json(
    table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("infra.twin.streams.time.sleep", lambda _s: None)
    seen: list[dict[str, Any]] = []
    source = _source(table, lambda _name, event: seen.extend(event["Records"]))
    _put(table, "EVT#1")
    _put(table, "SETTLEMENT#001")
    _put(table, "SETTLEMENT#001")  # an overwrite: MODIFY, not an INSERT
    assert source.poll() == 1
    (record,) = seen
    assert record["eventName"] == "INSERT" and record["eventSource"] == "aws:dynamodb"
    assert record["dynamodb"]["NewImage"]["raw"] == {"B": "eA=="}  # base64, as Lambda gives binary
    json.dumps(record)  # the event is plain JSON
    assert source.poll() == 0  # nothing new: nothing delivered again


def test_a_reported_failure_is_delivered_again_from_it_then_given_up_to_the_on_failure_queue(
    table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("infra.twin.streams.time.sleep", lambda _s: None)
    batches: list[list[str]] = []

    def fails_on_the_second(_name: str, event: dict[str, Any]) -> dict[str, Any]:
        keys = [r["dynamodb"]["Keys"]["sk"]["S"] for r in event["Records"]]
        batches.append(keys)
        failed = [
            r["dynamodb"]["SequenceNumber"]
            for r in event["Records"]
            if r["dynamodb"]["Keys"]["sk"]["S"] == "SETTLEMENT#002"
        ]
        return {"batchItemFailures": [{"itemIdentifier": n} for n in failed]}

    source = _source(table, fails_on_the_second, retries=1)
    for n in (1, 2, 3):
        _put(table, f"SETTLEMENT#00{n}")
    assert source.poll() == 0  # the batch failed at its second record
    assert source.poll() == 0  # delivered again from it (retry 1 of 1), failed again: given up
    assert source.poll() == 0  # nothing left
    assert batches == [
        ["SETTLEMENT#001", "SETTLEMENT#002", "SETTLEMENT#003"],
        ["SETTLEMENT#002", "SETTLEMENT#003"],
    ]
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.get_queue_url(QueueName="dlq")["QueueUrl"]
    (message,) = sqs.receive_message(QueueUrl=url)["Messages"]
    info = json.loads(message["Body"])["DDBStreamBatchInfo"]
    assert info["batchSize"] == 2


def test_a_failed_invocation_is_retried_with_the_batch_halved(
    table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("infra.twin.streams.time.sleep", lambda _s: None)
    sizes: list[int] = []

    def fails_once(_name: str, event: dict[str, Any]) -> None:
        sizes.append(len(event["Records"]))
        if len(sizes) == 1:
            raise FunctionFailed("Scrm.Unavailable", "busy")

    source = _source(table, fails_once)
    for n in range(4):
        _put(table, f"SETTLEMENT#00{n}")
    assert source.poll() == 0
    assert source.poll() == 4  # everything, in batches of at most half the first
    assert sizes[0] == 4 and max(sizes[1:]) <= 2 and sum(sizes[1:]) == 4
