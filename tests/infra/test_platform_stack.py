"""The platform stack's template: table, queues, functions, API, reminders, outputs, cdk-nag."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, DockerImage, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match, Template

from infra.app import add_nag_checks, tenant_files_from
from infra.constructs.api import ROUTES
from infra.constructs.bundling import CODE_PACKAGES, LocalPythonBundler, function_code, runtime_python
from infra.constructs.catalogue import FUNCTIONS, FUNCTIONS_BY_KEY

# docs/design.md, "Functions (platform stack)"
DESIGN_FUNCTIONS = {
    "scrm-ticket-api": "functions.ticket.handler.api",
    "scrm-ticket-park": "functions.ticket.tasks.park",
    "scrm-ticket-step": "functions.ticket.tasks.step",
    "scrm-ticket-intake": "functions.ticket.tasks.intake",
    "scrm-webhooks-api": "functions.webhooks.handler.api",
    "scrm-dispatch-api": "functions.dispatch.handler.api",
    "scrm-dispatch-assign": "functions.dispatch.tasks.assign",
    "scrm-dispatch-offer-expired": "functions.dispatch.tasks.offer_expired",  # offer timers' target
    "scrm-dispatch-seed": "functions.dispatch.tasks.seed",  # the tenant stacks' technician seeding
    "scrm-settlement-api": "functions.settlement.handler.api",
    "scrm-settlement-settle": "functions.settlement.tasks.settle",
    "scrm-reminders-fire": "functions.reminders.handler.fire",
    "scrm-webhooks-ops": "functions.webhooks.ops_handler.api",  # intake ops: /deliveries* (issue 4)
    "scrm-ticket-gauges": "functions.ticket.gauges_handler.gauges",  # OpenTickets gauge (issue 8)
    "scrm-ticket-failed": "functions.ticket.tasks.execution_status",  # stopped executions (issue 14)
    "scrm-ticket-onboard": "functions.ticket.onboard_handler.onboard",  # tenant stacks' provider (issue 16)
    # the table stream's revenue aggregates (issue 16)
    "scrm-settlement-aggregates": "functions.settlement.aggregates_handler.fold",
    # domain events out (issue 17): the table stream -> scrm-events; the outbound webhooks queue
    "scrm-ticket-publish": "functions.ticket.publish_handler.handle",
    "scrm-webhooks-outbound": "functions.webhooks.outbound_handler.send",
    # follow-ups (issue 17): the target of their one-time schedules
    "scrm-ticket-follow-up": "functions.ticket.tasks.follow_up",
}

# CONTRACT.md, "HTTP API": route -> (function, needs a JWT)
CONTRACT_ROUTES = {
    "POST /webhooks/{tenant}/{channel}": ("scrm-webhooks-api", False),
    "GET /webhooks/{tenant}/{channel}": ("scrm-webhooks-api", False),
    "POST /forms/{tenant}/{channel}": ("scrm-webhooks-api", False),
    "POST /tickets": ("scrm-ticket-api", True),
    "GET /tickets/{id}": ("scrm-ticket-api", True),
    "GET /tickets": ("scrm-ticket-api", True),
    "POST /tickets/{id}/actions": ("scrm-ticket-api", True),
    "POST /tickets/{id}/cancel": ("scrm-ticket-api", True),
    "POST /tickets/{id}/retry": ("scrm-ticket-api", True),  # a failed ticket, started again (issue 14)
    "PATCH /tickets/{id}/fields": ("scrm-ticket-api", True),  # complete or correct a ticket's fields
    "GET /tickets/{id}/history": ("scrm-ticket-api", True),
    "GET /technicians": ("scrm-dispatch-api", True),
    "PUT /technicians/{id}": ("scrm-dispatch-api", True),
    "GET /technicians/{id}/earnings": ("scrm-settlement-api", True),
    "GET /staff/{id}/earnings": ("scrm-settlement-api", True),
    "GET /reports/revenue": ("scrm-settlement-api", True),
    # one customer across channels (issue 17)
    "GET /customers": ("scrm-ticket-api", True),
    "GET /customers/{id}": ("scrm-ticket-api", True),
    "GET /customers/{id}/timeline": ("scrm-ticket-api", True),
    # sales opportunities opened by ticket events (issue 17)
    "GET /opportunities": ("scrm-ticket-api", True),
    "GET /opportunities/{id}": ("scrm-ticket-api", True),
    "POST /opportunities/{id}/actions": ("scrm-ticket-api", True),
    "GET /reports/pipeline": ("scrm-ticket-api", True),
    # the tenant file as the web console needs it (issue 19)
    "GET /tenant": ("scrm-ticket-api", True),
    "POST /tickets/{id}/reassign": ("scrm-ticket-api", True),
    "GET /openapi.json": ("scrm-ticket-api", False),
    # ops on intake deliveries (issue 4)
    "GET /deliveries": ("scrm-webhooks-ops", True),
    "GET /deliveries/{channel}/{delivery_id}": ("scrm-webhooks-ops", True),
    "POST /deliveries/{channel}/{delivery_id}/replay": ("scrm-webhooks-ops", True),
    "POST /deliveries/redrive": ("scrm-webhooks-ops", True),
}


def of_type(raw: dict[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in raw["Resources"].items() if v["Type"] == type_name}


def assert_tls_only(platform: Template, bucket_id: str) -> None:
    """The bucket's policy denies every request not made over TLS."""
    platform.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": bucket_id},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                        )
                    ]
                )
            },
        },
    )


