"""The platform functions, one per job: name, handler, what it does, and what it may touch.

Read :data:`FUNCTIONS` to know the platform's functions (docs/design.md, "Functions (platform
stack)", is the same table in prose). Each entry becomes one Lambda function ``scrm-<key>``
(``functions.py``) with its own role holding exactly the entry's needs (``grants.py``) and the
environment those needs call for; every function runs the one code asset (``bundling.py``).

Names are fixed (``scrm-<service>-<role>``): the tenant stacks' state machines, custom resources
and rules name them (:func:`function_arn`) without cross-stack exports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aws_cdk import ArnFormat, Stack
from constructs import Construct

Kind = Literal["api", "task"]
"""``api``: behind the HTTP API (1024 MB, 10 s); ``task``: a workflow task, a consumer or a target
(768 MB, 30 s)."""
TableAccess = Literal["read", "read_write", "open_tickets"]
"""The tenant data-access role it assumes (``tenant_data.py``). ``open_tickets``: Query on the
open-tickets index (gsi3) only, nothing else of the table."""

MEMORY_MB: dict[Kind, int] = {"api": 1024, "task": 768}
TIMEOUT_SECONDS: dict[Kind, int] = {"api": 10, "task": 30}


@dataclass(frozen=True)
class FunctionSpec:
    """One platform function and what it may touch (its least-privilege role: ``grants.py``).

    Every function may also assume its ``table`` kind of tenant data-access role, read the tenants'
    configuration and write its own logs and traces.
    """

    key: str  # "<service>-<role>"
    handler: str
    kind: Kind
    description: str
    table: TableAccess = "read_write"
    states: tuple[str, ...] = ()  # actions on the tenants' state machines / executions
    task_tokens: bool = False  # SendTaskSuccess/Failure/Heartbeat (no resource-level ARNs)
    scheduler: tuple[str, ...] = ()  # actions on schedules of the reminders group (CreateSchedule: PassRole)
    schedule_target: bool = False  # one-time schedules invoke it (the scheduler role may)
    notify: bool = False  # SMS (SNS), email (SES, from SENDER_EMAIL), WeCom (WECOM_API_URL) to people
    send_intake: bool = False  # send to the intake queue (env INTAKE_QUEUE_URL)
    read_secrets: bool = (
        False  # tenants' secrets (SecureString) under /scrm/<tenant>/...: channels, WeCom app
    )
    redrive_dlq: bool = False  # receive/delete/release on the intake DLQ (env INTAKE_DLQ_URL)
    store_bodies: bool = False  # put raw bodies > 1 KiB into the bodies bucket (env DELIVERY_BODIES_BUCKET)
    onboards: bool = False  # tenant stacks' custom-resource provider: writes config objects, invokes the seed

    @property
    def name(self) -> str:
        return f"scrm-{self.key}"

    @property
    def service(self) -> str:
        return self.key.split("-", 1)[0]

    @property
    def construct_id(self) -> str:
        return "".join(part.capitalize() for part in self.key.split("-"))

    @property
    def memory_mb(self) -> int:
        return MEMORY_MB[self.kind]

    @property
    def timeout_seconds(self) -> int:
        return TIMEOUT_SECONDS[self.kind]

    @property
    def creates_schedules(self) -> bool:
        """It makes one-time schedules: it passes the scheduler role and names their dead-letter queue."""
        return "scheduler:CreateSchedule" in self.scheduler


START_EXECUTIONS = ("states:StartExecution", "states:DescribeExecution")
"""Start on the version the tenant's config object names (no alias lookup per ticket); DescribeExecution
only when a retried start finds its execution already running."""
WRITE_SCHEDULES = ("scheduler:CreateSchedule", "scheduler:GetSchedule", "scheduler:DeleteSchedule")
DELETE_SCHEDULES = ("scheduler:GetSchedule", "scheduler:DeleteSchedule")

FUNCTIONS: tuple[FunctionSpec, ...] = (
    # ---------------------------------------------------------------- ticket
    FunctionSpec(
        "ticket-api",
        "functions.ticket.handler.api",
        "api",
        "/tickets* routes and /openapi.json",
        states=(*START_EXECUTIONS, "states:StopExecution"),
        task_tokens=True,
        scheduler=DELETE_SCHEDULES,
    ),
    FunctionSpec(
        "ticket-park",
        "functions.ticket.tasks.park",
        "task",
        "waitForTaskToken task of human nodes: stores the token, starts SLA schedules; a retried "
        "execution's human start node hands it to its resume node (SendTaskFailure on its own token)",
        task_tokens=True,
        scheduler=WRITE_SCHEDULES,
    ),
    FunctionSpec(
        "ticket-step",
        "functions.ticket.tasks.step",
        "task",
        "system nodes (create_ticket, end bookkeeping); schedules the follow-ups of a closed ticket",
        states=START_EXECUTIONS,
        scheduler=WRITE_SCHEDULES,
    ),
    FunctionSpec(
        "ticket-follow-up",
        "functions.ticket.tasks.follow_up",
        "task",
        "follow-up schedules' target: opens the linked follow-up ticket a while after the source's event",
        states=START_EXECUTIONS,
        schedule_target=True,
    ),
    FunctionSpec(
        "ticket-intake",
        "functions.ticket.tasks.intake",
        "task",
        "SQS consumer: delivery -> ticket, idempotent StartExecution",
        states=START_EXECUTIONS,
    ),
    FunctionSpec(
        "ticket-onboard",
        "functions.ticket.onboard_handler.onboard",
        "task",
        "deploy time: the provider of every tenant stack's Custom::ScrmTenant: writes the tenant's "
        "config object (with its live workflow versions), asks scrm-dispatch-seed to seed technicians",
        table="read",  # no table access of its own: the seed function writes the technicians
        onboards=True,
    ),
    # ---------------------------------------------------------------- webhooks
    FunctionSpec(
        "webhooks-api",
        "functions.webhooks.handler.api",
        "api",
        "/webhooks/* and /forms/*: verify, dedupe, store, enqueue",
        send_intake=True,
        read_secrets=True,
        store_bodies=True,
    ),
    FunctionSpec(
        "webhooks-ops",
        "functions.webhooks.ops_handler.api",
        "api",
        "/deliveries* routes (ops): list, show, replay deliveries, redrive the intake DLQ",
        send_intake=True,
        redrive_dlq=True,
    ),
    # ---------------------------------------------------------------- dispatch
    FunctionSpec("dispatch-api", "functions.dispatch.handler.api", "api", "/technicians* routes"),
    FunctionSpec(
        "dispatch-assign",
        "functions.dispatch.tasks.assign",
        "task",
        "dispatch node: score, assign, start the offer's timer; dispatchers told when nobody fits",
        scheduler=WRITE_SCHEDULES,  # offer timers, whose target is dispatch-offer-expired
        notify=True,
        read_secrets=True,  # the tenant's WeCom application secret (wecom_app), for WeCom notices
        # Offer timers created before dispatch-offer-expired existed call this function, which hands
        # them to offer_expired. Drop these two once they have fired (dispatch.offer_timeout after the
        # deploy that added dispatch-offer-expired), with that branch of tasks.assign.
        task_tokens=True,
        schedule_target=True,
    ),
    FunctionSpec(
        "dispatch-offer-expired",
        "functions.dispatch.tasks.offer_expired",
        "task",
        "offer timers' target: an offer not accepted in time is declined on the technician's behalf",
        task_tokens=True,  # the decline resumes the workflow parked on the offered node
        schedule_target=True,
    ),
    FunctionSpec(
        "dispatch-seed",
        "functions.dispatch.tasks.seed",
        "task",
        "deploy time (the tenant stack's custom resource): the tenant file's technicians into the registry",
    ),
    # ---------------------------------------------------------------- settlement
    FunctionSpec(
        "settlement-api",
        "functions.settlement.handler.api",
        "api",
        "/technicians/{id}/earnings and /reports/* routes",
        table="read",
    ),
    FunctionSpec(
        "settlement-settle",
        "functions.settlement.tasks.settle",
        "task",
        "settlement node: price lines, earnings, ledger",
    ),
    FunctionSpec(
        "settlement-aggregates",
        "functions.settlement.aggregates_handler.fold",
        "task",
        "table stream (settlement records' INSERTs): revenue aggregates, sharded, each record once",
    ),
    # ---------------------------------------------------------------- domain events out (docs/events.md)
    FunctionSpec(
        "ticket-publish",
        "functions.ticket.publish_handler.handle",
        "task",
        "table stream (ticket history lines, settlement records): domain events on the scrm-events bus",
        table="read",  # no table access: the stream hands it the items (events_out.py grants PutEvents)
    ),
    FunctionSpec(
        "webhooks-outbound",
        "functions.webhooks.outbound_handler.send",
        "task",
        "outbound webhooks queue (the scrm-events rule): each event signed (Standard Webhooks) and "
        "POSTed to the tenant's subscriptions; retried, dead-lettered",
        table="read",  # no table access: the tenant's subscriptions are in its config object
        read_secrets=True,  # the subscriptions' signing secrets (/scrm/<tenant>/subscriptions/...)
    ),
    # ---------------------------------------------------------------- reminders
    FunctionSpec(
        "reminders-fire",
        "functions.reminders.handler.fire",
        "task",
        "EventBridge Scheduler target: SLA reminders over SNS (SMS), SES and WeCom; moves timers on a new "
        "calendar",
        scheduler=WRITE_SCHEDULES,
        schedule_target=True,
        notify=True,
        read_secrets=True,  # the tenant's WeCom application secret (wecom_app), for wecom levels
    ),
    # ---------------------------------------------------------------- ticket: targets of EventBridge rules
    # (listed last: the platform dashboard's alarm widget follows this order)
    FunctionSpec(
        "ticket-failed",
        "functions.ticket.tasks.execution_status",
        "task",
        "platform EventBridge rule on stopped executions (FAILED, TIMED_OUT, ABORTED of scrm-*): the "
        "ticket becomes failed, its timers are deleted, its dispatchers told",
        scheduler=DELETE_SCHEDULES,  # the ticket's SLA reminders and dispatch offer timer
        notify=True,
        read_secrets=True,  # the tenant's WeCom application secret (wecom_app), for WeCom notices
    ),
    FunctionSpec(
        "ticket-gauges",
        "functions.ticket.gauges_handler.gauges",
        "task",
        "every 5 minutes (one platform EventBridge rule): the OpenTickets gauges of every deployed tenant",
        table="open_tickets",
    ),
)
FUNCTIONS_BY_KEY = {spec.key: spec for spec in FUNCTIONS}
FUNCTION_NAMES = frozenset(spec.name for spec in FUNCTIONS)


# ---------------------------------------------------------------- ARNs from fixed names


def function_arn(scope: Construct, name: str) -> str:
    """ARN of a platform function from its fixed name (no reference to the function)."""
    return Stack.of(scope).format_arn(
        service="lambda", resource="function", resource_name=name, arn_format=ArnFormat.COLON_RESOURCE_NAME
    )


def state_machine_arn_prefix(scope: Construct) -> str:
    stack = Stack.of(scope)
    return f"arn:{stack.partition}:states:{stack.region}:{stack.account}:stateMachine:"
