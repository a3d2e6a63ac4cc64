"""The twin's own routes: signing for a moved clock, tokens only for roles the file grants,
clock advances that are refused rather than crash."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from functions.webhooks.adapters import standard_webhooks
from infra.twin.client import TwinClient
from tests.e2e.conftest import cancel_open_tickets

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # acme-home partner-api (examples/...secrets.yaml)
ORDER = {"type": "work_order.requested", "data": {"name": "签名", "phone": "+8613900000600"}}


def test_a_delivery_signed_with_the_wall_clock_is_stale_and_local_sign_fixes_it(
    anonymous: TwinClient,
) -> None:
    # Given the twin's clock is not the wall clock (manual, started on 2026-11-23)
    body = json.dumps(ORDER).encode()
    wall = str(int(time.time()))
    delivery = f"msg_{uuid.uuid4().hex}"
    headers = {
        "webhook-id": delivery,
        "webhook-timestamp": wall,
        "webhook-signature": standard_webhooks.sign(SECRET, delivery, wall, body),
    }
    stale = anonymous.request("POST", "/webhooks/acme-home/partner-api", raw=body, headers=headers)
    assert (stale.status, stale.body["error"]) == (401, "stale_timestamp"), stale.body

    # When the twin signs it at its own time
    signed = anonymous.post("/_local/sign", {"tenant": "acme-home", "channel": "partner-api", "body": ORDER})
    assert signed.status == 200, signed.body
    sent = anonymous.request(
        "POST", signed.body["url"], raw=signed.body["body"].encode(), headers=signed.body["headers"]
    )
    # Then it is accepted
    assert sent.status in (200, 202), sent.body
    unsupported = anonymous.post(
        "/_local/sign", {"tenant": "acme-home", "channel": "wecom-service", "body": {}}
    )
    assert unsupported.status == 400
    cancel_open_tickets(anonymous, ["acme-home"])


def test_tokens_carry_only_roles_the_tenant_file_grants(anonymous: TwinClient) -> None:
    def token(sub: str, roles: list[str]) -> Any:
        return anonymous.post("/_local/token", {"tenant": "acme-home", "sub": sub, "roles": roles})

    refused = token("u-lin", ["admin"])
    assert (refused.status, refused.body["error"]) == (403, "forbidden"), refused.body
    assert "agent" in refused.body["message"]
    assert token("u-lin", ["agent"]).status == 200
    assert token("t-wang", ["finance"]).status == 403
    # someone the file does not know (an operator, a script) gets what they ask for
    assert token("ops-1", ["admin"]).status == 200


def test_clock_advances_out_of_range_are_400_not_a_dropped_connection(anonymous: TwinClient) -> None:
    for seconds in (1e18, -1, "1"):
        answer = anonymous.post("/_local/clock/advance", {"seconds": seconds})
        assert answer.status == 400, answer.body
    nan = anonymous.request("POST", "/_local/clock/advance", raw=b'{"seconds": NaN}')
    assert nan.status == 400, nan.body
