"""The capacity model (``infra/capacity.py``) on made-up figures, and the quota table it reads."""

from __future__ import annotations

import math
from typing import Any

import pytest

from infra.capacity import (
    cold_read_ceilings,
    count_resources,
    hot_keys,
    model,
    rate_ceilings,
    render,
    tenant_ceilings,
)
from infra.quotas import QUOTAS, enforced_buckets, plane, quota, rate_quota_of
from infra.twin.meter import TokenBucket


def test_one_describe_state_machine_alias_per_ticket_binds_at_its_refill_rate() -> None:
    # Given a ticket that starts one execution and resolves the alias once
    per_ticket = {"states:StartExecution": 1.0, "states:DescribeStateMachineAlias": 1.0}

    # When the model divides the quotas by it
    ceilings = rate_ceilings(per_ticket)

    # Then the control-plane API's refill (1/s) binds, far below StartExecution's 300/s
    assert ceilings[0].quota == "states:DescribeStateMachineAlias"
    assert ceilings[0].ceiling == pytest.approx(1.0)
    assert next(c for c in ceilings if c.quota == "states:StartExecution").ceiling == pytest.approx(300.0)


def test_without_control_plane_calls_the_data_plane_binds() -> None:
    per_ticket = {
        "states:StartExecution": 1.0,
        "states:SendTaskSuccess": 2.0,
        "scheduler:CreateSchedule": 4.0,
    }

    first = rate_ceilings(per_ticket)[0]

    # CreateSchedule: 1,000/s over 4 per ticket = 250 tickets/s; SendTaskSuccess 500/2 = 250 too,
    # StartExecution 300: the lowest wins, whichever of the equal two
    assert first.ceiling == pytest.approx(250.0)
    assert first.quota in ("scheduler:CreateSchedule", "states:SendTaskSuccess")


def test_apis_that_share_a_quota_add_up() -> None:
    # SSM's three reads share 40/s: 1 + 1 per ticket is 20 tickets/s, not 40
    ceilings = rate_ceilings({"ssm:GetParameter": 1.0, "ssm:GetParametersByPath": 1.0})

    assert ceilings[0].quota == "ssm:GetParameter"
    assert ceilings[0].ceiling == pytest.approx(20.0)


def test_lambda_concurrency_is_littles_law_on_the_measured_wall_time() -> None:
    # 500 ms of Lambda per ticket: 1,000 concurrent executions serve 2,000 tickets/s
    ceilings = rate_ceilings({"lambda:wall_ms": 500.0})

    assert [c.quota for c in ceilings] == ["lambda:concurrent-executions"]
    assert ceilings[0].ceiling == pytest.approx(2000.0)


def test_tenants_per_account_is_the_room_left_by_the_platform_over_what_a_tenant_adds() -> None:
    # Given 16 platform roles and 5 per tenant; a gauge permission of 446 bytes per tenant
    ceilings = tenant_ceilings(
        {"iam:roles": 16, "lambda:resource-policy": 0, "events:rules-per-bus": 1},
        {"iam:roles": 5, "lambda:resource-policy": 446, "events:rules-per-bus": 0},
    )

    by_key = {c.quota: c for c in ceilings}
    assert by_key["iam:roles"].ceiling == (1000 - 16) // 5
    assert by_key["lambda:resource-policy"].ceiling == 20480 // 446
    assert math.isinf(by_key["events:rules-per-bus"].ceiling)  # a tenant adds none
    assert ceilings[0].quota == "lambda:resource-policy"  # 45 tenants bind before 196


def test_a_platform_already_over_a_quota_holds_no_tenant() -> None:
    (ceiling,) = tenant_ceilings({"events:rules-per-bus": 300}, {"events:rules-per-bus": 0})

    assert ceiling.ceiling == 0


def test_cold_reads_bound_the_active_tenants_by_cache_lifetime_and_containers() -> None:
    # Given a warm-up ticket on 5 cold containers that made 5 GetParametersByPath more than a warm one
    ceilings = cold_read_ceilings(
        warm_up={"ssm:GetParametersByPath": 5.0, "dynamodb:GetItem": 20.0},
        warm={"dynamodb:GetItem": 20.0},
        containers_in_warm_up=5,
        containers=40,
        cache_seconds={"ssm:GetParametersByPath": 300.0},
    )

    # Then each active tenant costs 40 containers x 1 read / 300 s; SSM's 40/s holds 300 tenants
    (ceiling,) = ceilings
    assert ceiling.quota == "ssm:GetParameter"
    assert ceiling.used == pytest.approx(40 / 300)
    assert ceiling.ceiling == 300