def functions_by_name(raw: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    return {
        r["Properties"]["FunctionName"]: (lid, r["Properties"])
        for lid, r in of_type(raw, "AWS::Lambda::Function").items()
        if "FunctionName" in r["Properties"]  # not aws-cdk-lib's own handlers (the console's deployment)
    }


def statements_of_role(raw: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for policy in of_type(raw, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            found.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return found


def actions_of_role(raw: dict[str, Any], role_id: str) -> set[str]:
    actions: set[str] = set()
    for statement in statements_of_role(raw, role_id):
        value = statement["Action"]
        actions.update([value] if isinstance(value, str) else value)
    return actions


def role_of(raw: dict[str, Any], function_name: str) -> str:
    return str(functions_by_name(raw)[function_name][1]["Role"]["Fn::GetAtt"][0])


def config_bucket_id(raw: dict[str, Any]) -> str:
    return str(raw["Outputs"]["ConfigBucketName"]["Value"]["Ref"])


# ----------------------------------------------------------------------------- app


def test_synth_passes_cdk_nag_and_is_fast(synth: Any) -> None:
    # Then: the synth with the AwsSolutions plugin succeeded, with nothing left to report
    assert synth.validation_report()["pluginReports"] == []
    assert synth.seconds < 60, f"synth took {synth.seconds:.1f}s"


def test_unacknowledged_finding_fails_synth(tmp_path: Path) -> None:
    # Given a stack with a queue that has no DLQ and no acknowledgment
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Bad")
    sqs.Queue(stack, "NoDlq", enforce_ssl=True)
    add_nag_checks(app)
    # When / Then: synth fails on the finding
    with pytest.raises(RuntimeError, match="AwsSolutions-SQS3"):
        app.synth()


def test_templates_deploy_without_bootstrap_or_metadata(platform_raw: dict[str, Any]) -> None:
    assert "Rules" not in platform_raw
    assert "BootstrapVersion" not in platform_raw.get("Parameters", {})
    assert not of_type(platform_raw, "AWS::CDK::Metadata")


def test_outputs_have_fixed_logical_ids(platform: Template) -> None:
    outputs = platform.find_outputs("*")
    for name in (
        "TableName",
        "ApiUrl",
        "IntakeQueueUrl",
        "IntakeDlqUrl",
        "RemindersDlqUrl",
        "RecoveryDlqUrl",
        "SchedulerGroupName",
        "SchedulerRoleArn",
        "UserPoolId",
    ):
        assert name in outputs, name
    assert outputs["SchedulerGroupName"]["Value"] == "scrm-reminders"


def test_tenant_files_come_from_env_or_context(monkeypatch: pytest.MonkeyPatch) -> None:
    app = App(context={"scrm:tenants": "a.yaml, b.yaml"})
    monkeypatch.delenv("SCRM_TENANTS", raising=False)
    assert tenant_files_from(app) == ["a.yaml", "b.yaml"]
    monkeypatch.setenv("SCRM_TENANTS", "c.yaml")
    assert tenant_files_from(app) == ["c.yaml"]


# ----------------------------------------------------------------------------- table


def test_table_keys_indexes_ttl_pitr(platform: Template, platform_raw: dict[str, Any]) -> None:
    platform.resource_count_is("AWS::DynamoDB::Table", 1)
    platform.has_resource(
        "AWS::DynamoDB::Table",
        {
            "DeletionPolicy": "Retain",
            "Properties": {
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "BillingMode": "PAY_PER_REQUEST",
                "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "SSESpecification": {"SSEEnabled": True},
            },
        },
    )
    (table,) = of_type(platform_raw, "AWS::DynamoDB::Table").values()
    props = table["Properties"]
    assert {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]} == {
        name: "S"
        for name in (
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
            "lsk",
        )
    }
    indexes = {i["IndexName"]: i["KeySchema"] for i in props["GlobalSecondaryIndexes"]}
    # the three ticket indexes (open, the tenant's list, an assignee's) share one sort key, lsk
    assert indexes == {
        f"gsi{n}": [
            {"AttributeName": f"gsi{n}pk", "KeyType": "HASH"},
            {"AttributeName": f"gsi{n}sk" if n in (1, 2, 4) else "lsk", "KeyType": "RANGE"},
        ]
        for n in (1, 2, 3, 4, 5, 6)
    }
    # gsi3 (a tenant's open tickets) projects only what the OpenTickets gauge counts by
    projections = {i["IndexName"]: i["Projection"] for i in props["GlobalSecondaryIndexes"]}
    assert projections["gsi3"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["type", "node"]}
    assert projections["gsi1"] == projections["gsi2"] == {"ProjectionType": "ALL"}
    # gsi5/gsi6 (the ticket lists) project the filter columns, never the ticket's body: every save
    # rewrites both entries (a page reads its tickets by key)
    for index in ("gsi5", "gsi6"):
        assert projections[index] == {
            "ProjectionType": "INCLUDE",
            "NonKeyAttributes": ["type", "status", "node"],
        }
    # gsi4 (a tenant's deliveries) projects a list's columns: never the raw body, payload or headers
    assert projections["gsi4"]["ProjectionType"] == "INCLUDE"
    assert not {"body", "payload", "headers"} & set(projections["gsi4"]["NonKeyAttributes"])
    # and the table streams new images: the revenue aggregates are folded from it
    assert props["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}


# ----------------------------------------------------------------------------- queues


def _reminders_dlq(raw: dict[str, Any]) -> str:
    (lid,) = [lid for lid in of_type(raw, "AWS::SQS::Queue") if lid.startswith("RemindersDlq")]
    return lid


def _rule_target_dlqs(raw: dict[str, Any]) -> set[str]:
    """Queues that are an EventBridge rule target's DeadLetterConfig (the stopped-executions rule)."""
    return {
        target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
        for rule in of_type(raw, "AWS::Events::Rule").values()
        for target in rule["Properties"].get("Targets", [])
        if "DeadLetterConfig" in target
    }


def _event_source_dlqs(raw: dict[str, Any]) -> set[str]:
    """Queues that are an event source mapping's on-failure destination (the table stream's)."""
    return {
        esm["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
        for esm in of_type(raw, "AWS::Lambda::EventSourceMapping").values()
        if "DestinationConfig" in esm["Properties"]
    }


def test_every_queue_has_a_dlq_and_is_encrypted(platform_raw: dict[str, Any]) -> None:
    queues = of_type(platform_raw, "AWS::SQS::Queue")
    dlqs = {
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in queues.values()
        if "RedrivePolicy" in q["Properties"]
    }
    assert dlqs, "no queue has a dead-letter queue"
    # the reminders DLQ is the dead-letter queue of the EventBridge Scheduler schedules, the recovery
    # DLQ that of the stopped-executions rule's target
    dlqs.add(_reminders_dlq(platform_raw))
    dlqs |= _rule_target_dlqs(platform_raw)
    dlqs |= _event_source_dlqs(platform_raw)  # the revenue aggregates' stream on-failure queue
    for lid, queue in queues.items():
        assert "RedrivePolicy" in queue["Properties"] or lid in dlqs, f"{lid} has no DLQ and is none"
        assert queue["Properties"].get("SqsManagedSseEnabled") is True, lid
    for lid, q in queues.items():
        if "RedrivePolicy" in q["Properties"]:
            # the outbound webhooks' sender dead-letters itself after its 8 attempts: redrive is a backstop
            expected = 10 if lid.startswith("EventsOutWebhooksQueue") else 5
            assert q["Properties"]["RedrivePolicy"]["maxReceiveCount"] == expected, lid
    # TLS only: a Deny on aws:SecureTransport=false for every queue
    policies = of_type(platform_raw, "AWS::SQS::QueuePolicy").values()
    secured = {
        ref["Ref"]
        for p in policies
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny"
        and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        for ref in p["Properties"]["Queues"]
    }
    assert secured == set(queues)


def test_intake_consumer_reports_batch_item_failures(platform_raw: dict[str, Any]) -> None:
    intake_id = functions_by_name(platform_raw)["scrm-ticket-intake"][0]
    (mapping,) = [
        esm
        for esm in of_type(platform_raw, "AWS::Lambda::EventSourceMapping").values()
        if esm["Properties"]["FunctionName"] == {"Ref": intake_id}
    ]
    assert mapping["Properties"]["FunctionName"] == {"Ref": intake_id}
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


# ----------------------------------------------------------------------------- functions


def test_the_functions_of_the_design(platform_raw: dict[str, Any]) -> None:
    functions = functions_by_name(platform_raw)
    assert {name: props["Handler"] for name, (_, props) in functions.items()} == DESIGN_FUNCTIONS
    assert {spec.name: spec.handler for spec in FUNCTIONS} == DESIGN_FUNCTIONS


def test_functions_runtime_arch_tracing_memory_timeout(platform_raw: dict[str, Any]) -> None:
    for name, (_, props) in functions_by_name(platform_raw).items():
        assert props["Runtime"] == "python3.13", name
        assert props["Architectures"] == ["arm64"], name
        assert props["TracingConfig"] == {"Mode": "Active"}, name
        assert 512 <= props["MemorySize"] <= 1024, name
        assert props["Timeout"] == (10 if name.endswith(("-api", "-ops")) else 30), name


def test_each_function_has_its_own_role_and_log_group(platform_raw: dict[str, Any]) -> None:
    functions = functions_by_name(platform_raw)
    roles = [props["Role"]["Fn::GetAtt"][0] for _, props in functions.values()]
    assert len(set(roles)) == len(functions) == len(DESIGN_FUNCTIONS)
    log_groups = of_type(platform_raw, "AWS::Logs::LogGroup")
    for name, (_, props) in functions.items():
        group = log_groups[props["LoggingConfig"]["LogGroup"]["Ref"]]["Properties"]
        assert group["LogGroupName"] == f"/aws/lambda/{name}"
        assert group["RetentionInDays"] == 30
    for lid, group in log_groups.items():
        assert "RetentionInDays" in group["Properties"], lid
    for role_id in roles:
        trust = platform_raw["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert [s["Principal"] for s in trust] == [{"Service": "lambda.amazonaws.com"}]
        assert "ManagedPolicyArns" not in platform_raw["Resources"][role_id]["Properties"]


def test_function_environment(platform_raw: dict[str, Any]) -> None:
    functions = functions_by_name(platform_raw)
    for name, (_, props) in functions.items():
        env = props["Environment"]["Variables"]
        service = name.split("-")[1]
        assert env["TABLE_NAME"] == {"Ref": next(iter(of_type(platform_raw, "AWS::DynamoDB::Table")))}
        assert env["CONFIG_BUCKET"] == {"Ref": config_bucket_id(platform_raw)}
        assert env["POWERTOOLS_SERVICE_NAME"] == service
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Scrm"
        assert env["LOG_LEVEL"] == "INFO"
        assert json.dumps(env["STATE_MACHINE_ARN_PREFIX"]).endswith(':stateMachine:"]]}')
        has_scheduler = service in ("ticket", "reminders") or name == "scrm-dispatch-assign"  # offers
        for key in ("SCHEDULER_GROUP", "SCHEDULER_ROLE_ARN", "REMINDER_FUNCTION_ARN"):
            assert (key in env) is has_scheduler, (name, key)
        assert ("INTAKE_QUEUE_URL" in env) is (name in ("scrm-webhooks-api", "scrm-webhooks-ops")), name
    env = functions["scrm-ticket-park"][1]["Environment"]["Variables"]
    assert env["SCHEDULER_GROUP"] == "scrm-reminders"
    assert "function:scrm-reminders-fire" in json.dumps(env["REMINDER_FUNCTION_ARN"])


def test_roles_are_least_privilege(platform_raw: dict[str, Any]) -> None:
    every: dict[str, set[str]] = {
        name: actions_of_role(platform_raw, role_of(platform_raw, name)) for name in DESIGN_FUNCTIONS
    }
    for name, actions in every.items():
        assert not any(a.endswith(":*") or a == "*" for a in actions), (name, actions)
        # tenant items only through the tenant's data-access role (test_tenant_data_access.py); the
        # revenue aggregates' function reads the table's stream (its event source), nothing else
        table = {a for a in actions if a.startswith("dynamodb:")}
        stream_reads = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"}
        assert table <= (
            stream_reads | {"dynamodb:ListStreams"}
            if name in ("scrm-settlement-aggregates", "scrm-ticket-publish")
            else set()
        )
        assert "sts:AssumeRole" in actions, name
    assert {n for n, a in every.items() if "sqs:SendMessage" in a} == {
        "scrm-webhooks-api",
        "scrm-webhooks-ops",
        "scrm-ticket-failed",  # its asynchronous invocations' on-failure destination: the recovery DLQ
        "scrm-settlement-aggregates",  # its stream event source's on-failure destination
        "scrm-ticket-publish",  # the same, for the domain events' stream source
        "scrm-webhooks-outbound",  # split messages to its queue, refusals to its DLQ
    }
    assert {n for n, a in every.items() if "sqs:ReceiveMessage" in a} == {
        "scrm-ticket-intake",
        "scrm-webhooks-ops",  # the intake DLQ only (redrive)
        "scrm-webhooks-outbound",  # the outbound webhooks queue
    }
    # reminders-fire chains the levels and reschedules open timers after a calendar change;
    # dispatch-assign sets offer timers; ticket-step schedules a closed ticket's follow-ups
    assert {n for n, a in every.items() if "iam:PassRole" in a} == {
        "scrm-ticket-park",
        "scrm-ticket-step",
        "scrm-reminders-fire",
        "scrm-dispatch-assign",
    }
    assert {n for n, a in every.items() if "scheduler:CreateSchedule" in a} == {
        "scrm-ticket-park",
        "scrm-ticket-step",
        "scrm-reminders-fire",
        "scrm-dispatch-assign",
    }
    # dispatch-offer-expired declines an expired offer on the technician's behalf; dispatch-assign
    # answers its own callback Task (assigned / no candidate) and, for the offer timers created before
    # dispatch-offer-expired existed, declines too; ticket-park hands a retried execution from its
    # start node on (SendTaskFailure on its own token)
    assert {n for n, a in every.items() if "states:SendTaskSuccess" in a} == {
        "scrm-ticket-api",
        "scrm-ticket-park",
        "scrm-dispatch-offer-expired",
        "scrm-dispatch-assign",
    }
    assert {n for n, a in every.items() if "states:StartExecution" in a} == {
        "scrm-ticket-api",
        "scrm-ticket-step",
        "scrm-ticket-intake",
        "scrm-ticket-follow-up",
    }
    # reminders, and the notices to dispatchers when nobody fits and when a ticket failed
    assert {n for n, a in every.items() if "sns:Publish" in a or "ses:SendEmail" in a} == {
        "scrm-reminders-fire",
        "scrm-dispatch-assign",
        "scrm-ticket-failed",
    }


def test_each_dispatch_job_has_its_own_least_privilege_role(platform_raw: dict[str, Any]) -> None:
    def sids(name: str) -> set[str]:
        return {s.get("Sid", "") for s in statements_of_role(platform_raw, role_of(platform_raw, name))}

    def actions(name: str) -> set[str]:
        every = actions_of_role(platform_raw, role_of(platform_raw, name))
        return {a for a in every if not a.startswith(("logs:", "xray:"))}  # its own logs and traces

    base = {
        "sts:AssumeRole",
        "sts:TagSession",
        "s3:GetObject",  # the tenants' configuration objects
        "s3:ListBucket",
    }
    tokens = {"states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"}
    # seeding at deploy: the tenant's items (through its data role) and its configuration, nothing else
    assert actions("scrm-dispatch-seed") == base
    # the offer timers' target: the decline resumes the parked workflow; it makes no schedules
    assert actions("scrm-dispatch-offer-expired") == base | tokens
    # the dispatch node: offer timers (schedules, passing the scheduler role) and notices to dispatchers
    assert {"Reminders", "PassSchedulerRole", "NotifySms", "NotifyEmail"} <= sids("scrm-dispatch-assign")
    assert not {"Reminders", "PassSchedulerRole", "NotifySms"} & (
        sids("scrm-dispatch-offer-expired") | sids("scrm-dispatch-seed")
    )
    for name in ("scrm-dispatch-offer-expired", "scrm-dispatch-seed"):
        env = functions_by_name(platform_raw)[name][1]["Environment"]["Variables"]
        assert env["TENANT_DATA_ACCESS"] == "data", name
        assert not {"SCHEDULER_GROUP", "SCHEDULER_DLQ_ARN", "SENDER_EMAIL"} & set(env), name


def test_only_the_functions_that_verify_signatures_read_ssm(platform_raw: dict[str, Any]) -> None:
    for key, spec in FUNCTIONS_BY_KEY.items():
        ssm = {
            a for a in actions_of_role(platform_raw, role_of(platform_raw, spec.name)) if a.startswith("ssm:")
        }
        assert ssm == ({"ssm:GetParameter"} if spec.read_secrets else set()), key


def test_offer_timers_target_the_offer_expired_function() -> None:
    from types import SimpleNamespace

    from functions.dispatch import tasks

    spec = FUNCTIONS_BY_KEY["dispatch-offer-expired"]
    assert (tasks.OFFER_EXPIRED_FUNCTION, spec.handler) == (
        spec.name,
        "functions.dispatch.tasks.offer_expired",
    )
    # the assign task's own ARN (any partition, region, account, qualifier) with that function's name
    invoked = "arn:aws-cn:lambda:cn-north-1:111122223333:function:scrm-dispatch-assign:live"
    target = tasks.offer_target(SimpleNamespace(invoked_function_arn=invoked))
    assert target == "arn:aws-cn:lambda:cn-north-1:111122223333:function:scrm-dispatch-offer-expired"
    assert tasks.offer_target(SimpleNamespace()) is None  # no invoked ARN: the offer does not expire


# ----------------------------------------------------------------------------- API


def test_every_contract_route_is_served(platform_raw: dict[str, Any]) -> None:
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in of_type(platform_raw, "AWS::ApiGatewayV2::Route").values()
    }
    default = routes.pop("$default")  # unrouted requests: 404/405 in the API's error shape
    assert default.get("AuthorizationType", "NONE") == "NONE"
    assert set(routes) == set(CONTRACT_ROUTES)
    assert {r.key for r in ROUTES} == set(CONTRACT_ROUTES)
    integrations = of_type(platform_raw, "AWS::ApiGatewayV2::Integration")
    function_ids = {lid: name for name, (lid, _) in functions_by_name(platform_raw).items()}
    (authorizer_id,) = of_type(platform_raw, "AWS::ApiGatewayV2::Authorizer")
    for key, (function_name, needs_jwt) in CONTRACT_ROUTES.items():
        route = routes[key]
        integration_id = route["Target"]["Fn::Join"][1][1]["Ref"]
        uri = integrations[integration_id]["Properties"]["IntegrationUri"]["Fn::GetAtt"][0]
        assert function_ids[uri] == function_name, key
        if needs_jwt:
            assert route["AuthorizationType"] == "JWT", key
            assert route["AuthorizerId"] == {"Ref": authorizer_id}, key
        else:
            assert route["AuthorizationType"] == "NONE", key


def test_authorizer_is_the_user_pool(platform: Template) -> None:
    platform.resource_count_is("AWS::Cognito::UserPool", 1)
    platform.resource_count_is("AWS::Cognito::UserPoolClient", 2)  # the API's and the console's
    # a person carries their tenant and their id in the tenant file, neither changeable later
    platform.has_resource_properties(
        "AWS::Cognito::UserPool",
        {
            "Schema": Match.array_with(
                [
                    Match.object_like({"Name": "tenant", "Mutable": False}),
                    Match.object_like({"Name": "user", "Mutable": False}),
                ]
            )
        },
    )
    platform.has_resource_properties(
        "AWS::ApiGatewayV2::Authorizer",
        {
            "AuthorizerType": "JWT",
            "IdentitySource": ["$request.header.Authorization"],
            "JwtConfiguration": {"Audience": Match.any_value(), "Issuer": Match.any_value()},
        },
    )


def test_stage_logs_and_throttles(platform: Template) -> None:
    platform.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "StageName": "$default",
            "AutoDeploy": True,
            "AccessLogSettings": {
                "DestinationArn": Match.any_value(),
                "Format": Match.string_like_regexp("routeKey"),
            },
            "DefaultRouteSettings": {
                "ThrottlingBurstLimit": Match.any_value(),
                "ThrottlingRateLimit": Match.any_value(),
            },
        },
    )


# ----------------------------------------------------------------------------- reminders, observability


def test_scheduler_group_and_role(platform: Template, platform_raw: dict[str, Any]) -> None:
    platform.has_resource_properties("AWS::Scheduler::ScheduleGroup", {"Name": "scrm-reminders"})
    role_id = platform.find_outputs("SchedulerRoleArn")["SchedulerRoleArn"]["Value"]["Fn::GetAtt"][0]
    trust = platform_raw["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "scheduler.amazonaws.com"}]
    statement, dead_letters = statements_of_role(platform_raw, role_id)
    assert statement["Action"] == "lambda:InvokeFunction"
    assert (
        dead_letters["Action"] == "sqs:SendMessage"
    )  # the schedules' DLQ (tests/infra/test_reminders_infra.py)
    # the SLA reminders' and the dispatch offers' targets (dispatch-assign: offer timers created before
    # dispatch-offer-expired existed), and nothing else
    targets = {json.dumps(r).rsplit(":function:", 1)[-1].removesuffix('"]]}') for r in statement["Resource"]}
    assert targets == {
        "scrm-reminders-fire",
        "scrm-dispatch-offer-expired",
        "scrm-dispatch-assign",
        "scrm-ticket-follow-up",
    }


def test_dashboard_and_alarms(platform: Template, platform_raw: dict[str, Any]) -> None:
    platform.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    alarms = {a["Properties"]["AlarmName"] for a in of_type(platform_raw, "AWS::CloudWatch::Alarm").values()}
    assert "scrm-intake-dlq-depth" in alarms
    assert {f"{name}-errors" for name in DESIGN_FUNCTIONS} <= alarms


def test_resources_are_tagged(platform_raw: dict[str, Any]) -> None:
    for name, (_, props) in functions_by_name(platform_raw).items():
        tags = {t["Key"]: t["Value"] for t in props["Tags"]}
        assert tags == {"scrm:component": "functions", "scrm:tenant": "platform"}, name


# ----------------------------------------------------------------------------- code asset


def test_local_bundler_copies_cached_dependencies_and_packages(tmp_path: Path) -> None:
    # Given a project with both packages and a dependency layer already in the cache
    root = tmp_path / "project"
    for package in CODE_PACKAGES:
        (root / package / "__pycache__").mkdir(parents=True)
        (root / package / "__init__.py").write_text("")
        (root / package / "__pycache__" / "x.pyc").write_text("")
    (root / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["pydantic>=2"]\n')
    bundler = LocalPythonBundler(root, cache_dir=tmp_path / "cache", python=None)
    layer = tmp_path / "cache" / f"deps-{bundler.cache_key}"
    (layer / "pydantic").mkdir(parents=True)
    (layer / "pydantic" / "__init__.py").write_text("")
    (layer / ".complete").write_text("pydantic>=2\n")
    out = tmp_path / "out"
    out.mkdir()
    # When it bundles (pip is not run: the layer is cached)
    assert bundler.try_bundle(str(out), image=DockerImage.from_registry("unused")) is True
    # Then the asset holds the dependencies and the packages, without caches or markers
    assert (out / "pydantic" / "__init__.py").exists()
    assert all((out / package / "__init__.py").exists() for package in CODE_PACKAGES)
    assert not list(out.rglob("__pycache__"))
    assert not (out / ".complete").exists()


def test_unbundled_asset_holds_only_the_code_packages(synth: Any, platform_raw: dict[str, Any]) -> None:
    (_, props) = functions_by_name(platform_raw)["scrm-ticket-api"]
    key = props["Code"]["S3Key"].removesuffix(".zip")
    staged = synth.outdir / f"asset.{key}"
    assert sorted(p.name for p in staged.iterdir()) == sorted(CODE_PACKAGES)
    assert not list(staged.rglob("__pycache__"))
    codes = {json.dumps(p["Code"], sort_keys=True) for _, p in functions_by_name(platform_raw).values()}
    assert len(codes) == 1, "all functions share one asset"


@pytest.mark.slow
@pytest.mark.skipif(runtime_python() is None, reason="no Python 3.13 here to byte-compile the asset")
def test_bundled_asset_ships_runtime_bytecode_of_every_handler(tmp_path: Path) -> None:
    # Given a function on the bundled asset (the dependency cache of .build/, built by pip once)
    app = App(outdir=str(tmp_path / "cdk.out"), analytics_reporting=False)
    stack = Stack(app, "Bundled")
    lambda_.Function(
        stack,
        "Fn",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler=FUNCTIONS[0].handler,
        code=function_code(bundle=True),
    )
    # When the app is synthesized
    app.synth()
    (staged,) = [p for p in (tmp_path / "cdk.out").iterdir() if p.name.startswith("asset.")]
    # Then every handler module and the dependencies come with unchecked-hash pyc of Python 3.13
    for spec in FUNCTIONS:
        module = spec.handler.rpartition(".")[0].split(".")
        pyc = staged.joinpath(*module[:-1], "__pycache__", f"{module[-1]}.cpython-313.pyc")
        assert pyc.exists(), pyc
        assert int.from_bytes(pyc.read_bytes()[4:8], "little") == 0b01, "unchecked-hash pyc"
    assert (staged / "pydantic" / "__pycache__" / "main.cpython-313.pyc").exists()
    assert (staged / "boto3" / "__pycache__" / "__init__.cpython-313.pyc").exists()
    # ... and no pyc of another Python (the development tree's) and no cache markers
    assert not [p for p in staged.rglob("*.pyc") if not p.name.endswith(".cpython-313.pyc")]
    assert not (staged / ".complete").exists() and not (staged / ".compiled").exists()


def test_the_config_bucket_is_versioned_private_and_read_by_every_function(
    platform: Template, platform_raw: dict[str, Any]
) -> None:
    bucket_id = config_bucket_id(platform_raw)
    bucket = platform_raw["Resources"][bucket_id]
    props = bucket["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}  # every deploy's object is kept
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
    assert bucket["DeletionPolicy"] == "Retain"
    assert_tls_only(platform, bucket_id)
    objects = {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/tenants/*"]]}
    for name in DESIGN_FUNCTIONS:
        statements = statements_of_role(platform_raw, role_of(platform_raw, name))
        by_sid = {s.get("Sid"): s for s in statements}
        assert by_sid["TenantConfigRead"]["Action"] == "s3:GetObject", name
        assert by_sid["TenantConfigRead"]["Resource"] == objects, name
        # ListBucket: a missing object is a 404 (unknown tenant), not a 403; the fan-out jobs list tenants
        assert by_sid["TenantConfigList"]["Resource"] == {"Fn::GetAtt": [bucket_id, "Arn"]}, name
        writes = {a for s in statements for a in _actions(s) if a in ("s3:PutObject", "s3:DeleteObject")}
        writes_configs = [s for s in statements if s.get("Sid") == "TenantConfigWrite"]
        assert bool(writes_configs) is (name == "scrm-ticket-onboard"), name
        if name == "scrm-ticket-onboard":
            assert writes == {"s3:PutObject", "s3:DeleteObject"}
            assert writes_configs[0]["Resource"] == objects


def test_the_onboard_function_writes_configs_and_invokes_only_the_seed_function(
    platform_raw: dict[str, Any],
) -> None:
    statements = statements_of_role(platform_raw, role_of(platform_raw, "scrm-ticket-onboard"))
    invokes = [s for s in statements if "lambda:InvokeFunction" in _actions(s)]
    (seed,) = invokes
    assert json.dumps(seed["Resource"]).endswith(':function:scrm-dispatch-seed"]]}')
    every = {a for s in statements for a in _actions(s)}
    assert not any(
        a.startswith(("states:", "scheduler:", "sqs:", "sns:", "ses:", "dynamodb:")) for a in every
    )
    env = functions_by_name(platform_raw)["scrm-ticket-onboard"][1]["Environment"]["Variables"]
    assert env["SEED_FUNCTION"] == "scrm-dispatch-seed"
    assert env["CONFIG_BUCKET"] == {"Ref": config_bucket_id(platform_raw)}
    # the per-ticket path needs no control-plane lookup of the live alias any more
    for name in DESIGN_FUNCTIONS:
        assert "states:DescribeStateMachineAlias" not in actions_of_role(
            platform_raw, role_of(platform_raw, name)
        ), name


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def test_the_revenue_aggregates_are_fed_by_the_table_stream_filtered_on_settlement_inserts(
    platform_raw: dict[str, Any],
) -> None:
    # Given the stream event source of scrm-settlement-aggregates
    functions = functions_by_name(platform_raw)
    fold_id = functions["scrm-settlement-aggregates"][0]
    (mapping,) = [
        esm["Properties"]
        for esm in of_type(platform_raw, "AWS::Lambda::EventSourceMapping").values()
        if esm["Properties"]["FunctionName"] == {"Ref": fold_id}
    ]
    (table_id,) = of_type(platform_raw, "AWS::DynamoDB::Table")
    # Then it reads the table's stream from its start, in batches, reporting the records that failed
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [table_id, "StreamArn"]}
    assert mapping["StartingPosition"] == "TRIM_HORIZON" and mapping["BatchSize"] == 100
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True and mapping["MaximumRetryAttempts"] >= 1
    assert "Fn::GetAtt" in mapping["DestinationConfig"]["OnFailure"]["Destination"]
    # And only settlement records' INSERTs reach the function
    (criterion,) = mapping["FilterCriteria"]["Filters"]
    assert json.loads(criterion["Pattern"]) == {
        "eventName": ["INSERT"],
        "dynamodb": {"Keys": {"sk": {"S": [{"prefix": "SETTLEMENT#"}]}}},
    }
