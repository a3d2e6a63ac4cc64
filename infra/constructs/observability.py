"""Dashboards and alarms, built from the metric catalogue (``shared/metrics.py``).

The widget definitions (``TENANT_WIDGETS``, ``PLATFORM_WIDGETS``) are plain data shared by the two
renderers: the CDK constructs below (CloudWatch dashboards) and the local twin's
``/_local/dashboard`` (``infra/twin/dashboard.py``, inline SVG from the twin's captured EMF).

- Catalogue metrics (namespace ``Scrm``) become CloudWatch Metrics Insights queries over the
  metric's one dimension set: ``SELECT SUM("TicketsCreated") FROM SCHEMA("Scrm", channel, tenant,
  ticket_type) WHERE tenant = 'acme-home' GROUP BY ticket_type``; new channels, types, tiers and
  regions appear without a deploy.
- AWS service metrics name what they are about: every platform ``function``, the ``intake`` queue,
  every dead-letter queue (``dlq``: one line per queue of ``DEAD_LETTER_QUEUES``), the HTTP
  ``api``, the tenant's (or every) ``state_machine``.

Alarms, all to the ops topic ``scrm-platform-alarms``: depth > 0 of every dead-letter queue,
errors > 0 per function, API 5xx > 0 (platform stack); failed executions > 0 per ticket type
(tenant stack).

Gauges: the platform stack holds ONE EventBridge rule, ``scrm-open-tickets``, that invokes
``scrm-ticket-gauges`` every 5 minutes with ``{}``; the function measures every deployed tenant's
``OpenTickets`` gauge (one Query of the open-tickets index each, in that tenant's scope). A rule and a
Lambda permission per tenant would break at scale (issue 16): 300 rules per bus, and a function's
resource policy, which holds every permission, is capped at 20 KB (about 50 tenants). The one
permission names the platform rule as its only source; a tenant stack adds no rule and no permission.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aws_cdk import Duration, Stack, Validations
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.catalogue import FUNCTIONS_BY_KEY
from infra.constructs.nag import ack
from infra.constructs.workflows import Workflow, pascal
from shared import metrics as m
from shared.metrics import NAMESPACE, Metric

ALARM_TOPIC = "scrm-platform-alarms"
PERIOD = Duration.minutes(5)
GAUGE_RATE = Duration.minutes(5)
GAUGE_KEY = "ticket-gauges"
GAUGE_FUNCTION = FUNCTIONS_BY_KEY[GAUGE_KEY].name
GAUGE_RULE = "scrm-open-tickets"
"""The platform rule of the gauges (``rate(5 minutes)``, input ``{}``: every deployed tenant)."""
DEAD_LETTER_QUEUES = {
    "intake": "deliveries that failed 5 times in scrm-ticket-intake",
    "reminders": "schedules (SLA reminders, dispatch offers) whose target failed past their retry policy",
    "recovery": "stopped executions (FAILED, TIMED_OUT, ABORTED) whose ticket scrm-ticket-failed could not "
    "mark failed past the retries (a ticket in limbo: redrive it)",
    "aggregates": "stream batches of settlement records scrm-settlement-aggregates could not fold into the "
    "revenue aggregates past its retries (fold them again from the stream within 24 h: it is exactly-once)",
    "events": "stream batches of history lines / settlement records scrm-ticket-publish could not put on "
    "scrm-events past its retries (publish them again from the stream within 24 h: event ids are stable)",
    "webhooks": "outbound webhooks a tenant's endpoint refused (a 4xx) or that failed every retry; the "
    "message attribute `reason` says which (fix the endpoint or the subscription, then redrive)",
}
"""Every dead-letter queue of the platform (key: the construct that owns it) and what waits in it."""


# ============================================================================ shared definitions
@dataclass(frozen=True)
class AwsMetric:
    """A metric of an AWS service, about ``per``: function, intake, dlq, api or state_machine."""

    namespace: str
    name: str
    per: str


@dataclass(frozen=True)
class Series:
    """One metric on a chart: a catalogue ``Metric`` or an ``AwsMetric``, one line per ``group_by``."""

    metric: Metric | AwsMetric
    label: str
    stat: str = "Sum"  # Sum, Average, Maximum, p95
    group_by: str | tuple[str, ...] | None = None

    @property
    def name(self) -> str:
        return self.metric.name

    @property
    def groups(self) -> tuple[str, ...]:
        """The dimensions of ``group_by``: one line per combination of their values."""
        if self.group_by is None:
            return ()
        return (self.group_by,) if isinstance(self.group_by, str) else self.group_by

    @property
    def namespace(self) -> str:
        return self.metric.namespace if isinstance(self.metric, AwsMetric) else NAMESPACE


@dataclass(frozen=True)
class Widget:
    title: str
    series: tuple[Series, ...]
    unit: str = "count"
    width: int = 12


@dataclass(frozen=True)
class AlarmSpec:
    name: str
    description: str
    threshold: float
    comparison: str = "GreaterThanThreshold"
    per: str = ""  # one alarm per "function", per dead-letter queue ("dlq"), per type ("state_machine")
    metric: AwsMetric | None = field(default=None)


def _money_by_tier_and_region(title: str, metric: Metric) -> Widget:
    """A settlement amount, one line per tier and one per region."""
    return Widget(
        title,
        (Series(metric, "tier", group_by="tier"), Series(metric, "region", group_by="region")),
        unit="currency",
    )


_STATES = "AWS/States"
TENANT_WIDGETS: tuple[Widget, ...] = (
    Widget(
        "Intake by channel",
        (
            Series(m.DELIVERIES_RECEIVED, "received", group_by="channel"),
            Series(m.DELIVERIES_DUPLICATE, "duplicate", group_by="channel"),
        ),
    ),
    Widget("Refused deliveries by reason", (Series(m.DELIVERIES_REFUSED, "refused", group_by="reason"),)),
    Widget("Tickets created by type", (Series(m.TICKETS_CREATED, "created", group_by="ticket_type"),)),
    Widget(
        "Tickets closed by type, failed by node",
        (
            Series(m.TICKETS_CLOSED, "closed", group_by="ticket_type"),
            Series(m.TICKETS_FAILED, "failed", group_by="node"),
        ),
    ),
    Widget(
        "Open tickets by node",
        # a gauge (every 5 minutes): the period's maximum, one line per ticket type and node
        (Series(m.OPEN_TICKETS, "open", stat="Maximum", group_by=("ticket_type", "node")),),
    ),
    Widget("Actions taken by node", (Series(m.ACTIONS_TAKEN, "actions", group_by="node"),)),
    Widget(
        "SLA reminders and breaches by level",
        (
            Series(m.SLA_REMINDERS_SENT, "reminders", group_by="level"),
            Series(m.SLA_BREACHES, "breaches", group_by="level"),
        ),
    ),
    Widget("Dispatch outcomes", (Series(m.DISPATCH_OUTCOME, "dispatch", group_by="outcome"),)),
    Widget(
        "Dispatch latency",
        (
            Series(m.DISPATCH_LATENCY, "average", stat="Average"),
            Series(m.DISPATCH_LATENCY, "max", stat="Maximum"),
        ),
        unit="ms",
    ),
    # the sales pipeline (工单商机联动): opportunities opened (stage new), won and lost, by kind
    Widget(
        "Opportunity pipeline by stage",
        (Series(m.OPPORTUNITIES, "opportunities", group_by=("stage", "kind")),),
    ),
    Widget(
        "Opportunity amount by stage",
        (Series(m.OPPORTUNITY_AMOUNT, "amount", group_by=("stage", "kind")),),
        unit="currency",
    ),
    _money_by_tier_and_region("Revenue by tier and region", m.REVENUE),
    _money_by_tier_and_region("Installer earnings by tier and region", m.INSTALLER_EARNINGS),
    Widget(
        "Settlements by tier",
        (
            Series(m.TICKETS_SETTLED, "settled", group_by="tier"),
            Series(m.SETTLEMENT_ADJUSTMENTS, "adjusted", group_by="tier"),
        ),
    ),
    Widget(
        "Workflow executions",
        tuple(
            Series(AwsMetric(_STATES, f"Executions{what}", "state_machine"), what.lower())
            for what in ("Started", "Succeeded", "Failed", "TimedOut")
        ),
    ),
)

_LAMBDA, _SQS, _API = "AWS/Lambda", "AWS/SQS", "AWS/ApiGateway"
PLATFORM_WIDGETS: tuple[Widget, ...] = (
    Widget("Lambda errors per function", (Series(AwsMetric(_LAMBDA, "Errors", "function"), "errors"),)),
    Widget(
        "Lambda throttles per function", (Series(AwsMetric(_LAMBDA, "Throttles", "function"), "throttles"),)
    ),
    Widget(
        "Lambda duration p95 per function",
        (Series(AwsMetric(_LAMBDA, "Duration", "function"), "p95", stat="p95"),),
        unit="ms",
    ),
    Widget(
        "Intake queue",
        (
            Series(AwsMetric(_SQS, "ApproximateAgeOfOldestMessage", "intake"), "oldest (s)", stat="Maximum"),
            Series(AwsMetric(_SQS, "NumberOfMessagesSent", "intake"), "sent"),
        ),
    ),
    Widget(
        "DLQ depth",
        (Series(AwsMetric(_SQS, "ApproximateNumberOfMessagesVisible", "dlq"), "depth", stat="Maximum"),),
    ),
    Widget(
        "Executions failed or timed out",
        tuple(
            Series(AwsMetric(_STATES, f"Executions{what}", "state_machine"), what.lower())
            for what in ("Started", "Failed", "TimedOut")
        ),
    ),
    Widget(
        "HTTP API 4xx and 5xx",
        (Series(AwsMetric(_API, "4xx", "api"), "4xx"), Series(AwsMetric(_API, "5xx", "api"), "5xx")),
    ),
    Widget(
        "HTTP API latency",
        (
            Series(AwsMetric(_API, "Latency", "api"), "p95", stat="p95"),
            Series(AwsMetric(_API, "Latency", "api"), "average", stat="Average"),
        ),
        unit="ms",
    ),
)

DLQ_ALARM = AlarmSpec(
    "scrm-{key}-dlq-depth",
    "messages wait in the {key} dead-letter queue: {what}",
    0,
    per="dlq",
    metric=AwsMetric(_SQS, "ApproximateNumberOfMessagesVisible", "dlq"),
)
FUNCTION_ERRORS_ALARM = AlarmSpec(
    "scrm-{key}-errors",
    "scrm-{key} raised errors (unhandled exceptions, timeouts)",
    0,
    per="function",
    metric=AwsMetric(_LAMBDA, "Errors", "function"),
)
API_5XX_ALARM = AlarmSpec(
    "scrm-api-5xx", "the HTTP API answered 5xx (a function failed)", 0, metric=AwsMetric(_API, "5xx", "api")
)
FAILED_EXECUTIONS_ALARM = AlarmSpec(
    "scrm-{tenant}-{type}-failed",
    "executions of {tenant}/{type} failed (ticket marked failed)",
    0,
    per="state_machine",
    metric=AwsMetric(_STATES, "ExecutionsFailed", "state_machine"),
)
PLATFORM_ALARMS = (DLQ_ALARM, FUNCTION_ERRORS_ALARM, API_5XX_ALARM)
TENANT_ALARMS = (FAILED_EXECUTIONS_ALARM,)


def catalogue_metrics(widgets: tuple[Widget, ...]) -> set[str]:
    """Names of the catalogue metrics the widgets show."""
    return {s.metric.name for w in widgets for s in w.series if isinstance(s.metric, Metric)}


# ============================================================================ CloudWatch rendering
_INSIGHTS_STAT = {"Sum": "SUM", "Average": "AVG", "Maximum": "MAX", "Minimum": "MIN"}


def insights_query(series: Series, tenant: str | None = None) -> str:
    """The Metrics Insights query of a catalogue series (on one tenant, or every tenant)."""
    metric = series.metric
    assert isinstance(metric, Metric)
    schema = ", ".join([f'"{NAMESPACE}"', *sorted(metric.dimensions)])
    query = f'SELECT {_INSIGHTS_STAT[series.stat]}("{metric.name}") FROM SCHEMA({schema})'
    if tenant is not None:
        query += f" WHERE tenant = '{tenant}'"
    if series.groups:
        missing = [g for g in series.groups if g not in metric.dimensions]
        if missing:
            raise ValueError(f"{metric.name} has no dimension {', '.join(missing)}")
        query += f" GROUP BY {', '.join(series.groups)}"
    return query


def _insights(series: Series, tenant: str | None) -> cw.IMetric:
    return cw.MathExpression(
        expression=insights_query(series, tenant),
        using_metrics={},
        label=series.label,
        period=PERIOD,
    )


def _alarm_topic_action(topic: sns.ITopic) -> cw_actions.SnsAction:
    return cw_actions.SnsAction(topic)


def _comparison(spec: AlarmSpec) -> cw.ComparisonOperator:
    snake = "".join(f"_{c}" if c.isupper() else c.upper() for c in spec.comparison).lstrip("_")
    return cw.ComparisonOperator[snake]  # "GreaterThanThreshold" -> GREATER_THAN_THRESHOLD


def _alarm(
    scope: Construct,
    cid: str,
    spec: AlarmSpec,
    metric: cw.IMetric,
    action: cw_actions.SnsAction,
    **names: str,
) -> cw.Alarm:
    alarm = cw.Alarm(
        scope,
        cid,
        alarm_name=spec.name.format(**names),
        alarm_description=spec.description.format(**names),
        metric=metric,
        threshold=spec.threshold,
        evaluation_periods=1,
        comparison_operator=_comparison(spec),
        treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
    )
    alarm.add_alarm_action(action)
    return alarm


def alarm_topic_arn(scope: Construct) -> str:
    return Stack.of(scope).format_arn(service="sns", resource=ALARM_TOPIC)


def _graph(widget: Widget, metrics: list[cw.IMetric]) -> cw.GraphWidget:
    return cw.GraphWidget(
        title=widget.title,
        left=metrics,
        left_y_axis=cw.YAxisProps(label=widget.unit, show_units=False),
        width=widget.width,
        height=6,
    )


def _add_rows(dashboard: cw.Dashboard, widgets: list[cw.IWidget]) -> None:
    for i in range(0, len(widgets), 2):
        dashboard.add_widgets(*widgets[i : i + 2])


class PlatformObservability(Construct):
    """Platform dashboard ``scrm-platform``, the platform alarms (to the ops topic) and the one
    5-minute rule of the ``OpenTickets`` gauges of every tenant."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Mapping[str, lambda_.IFunction],
        intake_queue: sqs.IQueue,
        dlqs: Mapping[str, sqs.IQueue],
        http_api: apigwv2.IHttpApi,
    ) -> None:
        """``dlqs``: every dead-letter queue, by its key in ``DEAD_LETTER_QUEUES``."""
        super().__init__(scope, construct_id)
        if set(dlqs) != set(DEAD_LETTER_QUEUES):
            raise ValueError(f"dlqs: one per key of DEAD_LETTER_QUEUES {sorted(DEAD_LETTER_QUEUES)}")
        self.alarm_topic = sns.Topic(self, "AlarmTopic", topic_name=ALARM_TOPIC, enforce_ssl=True)
        Validations.of(self.alarm_topic).acknowledge(
            ack(
                "AwsSolutions-SNS2",
                "CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed SNS key; "
                "alarm notifications carry alarm names and states only, no customer data",
            )
        )
        self._functions, self._queues, self._api = functions, {"intake": intake_queue}, http_api
        self._dlqs = dict(dlqs)
        action = _alarm_topic_action(self.alarm_topic)

        self.dlq_alarms: dict[str, cw.Alarm] = {
            key: _alarm(
                self,
                # the intake alarm keeps its first id: a new one would replace an alarm of a fixed name
                "DlqDepth" if key == "intake" else f"{pascal(key)}DlqDepth",
                DLQ_ALARM,
                queue.metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic="Maximum", label=key
                ),
                action,
                key=key,
                what=DEAD_LETTER_QUEUES[key],
            )
            for key, queue in sorted(self._dlqs.items())
        }
        self.api_alarm = _alarm(self, "Api5xx", API_5XX_ALARM, self._one(API_5XX_ALARM, "Sum"), action)
        self.error_alarms: dict[str, cw.Alarm] = {
            key: _alarm(
                self,
                f"{pascal(key)}Errors",
                FUNCTION_ERRORS_ALARM,
                fn.metric_errors(period=PERIOD, label=key),
                action,
                key=key,
            )
            for key, fn in functions.items()
        }

        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name="scrm-platform")
        widgets: list[cw.IWidget] = [_graph(w, self._metrics(w)) for w in PLATFORM_WIDGETS]
        widgets.append(
            cw.GraphWidget(
                title="Intake by channel, every tenant",
                left=[_insights(Series(m.DELIVERIES_RECEIVED, "received", group_by="channel"), None)],
                width=12,
                height=6,
            )
        )
        widgets.append(
            cw.AlarmStatusWidget(
                title="Alarms",
                alarms=[*self.dlq_alarms.values(), self.api_alarm, *self.error_alarms.values()],
                width=12,
                height=6,
            )
        )
        _add_rows(self.dashboard, widgets)
        self._gauge_rule(functions[GAUGE_KEY])

    def _gauge_rule(self, gauges: lambda_.IFunction) -> events.Rule:
        """EventBridge rule -> ``scrm-ticket-gauges`` every 5 minutes with ``{}`` (every deployed
        tenant); the Lambda permission CDK adds for the target names this rule as its only source."""
        return events.Rule(
            self,
            "OpenTicketsGauge",
            rule_name=GAUGE_RULE,
            description=f"every 5 minutes: the OpenTickets gauges of every tenant ({GAUGE_FUNCTION})",
            schedule=events.Schedule.rate(GAUGE_RATE),
            targets=[
                targets.LambdaFunction(
                    gauges,
                    event=events.RuleTargetInput.from_object({}),
                    # a late gauge is a wrong gauge: the next run measures again
                    max_event_age=GAUGE_RATE,
                    retry_attempts=2,
                )
            ],
        )

    def _one(self, spec: AlarmSpec, statistic: str) -> cw.IMetric:
        assert spec.metric is not None
        (metric,) = self._aws(Series(spec.metric, spec.metric.name, stat=statistic))
        return metric

    def _metrics(self, widget: Widget) -> list[cw.IMetric]:
        return [metric for series in widget.series for metric in self._aws(series)]

    def _aws(self, series: Series) -> list[cw.IMetric]:
        aws = series.metric
        if not isinstance(aws, AwsMetric):
            return [_insights(series, None)]
        opts = {"period": PERIOD, "statistic": series.stat}
        if aws.per == "function":
            return [
                fn.metric(aws.name, label=key, **opts)  # type: ignore[arg-type]
                for key, fn in sorted(self._functions.items())
            ]
        if aws.per in self._queues:
            return [self._queues[aws.per].metric(aws.name, label=series.label, **opts)]  # type: ignore[arg-type]
        if aws.per == "dlq":
            return [
                queue.metric(aws.name, label=key, **opts)  # type: ignore[arg-type]
                for key, queue in sorted(self._dlqs.items())
            ]
        if aws.per == "api":
            return [self._api.metric(aws.name, label=series.label, **opts)]  # type: ignore[arg-type]
        if aws.per == "state_machine":
            search = f'{{{aws.namespace},StateMachineArn}} MetricName="{aws.name}"'
            return [
                cw.MathExpression(
                    expression=f"SEARCH('{search}', '{series.stat}', 300)",
                    using_metrics={},
                    label=series.label,
                    period=PERIOD,
                )
            ]
        raise ValueError(f"unknown metric subject {aws.per!r}")