def test_hot_keys_divide_the_partition_limit_by_each_operations_units() -> None:
    shared = {
        "wru scrm-settlement-settle table TENANT#t1#REVENUE#2026-11": 12.0,
        "wru scrm-settlement-settle gsi1 TENANT#t1#TICKETS": 2.0,
        "wru scrm-webhooks-api gsi1 TENANT#t1#DELIVERIES": 1.0,
        "wru scrm-ticket-intake gsi1 TENANT#t1#DELIVERIES": 2.0,
        "wru scrm-dispatch-assign table TENANT#t1#TECH#t-wang": 4.0,
        "rru scrm-dispatch-assign gsi1 TENANT#t1#TECHS": 30.0,
    }
    invocations = {"scrm-settlement-settle": 1.0, "scrm-webhooks-api": 1.0, "scrm-dispatch-assign": 1.0}

    found = hot_keys(shared, invocations, "t1", per_entity=["t-wang"])

    assert found["settlements"]["ceiling_per_second"] == pytest.approx(1000 / 12, abs=0.1)
    assert found["settlements"]["binding"]["partition"] == "TENANT#{tenant}#REVENUE#2026-11"
    assert found["deliveries"]["ceiling_per_second"] == pytest.approx(1000 / 3, abs=0.1)
    # a technician's own item is listed but does not bind the tenant; the roster read does (3,000 RCU)
    assert found["dispatches"]["binding"]["partition"] == "TENANT#{tenant}#TECHS"
    assert found["dispatches"]["ceiling_per_second"] == pytest.approx(100.0)
    assert any(r["scope"] == "one technician" for r in found["dispatches"]["partitions"])


def _calls(**per_ticket: float) -> dict[str, Any]:
    return {
        "tickets": 3,
        "tenant": "t1",
        "per_ticket": per_ticket,
        "per_action": {"states:SendTaskSuccess": 1.0},
        "warm_up": {"calls": dict(per_ticket), "containers": 3},
        "cache_seconds": {},
        "shared_partitions": {},
        "invocations_per_ticket": {},
    }


def test_model_names_the_binding_quota_and_every_control_plane_call_per_ticket() -> None:
    calls = _calls(**{"states:StartExecution": 1.0, "states:DescribeStateMachineAlias": 1.0})
    resources = {"platform": {"iam:roles": 16}, "per_tenant": {"iam:roles": 5}, "tenants": 20}

    report = model(calls, resources)

    assert report["tickets_per_second"]["value"] == 1.0
    assert report["tickets_per_second"]["binding"] == "states:DescribeStateMachineAlias"
    assert report["control_plane_calls_per_ticket"] == {"states:DescribeStateMachineAlias": 1.0}
    assert report["actions_per_second"]["value"] == 500.0
    assert report["tenants_per_account"] == {
        "value": 196,
        "binding": "iam:roles",
        "what": "roles per account",
        "source": quota("iam:roles").source,
    }
    text = render(report)
    assert "states:DescribeStateMachineAlias" in text and "iam:roles" in text


def _template(resources: dict[str, Any]) -> dict[str, Any]:
    return {"Resources": resources}


def test_count_resources_counts_what_each_tenant_adds_to_the_platforms_policies() -> None:
    # Given a platform with one fixed-name function and two tenants that each add a permission to it
    platform = _template(
        {
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"FunctionName": "scrm-ticket-gauges"}},
            "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
        }
    )

    def tenant(name: str) -> dict[str, Any]:
        return _template(
            {
                "Rule": {"Type": "AWS::Events::Rule", "Properties": {}},
                "Perm": {
                    "Type": "AWS::Lambda::Permission",
                    "Properties": {
                        "FunctionName": {
                            "Fn::Join": [
                                "",
                                [
                                    "arn:",
                                    {"Ref": "AWS::Partition"},
                                    ":lambda:us-east-1:1:function:scrm-ticket-gauges",
                                ],
                            ]
                        },
                        "Action": "lambda:InvokeFunction",
                        "Principal": "events.amazonaws.com",
                        "SourceArn": {"Fn::GetAtt": ["Rule", "Arn"]},
                    },
                },
                "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
                "Param": {"Type": "AWS::SSM::Parameter", "Properties": {}},
            }
        )

    templates = {"ScrmPlatform": platform, "ScrmTenant-a": tenant("a"), "ScrmTenant-b": tenant("b")}

    # When the resources are counted
    found = count_resources(templates, "ScrmPlatform", {})

    # Then each tenant adds a role, a rule, a parameter and one statement to the gauge function
    assert found["per_tenant"]["iam:roles"] == 1
    assert found["per_tenant"]["events:rules-per-bus"] == 1
    assert found["per_tenant"]["ssm:standard-parameters"] == 1
    assert found["platform"]["iam:roles"] == 1
    assert found["lambda_permissions_added_by_tenants"] == {"scrm-ticket-gauges": 2}
    policy = found["policies"]["lambda scrm-ticket-gauges"]
    assert policy["statements"] == 2 and policy["platform_bytes"] == 0
    assert 200 < policy["bytes_per_tenant"] < 600
    assert found["per_tenant"]["lambda:resource-policy"] == policy["bytes_per_tenant"]


def test_every_quota_cites_its_aws_page_and_rates_are_positive() -> None:
    for q in QUOTAS:
        assert q.source and q.name and q.unit, q
        assert q.value > 0, q
        if q.bucket is not None:
            assert q.bucket >= q.value or q.key == "apigw:request", q


