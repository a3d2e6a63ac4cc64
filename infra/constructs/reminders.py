"""SLA reminders: the EventBridge Scheduler group, the role it invokes with, the schedules'
dead-letter queue, notify rights."""

from __future__ import annotations

from aws_cdk import Duration, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.functions import FUNCTIONS_BY_KEY, ack, function_arn, iam_ack

SCHEDULE_GROUP = "scrm-reminders"
REMINDERS_FUNCTION = FUNCTIONS_BY_KEY["reminders-fire"].name
OFFERS_FUNCTION = FUNCTIONS_BY_KEY["dispatch-assign"].name
"""Target of the dispatch offers' one-time schedules (an offer that is not accepted in time)."""


class Reminders(Construct):
    """Schedule group ``scrm-reminders`` and the role Scheduler assumes to fire reminders.

    Built before the functions (they receive the group name, role ARN and dead-letter
    queue ARN in their environment); the role names ``scrm-reminders-fire`` by its fixed ARN.

    ``dlq``: every schedule's ``Target.DeadLetterConfig`` (invocations that still fail after
    the schedule's retry policy); the scheduler role may send to it.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.group = scheduler.CfnScheduleGroup(self, "Group", name=SCHEDULE_GROUP)
        self.group_name = SCHEDULE_GROUP
        self.role = iam.Role(
            self,
            "SchedulerRole",
            description="EventBridge Scheduler invokes scrm-reminders-fire (SLA reminders) and "
            "scrm-dispatch-assign (offers not accepted in time)",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            ),
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="FireReminders",
                actions=["lambda:InvokeFunction"],
                resources=[function_arn(self, REMINDERS_FUNCTION), function_arn(self, OFFERS_FUNCTION)],
            )
        )
        self.dlq = sqs.Queue(
            self,
            "Dlq",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="DeadLetters",
                actions=["sqs:SendMessage"],
                resources=[self.dlq.queue_arn],
            )
        )
        Validations.of(self.dlq).acknowledge(
            ack(
                "AwsSolutions-SQS3",
                "this queue is itself a dead-letter queue: that of the EventBridge Scheduler "
                "reminder schedules (Target.DeadLetterConfig)",
            )
        )

    def grant_notify(self, role: iam.IRole) -> None:
        """SMS over SNS and email over SES for the reminders function."""
        stack = Stack.of(self)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="NotifySms",
                actions=["sns:Publish"],
                # direct SMS publishing (PhoneNumber) has no resource ARN
                resources=["*"],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="NotifyEmail",
                actions=["ses:SendEmail", "ses:SendRawEmail"],
                resources=[stack.format_arn(service="ses", resource="identity", resource_name="*")],
            )
        )
        Validations.of(role).acknowledge(
            iam_ack("Resource::*", "SNS Publish to a phone number (SMS) has no resource ARN; X-Ray has none"),
            iam_ack(
                "Resource::arn:<AWS::Partition>:ses:<AWS::Region>:<AWS::AccountId>:identity/*",
                "sends from each tenant's verified SES identity; identities are verified per tenant",
            ),
        )
