"""Reserved concurrency per platform function and the intake event source's maximum concurrency."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Stack

from infra.constructs.catalogue import FUNCTIONS_BY_KEY
from infra.constructs.concurrency import (
    ACCOUNT_CONCURRENCY,
    CONTEXT_KEY,
    INTAKE_MAX_CONCURRENCY,
    RESERVED,
    UNRESERVED_MINIMUM,
    reserved_for,
)
from tests.infra.test_platform_stack import functions_by_name, of_type


def test_every_reservation_names_a_platform_function_and_leaves_aws_minimum_unreserved() -> None:
    assert set(RESERVED) <= set(FUNCTIONS_BY_KEY)
    assert sum(RESERVED.values()) <= ACCOUNT_CONCURRENCY - UNRESERVED_MINIMUM
    assert 2 <= INTAKE_MAX_CONCURRENCY <= RESERVED["ticket-intake"]


def test_the_platform_reserves_each_function_its_share(platform_raw: dict[str, Any]) -> None:
    functions = functions_by_name(platform_raw)
    for key, spec in FUNCTIONS_BY_KEY.items():
        reserved = functions[spec.name][1].get("ReservedConcurrentExecutions")
        assert reserved == RESERVED.get(key), spec.name


def test_the_intake_queue_is_drained_at_a_capped_concurrency(platform_raw: dict[str, Any]) -> None:
    intake = {"Ref": functions_by_name(platform_raw)["scrm-ticket-intake"][0]}
    (mapping,) = [
        m
        for m in of_type(platform_raw, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == intake
    ]
    assert mapping["Properties"]["ScalingConfig"] == {"MaximumConcurrency": INTAKE_MAX_CONCURRENCY}


@pytest.mark.parametrize(("value", "expected"), [(None, 150), ("true", 150), ("false", None), (False, None)])
def test_an_account_below_the_default_quota_turns_reservations_off(
    value: object, expected: int | None
) -> None:
    app = App(context={CONTEXT_KEY: value} if value is not None else {})
    assert reserved_for(Stack(app, "S"), "webhooks-api") == expected
    assert reserved_for(Stack(app, "T"), "ticket-gauges") is None