def test_the_data_and_control_planes_are_told_apart() -> None:
    assert plane("states:StartExecution") == "data"
    assert plane("states:SendTaskFailure") == "data"
    assert plane("states:DescribeStateMachineAlias") == "control"
    assert plane("states:DescribeExecution") == "control"
    assert plane("states:PublishStateMachineVersion") == "control"
    assert plane("scheduler:CreateSchedule") == "data"
    assert plane("scheduler:DeleteSchedule") == "data"
    assert plane("iam:CreateRole") == "control"
    assert plane("lambda:AddPermission") == "control"
    assert plane("lambda:Invoke") == "data"
    assert plane("dynamodb:TransactWriteItems") == "data"
    assert plane("dynamodb:UpdateItem") == "data"
    assert plane("dynamodb:DescribeTable") == "control"
    assert plane("ssm:GetParametersByPath") == "data"
    assert plane("sts:AssumeRole") == "data"
    assert plane("events:PutRule") == "control"
    assert plane("s3:GetObject") == "data"
    assert plane("cloudformation:DescribeStacks") == "control"


def test_the_twin_keeps_buckets_for_the_low_rate_apis_the_product_calls() -> None:
    buckets = enforced_buckets()

    assert buckets["states:DescribeStateMachineAlias"].burst == 200
    assert buckets["states:DescribeStateMachineAlias"].value == 1
    assert buckets["ssm:GetParametersByPath"] is buckets["ssm:GetParameter"]  # one shared bucket
    assert "sts:AssumeRole" in buckets and "scheduler:DeleteSchedule" in buckets
    assert "dynamodb:PutItem" not in buckets and "states:StateTransition" not in buckets
    assert rate_quota_of("ssm:GetParameters") is quota("ssm:GetParameter")


def test_a_token_bucket_bursts_then_refills_and_lets_short_waits_through() -> None:
    now = [0.0]
    bucket = TokenBucket(size=3, refill=1, clock=lambda: now[0])

    assert [bucket.reserve(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.reserve(0.0) is None  # empty, and no wait allowed: throttled
    assert bucket.reserve(1.5) == pytest.approx(1.0)  # a retry a second later would get it
    assert bucket.reserve(1.5) is None  # the next one would wait 2 s: throttled
    now[0] = 10.0
    assert bucket.reserve(0.0) == 0.0  # refilled (to the bucket size, no more)
    assert bucket.tokens == pytest.approx(2.0)


def test_the_meter_counts_a_call_only_inside_an_invocation_and_in_its_thread_pools() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from infra.twin.meter import METER, install_call_meter

    install_call_meter()
    api = "states:ListStateMachineVersions"
    before = METER.snapshot()["calls_by_function"]

    # Given a call outside any invocation (the twin's own, a test's): not the product's
    METER.product_call(api)
    # When a function calls it, itself and from a task of its thread pool
    with METER.invocation("scrm-ticket-gauges"):
        METER.product_call(api)
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(METER.product_call, api).result()
    # and a paused block (a benchmark's polling) calls it too
    with METER.invocation("scrm-ticket-gauges"), METER.paused():
        METER.product_call(api)

    # Then the function made two, and the meter says they are control plane
    after = METER.snapshot()
    key = f"scrm-ticket-gauges {api}"
    assert after["calls_by_function"].get(key, 0) - before.get(key, 0) == 2
    assert api in after["calls_by_plane"]["control"]


def test_cold_reads_of_apis_that_share_a_quota_add_up() -> None:
    # Configuration by path (cached 300 s) and a secret (cached 3,600 s) share SSM's 40 reads/s
    (ceiling,) = cold_read_ceilings(
        warm_up={"ssm:GetParametersByPath": 10.0, "ssm:GetParameter": 1.0},
        warm={},
        containers_in_warm_up=10,
        containers=30,
        cache_seconds={"ssm:GetParametersByPath": 300.0, "ssm:GetParameter": 3600.0},
    )

    assert ceiling.used == pytest.approx(30 * 1.0 / 300 + 30 * 0.1 / 3600)
    assert ceiling.ceiling == math.floor(40 / ceiling.used)


def test_a_write_sharded_key_family_counts_as_one_shards_share() -> None:
    # Given three tickets whose list entries fell on shards 2 and 5 of 8 (16 WRU per ticket in all)
    shared = {
        "wru scrm-ticket-api gsi1 TENANT#t1#TICKETS#2": 10.0,
        "wru scrm-ticket-api gsi1 TENANT#t1#TICKETS#5": 6.0,
        "wru scrm-settlement-settle table TENANT#t1#LEDGER#t-wang#2026-11": 2.0,
    }

    found = hot_keys(shared, {}, "t1", shards={"TICKETS": 8})

    # Then the family is one partition of 16 / 8 = 2 WRU per ticket: 500 tickets/s per tenant
    (row,) = [r for r in found["tickets"]["partitions"] if "TICKETS" in r["partition"]]
    assert row["partition"] == "TENANT#{tenant}#TICKETS#<shard>"
    assert row["per_operation"] == pytest.approx(2.0)
    assert row["ceiling_per_second"] == pytest.approx(500.0)
