"""The AWS default quotas the platform depends on, as data.

Every figure here is what a new account gets in ``us-east-1`` (the region the twin and the
price table use) before any quota increase, with the AWS documentation page it comes from
(``source`` is the page's title). ``scrm capacity`` (``infra/capacity.py``) divides them by what
the platform measurably uses per ticket, per action and per tenant; the local twin enforces the
rate ones on the product's own calls (``infra/twin/meter.py``) and the count and size ones at
deploy (``infra/twin/quota_checks.py``). A quota that is not here is one the platform does not
come near; add it here first when a change makes it matter.

Kinds:

- ``rate``: requests per second across the account and region. ``bucket`` is the burst a token
  bucket holds and ``value`` its refill per second, where AWS documents one (Step Functions);
  where AWS gives one TPS figure, the bucket is that figure (a second's worth).
- ``count``: resources per account and region (or per the ``scope`` named).
- ``size``: bytes (or characters) of one document.
- ``partition``: per DynamoDB partition (one partition key value) or per S3 prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["rate", "count", "size", "partition"]
Plane = Literal["data", "control"]

STEP_FUNCTIONS = "Step Functions service quotas"
LAMBDA = "Lambda quotas"
IAM = "IAM and AWS STS quotas"
EVENTBRIDGE = "Amazon EventBridge quotas"
SCHEDULER = "Quotas for Amazon EventBridge Scheduler"
SSM = "AWS Systems Manager endpoints and quotas"
S3 = "Best practices design patterns: optimizing Amazon S3 performance"
SQS = "Amazon SQS quotas"
SNS = "Amazon SNS endpoints and quotas"
SES = "Service quotas in Amazon SES"
DYNAMODB = "Quotas in Amazon DynamoDB"
CLOUDFORMATION = "AWS CloudFormation quotas"
CLOUDWATCH = "CloudWatch service quotas"
API_GATEWAY = "Amazon API Gateway quotas for configuring and running an HTTP API"


@dataclass(frozen=True)
class Quota:
    """One AWS default quota. ``key`` is how the code names it: ``service:Operation`` for an API's
    rate (the IAM action name, as the twin's meter counts calls), else ``service:what``."""

    key: str
    service: str
    name: str
    kind: Kind
    value: float
    unit: str
    source: str
    adjustable: bool
    bucket: float | None = None
    apis: tuple[str, ...] = ()
    """The calls that take from this quota (several APIs can share one, as SSM's reads do);
    empty: just ``key`` for a rate."""
    scope: str = "account and region"
    note: str = ""

    @property
    def calls(self) -> tuple[str, ...]:
        return self.apis or ((self.key,) if self.kind == "rate" else ())

    @property
    def burst(self) -> float:
        """Tokens a full bucket holds (a rate's one-second worth when AWS names no bucket)."""
        return self.bucket if self.bucket is not None else self.value


def _sfn(api: str, bucket: float, refill: float, *, data: bool = False) -> Quota:
    return Quota(
        f"states:{api}",
        "Step Functions",
        f"{api} throttling (Standard)",
        "rate",
        refill,
        "requests/s (refill)",
        STEP_FUNCTIONS,
        True,
        bucket=bucket,
        note="data plane" if data else "control plane: very low refill",
    )


QUOTAS: tuple[Quota, ...] = (
    # ---------------------------------------------------------------- Step Functions
    _sfn("StartExecution", 1300, 300, data=True),
    _sfn("SendTaskSuccess", 3000, 500, data=True),
    _sfn("SendTaskFailure", 3000, 500, data=True),
    _sfn("SendTaskHeartbeat", 3000, 500, data=True),
    _sfn("StopExecution", 1000, 200, data=True),
    _sfn("RedriveExecution", 1300, 300, data=True),
    _sfn("DescribeExecution", 300, 15),
    _sfn("DescribeStateMachine", 200, 20),
    _sfn("DescribeStateMachineAlias", 200, 1),
    _sfn("DescribeStateMachineForExecution", 200, 1),
    _sfn("GetExecutionHistory", 400, 20),
    _sfn("ListExecutions", 200, 5),
    _sfn("ListStateMachines", 100, 5),
    _sfn("ListStateMachineAliases", 100, 1),
    _sfn("ListStateMachineVersions", 100, 1),
    _sfn("ListTagsForResource", 100, 1),
    _sfn("CreateStateMachine", 100, 1),
    _sfn("CreateStateMachineAlias", 100, 1),
    _sfn("UpdateStateMachine", 100, 1),
    _sfn("UpdateStateMachineAlias", 100, 1),
    _sfn("PublishStateMachineVersion", 100, 1),
    _sfn("DeleteStateMachine", 100, 1),
    _sfn("TagResource", 200, 1),
    Quota(
        "states:StateTransition",
        "Step Functions",
        "state transitions (Standard)",
        "rate",
        5000,
        "transitions/s (refill)",
        STEP_FUNCTIONS,
        True,
        bucket=5000,
        note="every state a Standard execution enters takes one (measured: transitions per ticket)",
    ),
    Quota(
        "states:state-machines",
        "Step Functions",
        "registered state machines",
        "count",
        100_000,
        "state machines",
        STEP_FUNCTIONS,
        True,
        note="the page said 10,000 until 2025; 100,000 now",
    ),
    # ---------------------------------------------------------------- Lambda
    Quota(
        "lambda:concurrent-executions",
        "Lambda",
        "concurrent executions",
        "count",
        1000,
        "executions in flight",
        LAMBDA,
        True,
        note="shared by every function of the account and region",
    ),
    Quota(
        "lambda:resource-policy",
        "Lambda",
        "function resource-based policy size",
        "size",
        20 * 1024,
        "bytes",
        LAMBDA,
        False,
        scope="per function",
    ),
    Quota(
        "lambda:Invoke",
        "Lambda",
        "synchronous Invoke requests per second",
        "rate",
        10_000,
        "requests/s",
        LAMBDA,
        False,
        note="10 x concurrent executions; measured: invocations per ticket (Step Functions' included)",
    ),
    # ---------------------------------------------------------------- IAM and STS
    Quota("iam:roles", "IAM", "roles per account", "count", 1000, "roles", IAM, True, scope="account"),
    Quota(
        "iam:role-trust-policy",
        "IAM",
        "role trust policy length",
        "size",
        2048,
        "characters",
        IAM,
        True,
        scope="per role",
    ),
    Quota(
        "iam:role-inline-policies",
        "IAM",
        "inline policies of a role, total size",
        "size",
        10_240,
        "characters",
        IAM,
        False,
        scope="per role",
    ),
    Quota(
        "sts:AssumeRole",
        "STS",
        "AssumeRole request rate",
        "rate",
        600,
        "requests/s",
        IAM,
        True,
        note="STS request quota per account and region, all STS calls together",
    ),
    # ---------------------------------------------------------------- EventBridge
    Quota(
        "events:rules-per-bus",
        "EventBridge",
        "rules per event bus",
        "count",
        300,
        "rules",
        EVENTBRIDGE,
        True,
        scope="per event bus",
    ),
    Quota(
        "events:PutEvents",
        "EventBridge",
        "PutEvents throttle",
        "rate",
        10_000,
        "requests/s",
        EVENTBRIDGE,
        True,
    ),
    Quota(
        "events:bus-policy",
        "EventBridge",
        "event bus resource policy size",
        "size",
        10_240,
        "bytes",
        EVENTBRIDGE,
        False,
        scope="per event bus",
    ),
    # ---------------------------------------------------------------- Scheduler
    Quota(
        "scheduler:CreateSchedule",
        "EventBridge Scheduler",
        "CreateSchedule request rate",
        "rate",
        1000,
        "requests/s",
        SCHEDULER,
        True,
        note="the newest page says 5,000; 1,000 is what older accounts got",
    ),
    Quota(
        "scheduler:DeleteSchedule",
        "EventBridge Scheduler",
        "DeleteSchedule request rate",
        "rate",
        1000,
        "requests/s",
        SCHEDULER,
        True,
    ),
    Quota(
        "scheduler:Invocation",
        "EventBridge Scheduler",
        "invocations throttle limit",
        "rate",
        1000,
        "target invocations/s",
        SCHEDULER,
        True,
        note="measured: schedules fired per ticket",
    ),
    Quota(
        "scheduler:schedules",
        "EventBridge Scheduler",
        "schedules per account",
        "count",
        1_000_000,
        "schedules",
        SCHEDULER,
        True,
        note="the newest page says 10,000,000",
    ),
    # ---------------------------------------------------------------- Systems Manager
    Quota(
        "ssm:GetParameter",
        "Systems Manager",
        "GetParameter, GetParameters and GetParametersByPath throughput (standard)",
        "rate",
        40,
        "requests/s",
        SSM,
        True,
        apis=("ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"),
        note="shared by the three reads; higher throughput (10,000/s) is a paid setting",
    ),
    Quota(
        "ssm:standard-parameters",
        "Systems Manager",
        "standard parameters per account and region",
        "count",
        10_000,
        "parameters",
        SSM,
        False,
        note="advanced tier: 100,000, charged per parameter",
    ),
    Quota(
        "ssm:parameter-size",
        "Systems Manager",
        "standard parameter value size",
        "size",
        4096,
        "characters",
        SSM,
        False,
        scope="per parameter",
    ),
    # ---------------------------------------------------------------- S3
    Quota(
        "s3:GetObject",
        "S3",
        "GET/HEAD requests per prefix",
        "partition",
        5500,
        "requests/s",
        S3,
        False,
        apis=("s3:GetObject", "s3:HeadObject"),
        scope="per prefix",
    ),
    Quota(
        "s3:PutObject",
        "S3",
        "PUT/COPY/POST/DELETE requests per prefix",
        "partition",
        3500,
        "requests/s",
        S3,
        False,
        apis=("s3:PutObject", "s3:CopyObject", "s3:DeleteObject"),
        scope="per prefix",
    ),
    Quota(
        "s3:bucket-policy",
        "S3",
        "bucket policy size",
        "size",
        20 * 1024,
        "bytes",
        S3,
        False,
        scope="per bucket",
    ),
    # ---------------------------------------------------------------- SQS, SNS, SES
    Quota(
        "sqs:SendMessage",
        "SQS",
        "standard queue API calls",
        "rate",
        float("inf"),
        "requests/s",
        SQS,
        False,
        note="standard queues: nearly unlimited calls per second per API action",
    ),
    Quota(
        "sns:Publish",
        "SNS",
        "Publish request rate (us-east-1)",
        "rate",
        30_000,
        "requests/s",
        SNS,
        True,
    ),
    Quota(
        "sns:sms-rate",
        "SNS",
        "SMS messages sent per second",
        "rate",
        20,
        "messages/s",
        SNS,
        True,
        apis=("sns:Publish",),
        note="counted as every Publish (the product publishes SMS only)",
    ),
    Quota(
        "ses:SendEmail",
        "SES",
        "sending rate (out of the sandbox, starting quota)",
        "rate",
        14,
        "messages/s",
        SES,
        True,
        note="the sandbox allows 1/s and 200 a day; the rate grows with a good sending history",
    ),
    # ---------------------------------------------------------------- DynamoDB
    Quota(
        "dynamodb:partition-write",
        "DynamoDB",
        "write throughput per partition",
        "partition",
        1000,
        "WCU/s",
        DYNAMODB,
        False,
        scope="per partition key value (one partition)",
        note="a partition key value's items live on one partition until adaptive splitting",
    ),
    Quota(
        "dynamodb:partition-read",
        "DynamoDB",
        "read throughput per partition",
        "partition",
        3000,
        "RCU/s",
        DYNAMODB,
        False,
        scope="per partition key value (one partition)",
    ),
    Quota(
        "dynamodb:table-write",
        "DynamoDB",
        "on-demand table write throughput",
        "rate",
        40_000,
        "WRU/s",
        DYNAMODB,
        True,
        apis=("dynamodb:wru",),
        scope="per table",
    ),
    Quota(
        "dynamodb:table-read",
        "DynamoDB",
        "on-demand table read throughput",
        "rate",
        40_000,
        "RRU/s",
        DYNAMODB,
        True,
        apis=("dynamodb:rru",),
        scope="per table",
    ),
    Quota(
        "dynamodb:item-size",
        "DynamoDB",
        "item size",
        "size",
        400 * 1024,
        "bytes",
        DYNAMODB,
        False,
        scope="per item",
    ),
    # ---------------------------------------------------------------- CloudFormation
    Quota(
        "cloudformation:stacks",
        "CloudFormation",
        "stacks per account and region",
        "count",
        2000,
        "stacks",
        CLOUDFORMATION,
        True,
    ),
    Quota(
        "cloudformation:resources-per-stack",
        "CloudFormation",
        "resources per stack",
        "count",
        500,
        "resources",
        CLOUDFORMATION,
        False,
        scope="per stack",
    ),
    # ---------------------------------------------------------------- CloudWatch
    Quota(
        "cloudwatch:PutMetricData",
        "CloudWatch",
        "PutMetricData request rate",
        "rate",
        500,
        "requests/s",
        CLOUDWATCH,
        True,
        note="the functions publish metrics as EMF log lines, which do not call this API",
    ),
    Quota(
        "cloudwatch:alarms",
        "CloudWatch",
        "metric alarms per account and region",
        "count",
        1_000_000,
        "alarms",
        CLOUDWATCH,
        True,
    ),
    Quota(
        "cloudwatch:dashboards",
        "CloudWatch",
        "dashboards per account",
        "count",
        5000,
        "dashboards",
        CLOUDWATCH,
        True,
    ),
    # ---------------------------------------------------------------- API Gateway
    Quota(
        "apigw:request",
        "API Gateway",
        "HTTP API throttle per account and region",
        "rate",
        10_000,
        "requests/s",
        API_GATEWAY,
        True,
        bucket=5000,
        note="burst 5,000",
    ),
)

BY_KEY: dict[str, Quota] = {q.key: q for q in QUOTAS}


def quota(key: str) -> Quota:
    """The quota named ``key`` (raises ``KeyError`` naming the known ones on a typo)."""
    try:
        return BY_KEY[key]
    except KeyError:
        raise KeyError(f"no quota {key!r}; known: {', '.join(sorted(BY_KEY))}") from None


def rate_quota_of(api: str) -> Quota | None:
    """The account-wide rate quota a call (``service:Operation``) takes from, if any."""
    for q in QUOTAS:
        if q.kind == "rate" and api in q.calls:
            return q
    return None


# ---------------------------------------------------------------- data plane / control plane
_DATA_PLANE_SERVICES = frozenset({"dynamodb", "sqs", "sns", "ses", "s3", "events", "scheduler", "logs"})
"""Services whose every API the product calls is a data-plane request (items, messages, objects,
events, one-time schedules)."""
_CONTROL_PLANE_SERVICES = frozenset({"iam", "cloudformation", "apigateway", "servicequotas"})
_STATES_DATA = frozenset(
    {
        "StartExecution",
        "StartSyncExecution",
        "SendTaskSuccess",
        "SendTaskFailure",
        "SendTaskHeartbeat",
        "StopExecution",
        "RedriveExecution",
    }
)
_LAMBDA_DATA = frozenset({"Invoke", "InvokeAsync", "InvokeWithResponseStream"})


def plane(api: str) -> Plane:
    """Whether a call (``service:Operation``) is a data-plane request or a control-plane one.

    The rule AWS's own quota tables follow: a control-plane API manages or describes resources
    (``Describe*``, ``List*``, ``Create*``, ``Publish*``, ``Update*``, ``AddPermission``, every IAM
    and CloudFormation call) and has a low refill rate; a data-plane API works on the data the
    resources hold. ``sts:AssumeRole`` and ``ssm:GetParameter*`` are data-plane reads with low
    account-wide rates (their quotas are in :data:`QUOTAS`, so the twin still limits them).
    """
    service, _, operation = api.partition(":")
    if service == "states":
        return "data" if operation in _STATES_DATA else "control"
    if service == "lambda":
        return "data" if operation in _LAMBDA_DATA else "control"
    if service in ("sts", "ssm", "cloudwatch"):
        return "data" if operation.startswith(("Get", "AssumeRole", "Put")) else "control"
    if service in _CONTROL_PLANE_SERVICES:
        return "control"
    if service in _DATA_PLANE_SERVICES:
        if service == "scheduler" and operation not in ("CreateSchedule", "DeleteSchedule", "GetSchedule"):
            return "control"  # schedule groups, tags, ListSchedules
        if service == "events" and operation != "PutEvents":
            return "control"  # rules, targets, buses
        if service == "dynamodb" and operation.startswith(("Describe", "List", "Create", "Update", "Delete")):
            return "data" if operation in ("UpdateItem", "DeleteItem") else "control"
        return "data"
    return "control" if operation.startswith(("Describe", "List", "Create", "Update", "Delete")) else "data"


MEASURES = frozenset(
    {
        "states:StateTransition",
        "scheduler:Invocation",
        "lambda:Invoke",
        "dynamodb:wru",
        "dynamodb:rru",
        "apigw:request",
    }
)
"""Rate keys that are not a call the product makes but a figure the benchmark measures per ticket
(transitions, schedules fired, invocations, request units, HTTP requests)."""


def enforced_buckets() -> dict[str, Quota]:
    """Call -> the quota whose token bucket the twin keeps for it: the rate quotas of calls the
    product makes from functions, where exceeding the quota throttles the call itself (not the
    table-, message- or invocation-level quotas, which the model computes instead)."""
    found: dict[str, Quota] = {}
    for q in QUOTAS:
        if q.kind != "rate" or q.value == float("inf"):
            continue
        if q.service not in ("Step Functions", "STS", "Systems Manager", "EventBridge Scheduler"):
            continue
        for api in q.calls:
            if api not in MEASURES:
                found[api] = q
    return found
