"""Intake ops in the platform template: the bodies bucket, the ops function, its routes and role."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Template

from shared.repositories.deliveries import RETENTION
from tests.infra.test_platform_stack import (
    assert_tls_only,
    functions_by_name,
    of_type,
    role_of,
    statements_of_role,
)

OPS_ROUTES = {
    "GET /deliveries",
    "GET /deliveries/{channel}/{delivery_id}",
    "POST /deliveries/{channel}/{delivery_id}/replay",
    "POST /deliveries/redrive",
}


def _bucket(raw: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    # the intake's bodies bucket (the other is the tenants' config bucket)
    (found,) = [(k, r) for k, r in of_type(raw, "AWS::S3::Bucket").items() if k.startswith("IntakeBodies")]
    return found[0], found[1]["Properties"]


def test_bodies_bucket_is_private_encrypted_and_expires_with_the_deliveries(
    platform: Template, platform_raw: dict[str, Any]
) -> None:
    bucket_id, props = _bucket(platform_raw)
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (rule,) = props["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["ExpirationInDays"] == RETENTION.days == 30
    assert rule["Prefix"] == "deliveries/"
    assert platform_raw["Resources"][bucket_id]["DeletionPolicy"] == "Retain"
    # TLS only
    assert_tls_only(platform, bucket_id)


def test_only_the_webhooks_function_writes_bodies_and_knows_the_bucket(platform_raw: dict[str, Any]) -> None:
    bucket_id, _ = _bucket(platform_raw)
    functions = functions_by_name(platform_raw)
    for name, (_, props) in functions.items():
        env = props["Environment"]["Variables"]
        writes = any(
            "s3:PutObject" in json.dumps(s["Action"]) and bucket_id in json.dumps(s["Resource"])
            for s in statements_of_role(platform_raw, role_of(platform_raw, name))
        )
        assert ("DELIVERY_BODIES_BUCKET" in env) is writes is (name == "scrm-webhooks-api"), name
    env = functions["scrm-webhooks-api"][1]["Environment"]["Variables"]
    assert env["DELIVERY_BODIES_BUCKET"] == {"Ref": bucket_id}
    (put,) = [
        s
        for s in statements_of_role(platform_raw, role_of(platform_raw, "scrm-webhooks-api"))
        if s["Action"] == "s3:PutObject"
    ]
    assert put["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/deliveries/*"]]}


def test_ops_function_redrives_the_dlq_and_nothing_more(platform_raw: dict[str, Any]) -> None:
    functions = functions_by_name(platform_raw)
    outputs = platform_raw["Outputs"]
    dlq_id = outputs["IntakeDlqUrl"]["Value"]["Ref"]
    queue_id = outputs["IntakeQueueUrl"]["Value"]["Ref"]
    env = functions["scrm-webhooks-ops"][1]["Environment"]["Variables"]
    assert env["INTAKE_DLQ_URL"] == {"Ref": dlq_id}
    assert env["INTAKE_QUEUE_URL"] == {"Ref": queue_id}
    assert {n for n, (_, p) in functions.items() if "INTAKE_DLQ_URL" in p["Environment"]["Variables"]} == {
        "scrm-webhooks-ops"
    }
    statements = statements_of_role(platform_raw, role_of(platform_raw, "scrm-webhooks-ops"))
    sqs = [s for s in statements if any(a.startswith("sqs:") for a in _actions(s))]
    by_queue = {s["Resource"]["Fn::GetAtt"][0]: set(_actions(s)) for s in sqs}
    assert by_queue[dlq_id] == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
    }
    assert "sqs:SendMessage" in by_queue[queue_id]
    assert not {"sqs:ReceiveMessage", "sqs:DeleteMessage"} & by_queue[queue_id]
    # besides reading the tenants' configuration objects, as every function does
    every = {a for s in statements if not s.get("Sid", "").startswith("TenantConfig") for a in _actions(s)}
    assert not any(a.startswith(("s3:", "states:", "scheduler:")) for a in every), every
    assert not any(
        a.startswith("ssm:") and "/scrm/*" in json.dumps(s) for s in statements for a in _actions(s)
    )


def test_ops_routes_need_a_jwt_and_reach_the_ops_function(platform_raw: dict[str, Any]) -> None:
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in of_type(platform_raw, "AWS::ApiGatewayV2::Route").values()
    }
    assert set(routes) >= OPS_ROUTES
    integrations = of_type(platform_raw, "AWS::ApiGatewayV2::Integration")
    ops_id = functions_by_name(platform_raw)["scrm-webhooks-ops"][0]
    for key in OPS_ROUTES:
        route = routes[key]
        assert route["AuthorizationType"] == "JWT", key
        integration_id = route["Target"]["Fn::Join"][1][1]["Ref"]
        assert integrations[integration_id]["Properties"]["IntegrationUri"]["Fn::GetAtt"][0] == ops_id, key


def _actions(statement: dict[str, Any]) -> list[str]:
    value = statement["Action"]
    return [value] if isinstance(value, str) else list(value)
