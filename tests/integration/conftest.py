"""moto-backed AWS for integration tests: the single table, created as the platform stack does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from infra.twin.moto_fixes import install as install_moto_fixes
from shared.repositories.deliveries import DELIVERY_INDEX, DELIVERY_INDEX_ATTRIBUTES
from shared.repositories.tickets import (
    ASSIGNEE_INDEX,
    LIST_INDEX,
    LIST_INDEX_ATTRIBUTES,
    OPEN_INDEX,
    OPEN_INDEX_ATTRIBUTES,
    TICKET_INDEX_SORT_KEY,
)
from shared.settings import settings


def create_table(name: str) -> None:
    keys = [
        "pk",
        "sk",
        "gsi1pk",
        "gsi1sk",
        "gsi2pk",
        "gsi2sk",
        "gsi3pk",
        "gsi4pk",
        "gsi4sk",
        "gsi5pk",
        "gsi6pk",
    ]
    keys.append(TICKET_INDEX_SORT_KEY)
    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},  # as table.py
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": f"gsi{n}",
                "KeySchema": [
                    {"AttributeName": f"gsi{n}pk", "KeyType": "HASH"},
                    {"AttributeName": f"gsi{n}sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for n in (1, 2)
        ]
        + [
            {  # the open-tickets index (sparse, type and node only)
                "IndexName": OPEN_INDEX,
                "KeySchema": [
                    {"AttributeName": "gsi3pk", "KeyType": "HASH"},
                    {"AttributeName": TICKET_INDEX_SORT_KEY, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(OPEN_INDEX_ATTRIBUTES)},
            },
            {  # the deliveries' list (sharded, list columns only)
                "IndexName": DELIVERY_INDEX,
                "KeySchema": [
                    {"AttributeName": "gsi4pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi4sk", "KeyType": "RANGE"},
                ],
                "Projection": {
                    "ProjectionType": "INCLUDE",
                    "NonKeyAttributes": list(DELIVERY_INDEX_ATTRIBUTES),
                },
            },
        ]
        + [
            {  # the ticket lists, the tenant's (gsi5) and an assignee's (gsi6): keys and filter columns
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": f"{index}pk", "KeyType": "HASH"},
                    {"AttributeName": TICKET_INDEX_SORT_KEY, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(LIST_INDEX_ATTRIBUTES)},
            }
            for index in (LIST_INDEX, ASSIGNEE_INDEX)
        ],
    )


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    table = f"scrm-test-{uuid.uuid4().hex[:8]}"  # unique even if another moto session is active
    monkeypatch.setenv("TABLE_NAME", table)
    # a twin started earlier in this process (e2e) leaves its functions' settings in os.environ:
    # repository tests use the ambient credentials unless they ask for tenant roles themselves
    monkeypatch.delenv("TENANT_ROLE_ARN", raising=False)
    settings.cache_clear()
    install_moto_fixes()  # moto's transactions: unsafe under concurrency, and O(table) to roll back
    with mock_aws():
        create_table(table)
        yield
    settings.cache_clear()
