"""The twin's TransactWriteItems rollback: only the addressed items are snapshotted, with moto's outcome.

Every check runs the same transaction on the same starting table twice, with the fix and with
moto's own transact_write_items (which deep-copies whole tables), and compares what the client
sees (error, message, cancellation reasons) and what the table then holds: moto's dicts of items
in their order (GSI queries scan them, ties in that order), GSI query results and stream records.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

from infra.twin import moto_fixes
from tests.integration.conftest import create_table

REGION = "us-east-1"
RANGE_TABLE = "fix-range"
HASH_TABLE = "fix-hash"


@pytest.fixture(scope="module")
def ddb() -> Iterator[Any]:
    moto_fixes.install()
    with mock_aws():
        yield boto3.client("dynamodb", region_name=REGION)


@contextlib.contextmanager
def unpatched() -> Iterator[None]:
    """moto's own transact_write_items, whole-table copies and all."""
    patched = DynamoDBBackend.transact_write_items
    DynamoDBBackend.transact_write_items = patched.__wrapped__  # type: ignore[attr-defined,method-assign]
    try:
        yield
    finally:
        DynamoDBBackend.transact_write_items = patched  # type: ignore[method-assign]


def moto_table(name: str) -> Table:
    return dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables[name]


def create_hash_table(ddb: Any) -> None:
    ddb.create_table(
        TableName=HASH_TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in ("pk", "gsi1pk", "gsi1sk")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "gsi1",
                "KeySchema": [
                    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )


def fresh_tables(ddb: Any, seed: list[dict[str, Any]]) -> None:
    """Both tables, empty but for the seed items (each goes to the table its keys fit)."""
    for name in (RANGE_TABLE, HASH_TABLE):
        with contextlib.suppress(ddb.exceptions.ResourceNotFoundException):
            ddb.delete_table(TableName=name)
    create_table(RANGE_TABLE)
    create_hash_table(ddb)
    for item in seed:
        ddb.put_item(TableName=RANGE_TABLE if "sk" in item else HASH_TABLE, Item=item)


def state(ddb: Any) -> dict[str, Any]:
    """Everything a rollback could get wrong, in order."""
    ranged, hashed = moto_table(RANGE_TABLE), moto_table(HASH_TABLE)
    hash_items: dict[DynamoType, Any] = hashed.items  # moto types it as the range tables' dict of dicts
    assert hashed.stream_shard is not None
    gsi = {
        (name, g): ddb.query(
            TableName=name,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :g",
            ExpressionAttributeValues={":g": {"S": g}},
        )["Items"]
        for name in (RANGE_TABLE, HASH_TABLE)
        for g in ("g", "h")
    }
    return {
        "range_items": [
            (h.value, [(r.value, item.to_json()["Attributes"]) for r, item in part.items()])
            for h, part in ranged.items.items()
        ],
        "hash_items": [(h.value, item.to_json()["Attributes"]) for h, item in hash_items.items()],
        "gsi": gsi,
        "stream": [
            {k: r.record["dynamodb"].get(k) for k in ("SequenceNumber", "Keys", "OldImage", "NewImage")}
            | {"eventName": r.record["eventName"]}
            for r in hashed.stream_shard.items
        ],
    }


def outcome(ddb: Any, seed: list[dict[str, Any]], transaction: list[dict[str, Any]]) -> dict[str, Any]:
    """What the client sees and the tables hold after the transaction, from the seeded tables."""
    fresh_tables(ddb, seed)
    before = state(ddb)
    try:
        ddb.transact_write_items(TransactItems=transaction)
        error: dict[str, Any] | None = None
    except ClientError as e:
        error = {k: e.response.get(k) for k in ("Error", "CancellationReasons")}
    return {"before": before, "error": error, "after": state(ddb)}


def same_as_moto(ddb: Any, seed: list[dict[str, Any]], transaction: list[dict[str, Any]]) -> dict[str, Any]:
    fixed = outcome(ddb, seed, transaction)
    with unpatched():
        original = outcome(ddb, seed, transaction)
    assert fixed == original
    if fixed["error"] is not None:
        assert visible(fixed["after"]) == visible(fixed["before"])
    return fixed


def visible(table_state: dict[str, Any]) -> dict[str, Any]:
    """Without empty partitions: a read adds one (the twin's meter reads what a transaction addressed)."""
    return table_state | {"range_items": [(h, part) for h, part in table_state["range_items"] if part]}


def s(value: str) -> dict[str, str]:
    return {"S": value}


def ranged(pk: str, sk: str, **attrs: str) -> dict[str, Any]:
    return {"pk": s(pk), "sk": s(sk)} | {k: s(v) for k, v in attrs.items()}


SEED = [
    ranged("a", "1", gsi1pk="g", gsi1sk="1", v="a1"),
    ranged("a", "2", gsi1pk="g", gsi1sk="1", v="a2"),  # ties a#1 on gsi1
    ranged("a", "3", gsi1pk="h", gsi1sk="1", v="a3"),
    ranged("b", "1", v="b1"),
    {"pk": s("x"), "gsi1pk": s("g"), "gsi1sk": s("1"), "v": s("x")},
    {"pk": s("y"), "gsi1pk": s("g"), "gsi1sk": s("1"), "v": s("y")},
]


def writes(last: dict[str, Any]) -> list[dict[str, Any]]:
    """A put that creates, a put that replaces, updates (one creating), deletes, then ``last``."""
    return [
        {"Put": {"TableName": RANGE_TABLE, "Item": ranged("c", "1", gsi1pk="g", gsi1sk="0", v="new")}},
        {"Put": {"TableName": RANGE_TABLE, "Item": ranged("a", "3", v="replaced")}},
        {
            "Update": {
                "TableName": RANGE_TABLE,
                "Key": ranged("a", "2"),
                "UpdateExpression": "SET gsi1pk = :h, v = :v",
                "ExpressionAttributeValues": {":h": s("h"), ":v": s("updated")},
            }
        },
        {
            "Update": {
                "TableName": RANGE_TABLE,
                "Key": ranged("d", "1"),
                "UpdateExpression": "SET v = :v",
                "ExpressionAttributeValues": {":v": s("upserted")},
            }
        },
        {"Delete": {"TableName": RANGE_TABLE, "Key": ranged("a", "1")}},
        {"Delete": {"TableName": HASH_TABLE, "Key": {"pk": s("x")}}},
        {"Put": {"TableName": HASH_TABLE, "Item": {"pk": s("z"), "gsi1pk": s("g"), "gsi1sk": s("1")}}},
        last,
    ]


def check_b1(condition: str) -> dict[str, Any]:
    return {
        "ConditionCheck": {
            "TableName": RANGE_TABLE,
            "Key": ranged("b", "1"),
            "ConditionExpression": condition,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


def test_failing_last_condition_undoes_every_earlier_write(ddb: Any) -> None:
    result = same_as_moto(ddb, SEED, writes(check_b1("attribute_not_exists(pk)")))

    assert result["error"]["Error"]["Code"] == "TransactionCanceledException"
    reasons = result["error"]["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None"] * 7 + ["ConditionalCheckFailed"]
    assert reasons[-1]["Item"] == ranged("b", "1", v="b1")
    assert visible(result["after"]) == visible(result["before"])
    # deleted items are back in their place: first among their ties on the GSI
    assert [i["v"]["S"] for i in result["after"]["gsi"][(RANGE_TABLE, "g")]] == ["a1", "a2"]
    assert [i["v"]["S"] for i in result["after"]["gsi"][(HASH_TABLE, "g")]] == ["x", "y"]
    assert moto_table(RANGE_TABLE).items.get(DynamoType(s("c"))) is None  # no partition left


def test_successful_transaction_applies_every_write(ddb: Any) -> None:
    result = same_as_moto(ddb, SEED, writes(check_b1("attribute_exists(pk)")))

    assert result["error"] is None
    items = {(h, r): attrs["v"]["S"] for h, part in result["after"]["range_items"] for r, attrs in part}
    assert items == {("a", "2"): "updated", ("a", "3"): "replaced", ("b", "1"): "b1"} | {
        ("c", "1"): "new",
        ("d", "1"): "upserted",
    }
    assert [h for h, _ in result["after"]["hash_items"]] == ["y", "z"]
    assert [r["eventName"] for r in result["after"]["stream"][-2:]] == ["REMOVE", "INSERT"]


def test_a_validation_error_mid_transaction_undoes_the_earlier_writes(ddb: Any) -> None:
    """moto rolls back and re-raises (not TransactionCanceled): the update refers to a missing attribute."""
    failing_update = {
        "Update": {
            "TableName": RANGE_TABLE,
            "Key": ranged("e", "1"),  # absent: moto creates it before it finds the expression invalid
            "UpdateExpression": "SET n = n + :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }
    result = same_as_moto(ddb, SEED, writes(failing_update))

    assert result["error"]["Error"]["Code"] == "ValidationException"
    assert visible(result["after"]) == visible(result["before"])


def test_the_same_item_twice_is_refused_and_undone(ddb: Any) -> None:
    twice = {"Put": {"TableName": RANGE_TABLE, "Item": ranged("c", "1", v="again")}}
    result = same_as_moto(ddb, SEED, writes(twice))

    assert result["error"]["Error"]["Code"] == "ValidationException"
    assert visible(result["after"]) == visible(result["before"])


def test_no_table_is_copied(ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    copied: list[str] = []

    def deepcopy(self: Table, memo: dict[int, Any]) -> Table:
        copied.append(self.name)
        return self

    monkeypatch.setattr(Table, "__deepcopy__", deepcopy, raising=False)
    for last in (check_b1("attribute_exists(pk)"), check_b1("attribute_not_exists(pk)")):
        fresh_tables(ddb, SEED)
        with contextlib.suppress(ClientError):
            ddb.transact_write_items(TransactItems=writes(last))
    assert copied == []

    with unpatched(), contextlib.suppress(ClientError):  # the spy sees moto's own copies
        ddb.transact_write_items(TransactItems=writes(check_b1("attribute_exists(pk)")))
    assert sorted(set(copied)) == [HASH_TABLE, RANGE_TABLE]


# ----------------------------------------------------------------- any transaction, same as moto

RANGE_KEYS = [("a", "1"), ("a", "2"), ("b", "1"), ("b", "2")]
HASH_KEYS = ["x", "y", "z"]
keys = st.one_of(
    st.sampled_from(RANGE_KEYS).map(lambda k: (RANGE_TABLE, ranged(*k))),
    st.sampled_from(HASH_KEYS).map(lambda k: (HASH_TABLE, {"pk": s(k)})),
)
attributes = st.fixed_dictionaries(
    {"v": st.sampled_from(["1", "2"]).map(lambda n: {"N": n})},
    optional={"gsi1pk": st.sampled_from(["g", "h"]).map(s), "gsi1sk": st.sampled_from(["1", "2"]).map(s)},
)
conditions = st.sampled_from(
    [
        (None, {}),
        ("attribute_exists(pk)", {}),
        ("attribute_not_exists(pk)", {}),
        ("v = :cv", {":cv": {"N": "1"}}),
    ]
)
updates = st.sampled_from(
    [
        ("SET v = :v", {":v": {"N": "2"}}),
        ("SET gsi1pk = :g, gsi1sk = :s", {":g": s("h"), ":s": s("1")}),
        ("REMOVE gsi1pk", {}),
        ("ADD v :one", {":one": {"N": "1"}}),
        ("SET v = v + :one", {":one": {"N": "1"}}),  # a validation error where there is no v
    ]
)


@st.composite
def operations(draw: st.DrawFn) -> dict[str, Any]:
    table, key = draw(keys)
    kind = draw(st.sampled_from(["Put", "Update", "Delete", "ConditionCheck"]))
    condition, values = draw(conditions if kind != "ConditionCheck" else conditions.filter(lambda c: c[0]))
    op: dict[str, Any] = {"TableName": table}
    if kind == "Put":
        op["Item"] = key | draw(attributes)
    else:
        op["Key"] = key
    if kind == "Update":
        expression, update_values = draw(updates)
        op["UpdateExpression"] = expression
        values = values | update_values
    if condition:
        op["ConditionExpression"] = condition
        if draw(st.booleans()):
            op["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    if values:
        op["ExpressionAttributeValues"] = values
    return {kind: op}


@st.composite
def seeds(draw: st.DrawFn) -> list[dict[str, Any]]:
    chosen = draw(st.lists(keys, unique_by=lambda k: str(k), max_size=5))
    return [key | draw(attributes) for _, key in chosen]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=seeds(), transaction=st.lists(operations(), min_size=1, max_size=6))
def test_any_transaction_ends_as_with_moto(
    ddb: Any, seed: list[dict[str, Any]], transaction: list[Any]
) -> None:
    same_as_moto(ddb, seed, transaction)
