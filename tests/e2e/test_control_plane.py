"""Nothing control-plane on a ticket's path, and the twin throttles a control-plane API as AWS does.

Control-plane APIs (``Describe*``, ``List*``, ``Create*``, ``Publish*`` ...) have refill rates of a
few requests per second for the whole account (``DescribeStateMachineAlias``: 1/s): one per ticket
caps the account at that rate. The twin's meter counts every AWS call the functions make
(``infra/twin/meter.py``, by data or control plane, ``infra/quotas.py``), so this suite runs
install tickets from a signed webhook through dispatch, two people's actions, settlement and
close, and asserts that none made a control-plane call.

A warm-up ticket goes first: a cold container may read what it caches for its life (a tenant's
configuration, credentials, secrets), and those reads are per container, not per ticket; every
ticket after it must make none.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections import Counter
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from benchmarks.lifecycle import _install_ticket
from infra.twin.client import TwinClient
from infra.twin.meter import METER, SDK_RETRY_SECONDS
from infra.twin.twin import LocalTwin, secrets_for

TICKETS = 3


def _control_plane(snapshot: dict[str, Any]) -> Counter[str]:
    return Counter(snapshot["calls_by_plane"]["control"])


def _calls_by_function(snapshot: dict[str, Any]) -> Counter[str]:
    return Counter(snapshot["calls_by_function"])


@pytest.fixture(scope="module")
def shopify_secret(example_tenant_files: list[str]) -> str:
    return secrets_for(example_tenant_files, None)["/scrm/acme-home/shopify-main"]


def test_no_control_plane_call_per_ticket_after_a_warm_up(
    twin: LocalTwin, anonymous: TwinClient, agent: TwinClient, shopify_secret: str
) -> None:
    base = uuid.uuid4().int % 1_000_000_000
    # Given a warm-up ticket (cold containers read and cache what they keep for their life)
    _, outcome = _install_ticket(anonymous, agent, shopify_secret, base)
    assert outcome == "closed"
    before = METER.snapshot()

    # When more install tickets go from the webhook through dispatch, actions and settlement to close
    outcomes = [_install_ticket(anonymous, agent, shopify_secret, base + 1 + n)[1] for n in range(TICKETS)]
    after = METER.snapshot()

    # Then they all closed, and no function made a control-plane call on their way
    assert outcomes == ["closed"] * TICKETS
    made = _calls_by_function(after) - _calls_by_function(before)
    assert sum(made.values()) > 0, "the meter saw no call at all: it is not metering"
    control = {key: n for key, n in made.items() if key.split(" ", 1)[1] in _control_plane(after)}
    assert control == {}, f"control-plane calls in {TICKETS} tickets (function api: count): {control}"


def test_the_twin_throttles_a_control_plane_api_called_in_a_burst(twin: LocalTwin) -> None:
    # Given a state machine of the twin and ListStateMachineAliases (a bucket of 100, refilled at 1/s;
    # the product never calls it, so draining its bucket costs the other tests nothing)
    machine = next(arn for d in twin.deployments for arn in d.state_machines.values())
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    results: Counter[str] = Counter()
    lock = threading.Lock()

    def burst() -> None:
        # calls made inside an invocation are the product's: the ones the twin holds to the quota
        with METER.invocation("test-burst"):
            for _ in range(15):
                try:
                    sfn.list_state_machine_aliases(stateMachineArn=machine)
                    outcome = "ok"
                except ClientError as exc:
                    outcome = exc.response["Error"]["Code"]
                with lock:
                    results[outcome] += 1

    # When 10 threads call it 15 times each, at once
    threads = [threading.Thread(target=burst) for _ in range(10)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    elapsed = time.monotonic() - started

    # Then the bucket's 100 pass, and the 1/s refill while the burst lasts (plus what a short
    # retry wait would reserve); the rest are throttled as AWS would answer them
    refilled = math.ceil(elapsed) + math.ceil(SDK_RETRY_SECONDS) + 1
    assert results["ok"] + results["ThrottlingException"] == 150, results
    assert 100 <= results["ok"] <= 100 + refilled, (results, elapsed)
    assert results["ThrottlingException"] >= max(1, 150 - 100 - refilled), (results, elapsed)
    assert (
        METER.snapshot()["throttled"].get("states:ListStateMachineAliases", 0)
        >= results["ThrottlingException"]
    )


def test_calls_outside_an_invocation_are_neither_counted_nor_throttled(twin: LocalTwin) -> None:
    # The twin's own calls (deploying, firing schedules, polling) and a test's are not the product's
    machine = next(arn for d in twin.deployments for arn in d.state_machines.values())
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    before = METER.snapshot()["calls"].get("states:ListStateMachineAliases", 0)

    for _ in range(150):  # more than the bucket of 100: an enforced bucket would throttle these
        sfn.list_state_machine_aliases(stateMachineArn=machine)

    assert METER.snapshot()["calls"].get("states:ListStateMachineAliases", 0) == before
