"""Least privilege: what each platform function's role may do, from its catalogue entry's needs.

A function's role holds no table access of its own: it assumes the data-access role of its kind of
access with a session tag naming the tenant it acts for (``tenant_data.py``), reads the tenants'
configuration, and gets one statement per need of its
:class:`~infra.constructs.catalogue.FunctionSpec` (state machine actions, task tokens, schedules of
the reminders group, the intake queue and its dead-letter queue, the bodies bucket, SMS and email).
Each wildcard is acknowledged (cdk-nag ``AwsSolutions-IAM5``) with the reason it is there.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs

from infra.constructs.catalogue import FunctionSpec, state_machine_arn_prefix
from infra.constructs.nag import cfn_id, iam_ack, rendered_arn
from infra.constructs.tenant_data import ACCESS, ASSUME_ACTIONS, role_arn

XRAY_REASON = "X-Ray PutTraceSegments/PutTelemetryRecords have no resource-level ARNs"


@dataclass(frozen=True)
class GrantTargets:
    """The platform resources besides the tenants' that a function's needs name."""

    intake_queue: sqs.IQueue
    scheduler_group_name: str
    scheduler_role: iam.IRole
    intake_dlq: sqs.IQueue | None = None
    bodies_bucket: s3.IBucket | None = None


def grant(role: iam.Role, spec: FunctionSpec, targets: GrantTargets) -> None:
    """Exactly what ``spec`` needs, in this order; every wildcard acknowledged with its reason."""
    _tenant_data(role, spec)
    acks = _channel_secrets(role, spec)
    star_reasons = [XRAY_REASON]
    if spec.states:
        acks += _workflows(role, spec)
    if spec.task_tokens:
        _allow(
            role,
            "TaskTokens",
            ["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"],
            ["*"],
        )
        star_reasons.append("SendTaskSuccess/Failure/Heartbeat act on task tokens, which have no ARN")
    if spec.scheduler:
        acks.append(_schedules(role, spec, targets.scheduler_group_name))
    if spec.creates_schedules:
        role.add_to_policy(
            iam.PolicyStatement(
                sid="PassSchedulerRole",
                actions=["iam:PassRole"],
                resources=[targets.scheduler_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
            )
        )
    if spec.send_intake:
        targets.intake_queue.grant_send_messages(role)
    if spec.redrive_dlq and targets.intake_dlq is not None:
        _allow(
            role,
            "IntakeDlqRedrive",
            [
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:GetQueueAttributes",
            ],
            [targets.intake_dlq.queue_arn],
        )
    if spec.store_bodies and targets.bodies_bucket is not None:
        bucket = targets.bodies_bucket
        _allow(role, "DeliveryBodies", ["s3:PutObject"], [bucket.arn_for_objects("deliveries/*")])
        acks.append(
            iam_ack(
                f"Resource::<{cfn_id(bucket)}.Arn>/deliveries/*",
                "writes raw delivery bodies over 1 KiB, one object per delivery, under deliveries/",
            )
        )
    if spec.notify:
        acks.append(_notify(role))
        star_reasons.append("SNS Publish to a phone number (SMS) has no resource ARN")
    acks.append(iam_ack("Resource::*", "; ".join(star_reasons)))
    Validations.of(role).acknowledge(*acks)


def _allow(role: iam.Role, sid: str, actions: list[str], resources: list[str]) -> None:
    role.add_to_policy(iam.PolicyStatement(sid=sid, actions=actions, resources=resources))


def _tenant_data(role: iam.Role, spec: FunctionSpec) -> None:
    """Tenant items: assume the platform's data-access role of its kind of access, tagging the
    session with the tenant it acts for (that tag fences ``dynamodb:LeadingKeys``). Exactly one role
    ARN, no wildcard: the roles no longer come with the tenants."""
    _allow(role, "TenantData", list(ASSUME_ACTIONS), [role_arn(role, ACCESS[spec.table].role_name)])


def _channel_secrets(role: iam.Role, spec: FunctionSpec) -> list[Acknowledgment]:
    """Tenants' secrets (SecureString under ``/scrm/<tenant>/...``) for the functions that verify or
    sign with them, or send WeCom application messages with a tenant's ``wecom_app`` secret;
    nothing else reads SSM (the tenants' configuration is an S3 object per tenant, granted with the
    config bucket)."""
    if not spec.read_secrets:
        return []
    _allow(
        role,
        "ChannelSecrets",
        ["ssm:GetParameter"],
        [Stack.of(role).format_arn(service="ssm", resource="parameter", resource_name="scrm/*")],
    )
    return [
        iam_ack(
            "Resource::" + rendered_arn(role, "ssm", "parameter/scrm/*"),
            "reads the secrets of every tenant (/scrm/<tenant>/<channel>, the WeCom application's): "
            "tenants are onboarded after the platform is deployed",
        )
    ]


def _workflows(role: iam.Role, spec: FunctionSpec) -> list[Acknowledgment]:
    """Actions on the tenants' state machines (``scrm-*``), and on their executions when it stops or
    describes them."""
    stack = Stack.of(role)
    resources = [f"{state_machine_arn_prefix(role)}scrm-*"]
    acks = [
        iam_ack(
            "Resource::" + rendered_arn(role, "states", "stateMachine:scrm-*"),
            "starts executions of tenant state machines (scrm-<tenant>-<type>:live); "
            "tenant stacks are deployed after the platform",
        )
    ]
    if {"states:StopExecution", "states:DescribeExecution"} & set(spec.states):
        resources.append(f"arn:{stack.partition}:states:{stack.region}:{stack.account}:execution:scrm-*")
        acks.append(
            iam_ack(
                "Resource::" + rendered_arn(role, "states", "execution:scrm-*"),
                "stops and describes executions of tenant state machines (ticket cancel)",
            )
        )
    _allow(role, "TenantWorkflows", list(spec.states), resources)
    return acks


def _schedules(role: iam.Role, spec: FunctionSpec, group: str) -> Acknowledgment:
    """One-time schedules of the reminders group (SLA reminders, dispatch offers)."""
    schedules = Stack.of(role).format_arn(
        service="scheduler", resource="schedule", resource_name=f"{group}/*"
    )
    _allow(role, "Reminders", list(spec.scheduler), [schedules])
    return iam_ack(
        "Resource::" + rendered_arn(role, "scheduler", f"schedule/{group}/*"),
        "one-time SLA reminder schedules, per ticket and level, in the reminders group",
    )


def _notify(role: iam.Role) -> Acknowledgment:
    """SMS over SNS (a phone number: no resource ARN) and email over SES."""
    _allow(role, "NotifySms", ["sns:Publish"], ["*"])
    _allow(
        role,
        "NotifyEmail",
        ["ses:SendEmail", "ses:SendRawEmail"],
        [Stack.of(role).format_arn(service="ses", resource="identity", resource_name="*")],
    )
    return iam_ack(
        "Resource::" + rendered_arn(role, "ses", "identity/*"),
        "sends from each tenant's verified SES identity; identities are verified per tenant",
    )