class TenantObservability(Construct):
    """Tenant dashboard ``scrm-tenant-<id>`` (catalogue metrics of the tenant, executions per type) and
    an alarm on failed executions of each ticket type, to the ops topic. No rule: the platform's
    gauge rule measures every tenant."""

    def __init__(
        self, scope: Construct, construct_id: str, *, tenant_id: str, workflows: Mapping[str, Workflow]
    ) -> None:
        super().__init__(scope, construct_id)
        self._tenant, self._workflows = tenant_id, workflows
        action = _alarm_topic_action(sns.Topic.from_topic_arn(self, "AlarmTopic", alarm_topic_arn(self)))
        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=f"scrm-tenant-{tenant_id}")
        self.alarms: dict[str, cw.Alarm] = {}
        for type_id, workflow in workflows.items():
            self.alarms[type_id] = _alarm(
                self,
                f"{pascal(type_id)}Failed",
                FAILED_EXECUTIONS_ALARM,
                self._execution_metric("ExecutionsFailed", "failed", "Sum", workflow.arn),
                action,
                tenant=tenant_id,
                type=type_id,
            )
        _add_rows(self.dashboard, [_graph(w, self._metrics(w)) for w in TENANT_WIDGETS])

    @staticmethod
    def _execution_metric(name: str, label: str, statistic: str, arn: str) -> cw.Metric:
        return cw.Metric(
            namespace=_STATES,
            metric_name=name,
            dimensions_map={"StateMachineArn": arn},
            statistic=statistic,
            period=PERIOD,
            label=label,
        )

    def _metrics(self, widget: Widget) -> list[cw.IMetric]:
        out: list[cw.IMetric] = []
        for series in widget.series:
            if isinstance(series.metric, Metric):
                out.append(_insights(series, self._tenant))
            elif series.metric.per == "state_machine":
                out += [
                    self._execution_metric(series.name, f"{type_id} {series.label}", series.stat, wf.arn)
                    for type_id, wf in sorted(self._workflows.items())
                ]
            else:
                raise ValueError(f"a tenant dashboard shows no {series.metric.per} metrics")
        return out
