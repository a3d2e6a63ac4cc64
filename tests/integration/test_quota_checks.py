"""The twin's deploy-time quota checks (``infra/twin/quota_checks.py``) against moto."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from infra.twin.quota_checks import QuotaExceeded, enforce, measure

REGION = "us-east-1"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield


def _function(name: str) -> None:
    role = boto3.client("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=TRUST)
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return None\n")
    boto3.client("lambda", region_name=REGION).create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role["Role"]["Arn"],
        Handler="index.handler",
        Code={"ZipFile": code.getvalue()},
    )


def test_a_small_deployment_passes_and_is_measured(aws: None) -> None:
    # Given one function with one permission, one rule and one parameter
    _function("scrm-ticket-gauges")
    boto3.client("lambda", region_name=REGION).add_permission(
        FunctionName="scrm-ticket-gauges",
        StatementId="one",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
    )
    boto3.client("events", region_name=REGION).put_rule(Name="r", ScheduleExpression="rate(5 minutes)")
    boto3.client("ssm", region_name=REGION).put_parameter(Name="/p", Value="v", Type="String")

    # When the checks run
    usage = {u.what: u for u in enforce(REGION, {"ScrmPlatform": {"Resources": {"A": {}, "B": {}}}})}

    # Then nothing is over, and every figure is there
    assert usage["IAM roles in the account"].used == 1
    assert 0 < usage["resource policy of function scrm-ticket-gauges"].used < 1000
    assert usage["EventBridge rules on bus default"].used == 1
    assert usage["standard SSM parameters"].used == 1
    assert usage["resources of stack ScrmPlatform"].used == 2


def test_a_rule_per_tenant_past_300_fails_the_start_naming_the_quota(aws: None) -> None:
    events = boto3.client("events", region_name=REGION)
    for n in range(301):
        events.put_rule(Name=f"scrm-t{n}-open-tickets", ScheduleExpression="rate(5 minutes)")

    with pytest.raises(QuotaExceeded) as raised:
        enforce(REGION, {})

    message = str(raised.value)
    assert "EventBridge rules on bus default: 301 rules > 300" in message
    assert "Amazon EventBridge quotas" in message


def test_a_function_policy_past_20_kb_fails(aws: None) -> None:
    # Given a permission per tenant on one platform function (the gauge rule's, before issue #16)
    _function("scrm-ticket-gauges")
    client = boto3.client("lambda", region_name=REGION)
    for n in range(60):
        client.add_permission(
            FunctionName="scrm-ticket-gauges",
            StatementId=f"ScrmTenant-tenant-{n:04d}-GaugesPermission-ABCDEFGHIJKL",
            Action="lambda:InvokeFunction",
            Principal="events.amazonaws.com",
            SourceArn=f"arn:aws:events:{REGION}:123456789012:rule/scrm-tenant-{n:04d}-open-tickets",
        )
    size = next(u for u in measure(REGION, {}) if u.what.endswith("scrm-ticket-gauges")).used
    assert size > 20 * 1024

    with pytest.raises(QuotaExceeded, match=r"resource policy of function scrm-ticket-gauges: [\d,]+ bytes"):
        enforce(REGION, {})


def test_a_stack_past_500_resources_fails(aws: None) -> None:
    template = {"Resources": {f"R{n}": {"Type": "AWS::SSM::Parameter"} for n in range(501)}}

    with pytest.raises(QuotaExceeded, match="resources of stack ScrmTenant-big: 501 resources > 500"):
        enforce(REGION, {"ScrmTenant-big": template})


def test_a_role_whose_inline_policies_grow_past_10240_characters_fails(aws: None) -> None:
    # Given one shared role that got a statement per tenant instead of a session-tag condition
    iam = boto3.client("iam")
    iam.create_role(RoleName="scrm-tenant-data", AssumeRolePolicyDocument=TRUST)
    statements = [
        {
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
            "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/scrm",
            "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"TENANT#tenant-{n:04d}#*"]}},
        }
        for n in range(60)
    ]
    iam.put_role_policy(
        RoleName="scrm-tenant-data",
        PolicyName="data",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )

    with pytest.raises(
        QuotaExceeded, match=r"inline policies of role scrm-tenant-data: [\d,]+ characters > 10,240"
    ):
        enforce(REGION, {})
