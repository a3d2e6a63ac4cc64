"""Channel secrets: cached long against SSM's shared 40 reads/s, read afresh when a signature fails.

Given a channel whose secret was rotated in SSM while a webhook container held the old value,
a delivery signed with the new secret is accepted at once (one extra read), and a flood of forged
deliveries costs at most one SSM read per secret a minute.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters

from functions.webhooks.accept import Received, verified_with
from functions.webhooks.adapters import shopify
from functions.webhooks.platforms import Refusal
from shared.adapters.secrets import SsmChannelSecrets
from shared.tenant import load_tenant_file
from tests.factories import EXAMPLES

REGION = "us-east-1"
NAME = "/scrm/acme-home/shopify-main"


@pytest.fixture
def ssm(aws: None) -> Iterator[Any]:
    parameters.clear_caches()
    client = boto3.client("ssm", region_name=REGION)
    client.put_parameter(Name=NAME, Value="old-secret", Type="SecureString")
    yield client
    parameters.clear_caches()


class CountingSecrets(SsmChannelSecrets):
    def __init__(self) -> None:
        super().__init__()
        self.reads: list[bool] = []

    def get(self, name: str, *, fresh: bool = False) -> str | None:
        self.reads.append(fresh)
        return super().get(name, fresh=fresh)


def signed(secret: str, body: bytes = b'{"id": 1}') -> Received:
    headers = {
        "content-type": "application/json",
        shopify.SIGNATURE_HEADER.lower(): shopify.signature(secret, body),
        shopify.DELIVERY_ID_HEADER.lower(): "d-1",
        shopify.TOPIC_HEADER.lower(): "orders/create",
    }
    return Received(headers=headers, query={}, body=body, at=datetime.now(UTC))


@pytest.fixture
def channel() -> Any:
    cfg = load_tenant_file(str(EXAMPLES / "acme-home.yaml"))
    return next(c for c in cfg.channels if c.id == "shopify-main")


def test_a_rotated_secret_is_used_at_once(ssm: Any, channel: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = CountingSecrets()
    assert verified_with(secrets, channel, signed("old-secret")).delivery_id  # cached now
    ssm.put_parameter(Name=NAME, Value="new-secret", Type="SecureString", Overwrite=True)
    calls: list[str] = []
    original = parameters.get_parameter

    def counted(name: str, **kwargs: Any) -> Any:
        if kwargs.get("force_fetch"):
            calls.append(name)
        return original(name, **kwargs)

    monkeypatch.setattr(parameters, "get_parameter", counted)
    # When a delivery signed with the new secret arrives / Then it verifies after one fresh read
    assert verified_with(secrets, channel, signed("new-secret")).delivery_id
    assert calls == [NAME]
    # And forged deliveries afterwards read SSM no more within the refresh interval
    for _ in range(5):
        with pytest.raises(Refusal) as refused:
            verified_with(secrets, channel, signed("forged"))
        assert refused.value.status == 401 and refused.value.code == "invalid_signature"
    assert calls == [NAME]


def test_a_refusal_no_secret_explains_reads_nothing_again(ssm: Any, channel: Any) -> None:
    secrets = CountingSecrets()
    unsigned = Received(
        headers={"content-type": "application/json"}, query={}, body=b"{}", at=datetime.now(UTC)
    )
    with pytest.raises(Refusal) as refused:
        verified_with(secrets, channel, unsigned)
    assert refused.value.code == "missing_signature"
    assert secrets.reads == [False]
