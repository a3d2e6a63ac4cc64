"""One-time schedules (SLA reminders, dispatch offer timers): the EventBridge Scheduler group, the
role it invokes their targets with, the schedules' dead-letter queue."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from infra.constructs.catalogue import FUNCTIONS, function_arn
from infra.constructs.queues import dead_letter_queue

SCHEDULE_GROUP = "scrm-reminders"
SCHEDULE_TARGETS = tuple(spec.name for spec in FUNCTIONS if spec.schedule_target)
"""The functions the schedules invoke (``schedule_target`` in the catalogue): the SLA reminders'
``scrm-reminders-fire``, the offer timers' ``scrm-dispatch-offer-expired`` (and ``scrm-dispatch-assign``,
the target of offer timers created before that function existed)."""


class Reminders(Construct):
    """Schedule group ``scrm-reminders`` and the role Scheduler assumes to invoke the schedules' targets.

    Built before the functions (they receive the group name, role ARN and dead-letter
    queue ARN in their environment); the role names its targets by their fixed ARNs.

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
            description="EventBridge Scheduler invokes the one-time schedules' targets (SLA reminders, "
            "offers not accepted in time)",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            ),
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="FireReminders",
                actions=["lambda:InvokeFunction"],
                resources=[function_arn(self, name) for name in SCHEDULE_TARGETS],
            )
        )
        self.dlq = dead_letter_queue(
            self, serves="the EventBridge Scheduler schedules (Target.DeadLetterConfig)"
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="DeadLetters",
                actions=["sqs:SendMessage"],
                resources=[self.dlq.queue_arn],
            )
        )
