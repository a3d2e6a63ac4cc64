"""Dashboards and alarms: modest for now (intake, errors, DLQ; executions per workflow).

Metric names the functions emit (powertools, namespace ``Scrm``) that the platform
dashboard reads: ``DeliveriesReceived`` (webhooks, dimension ``channel``) and
``TicketsCreated`` (ticket intake/API, dimension ``channel``). SEARCH expressions pick up
whatever dimension set they carry, so new tenants and channels appear without a deploy.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, Stack, Validations
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.functions import METRICS_NAMESPACE, ack
from infra.constructs.workflows import Workflow, pascal

ALARM_TOPIC = "scrm-platform-alarms"
PERIOD = Duration.minutes(5)


def alarm_topic_arn(scope: Construct) -> str:
    return Stack.of(scope).format_arn(service="sns", resource=ALARM_TOPIC)


def _search(metric_name: str, label: str) -> cw.MathExpression:
    return cw.MathExpression(
        expression=f"SEARCH('Namespace=\"{METRICS_NAMESPACE}\" MetricName=\"{metric_name}\"', 'Sum', 300)",
        using_metrics={},
        label=label,
        period=PERIOD,
    )


class PlatformObservability(Construct):
    """Platform dashboard ``scrm-platform``, alarms on DLQ depth and function errors."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Mapping[str, lambda_.IFunction],
        intake_queue: sqs.IQueue,
        dlq: sqs.IQueue,
        http_api: apigwv2.IHttpApi,
    ) -> None:
        super().__init__(scope, construct_id)
        self.alarm_topic = sns.Topic(self, "AlarmTopic", topic_name=ALARM_TOPIC, enforce_ssl=True)
        Validations.of(self.alarm_topic).acknowledge(
            ack(
                "AwsSolutions-SNS2",
                "CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed SNS key; "
                "alarm notifications carry alarm names and states only, no customer data",
            )
        )
        action = cw_actions.SnsAction(self.alarm_topic)

        dlq_depth = dlq.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum")
        self.dlq_alarm = cw.Alarm(
            self,
            "DlqDepth",
            alarm_name="scrm-intake-dlq-depth",
            alarm_description="deliveries failed 5 times and wait in the intake dead-letter queue",
            metric=dlq_depth,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        self.dlq_alarm.add_alarm_action(action)

        errors = {key: fn.metric_errors(period=PERIOD, label=key) for key, fn in functions.items()}
        self.error_alarms: dict[str, cw.Alarm] = {}
        for key, metric in errors.items():
            alarm = cw.Alarm(
                self,
                f"{pascal(key)}Errors",
                alarm_name=f"scrm-{key}-errors",
                alarm_description=f"scrm-{key} raised errors (unhandled exceptions, timeouts)",
                metric=metric,
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(action)
            self.error_alarms[key] = alarm

        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name="scrm-platform")
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Intake by channel",
                left=[_search("DeliveriesReceived", "")],
                width=12,
            ),
            cw.GraphWidget(
                title="Intake queue",
                left=[
                    intake_queue.metric_number_of_messages_sent(period=PERIOD, label="sent"),
                    intake_queue.metric_approximate_number_of_messages_visible(
                        period=PERIOD, label="waiting"
                    ),
                    intake_queue.metric_approximate_age_of_oldest_message(period=PERIOD, label="oldest (s)"),
                ],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Errors per function", left=list(errors.values()), width=12),
            cw.GraphWidget(title="Intake DLQ depth", left=[dlq_depth], width=6),
            cw.AlarmStatusWidget(
                title="Alarms", alarms=[self.dlq_alarm, *self.error_alarms.values()], width=6, height=6
            ),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="HTTP API",
                left=[
                    http_api.metric_client_error(period=PERIOD, label="4xx"),
                    http_api.metric_server_error(period=PERIOD, label="5xx"),
                ],
                right=[http_api.metric_latency(period=PERIOD, statistic="p90", label="latency p90")],
                width=12,
            ),
            cw.GraphWidget(
                title="Tickets created by channel", left=[_search("TicketsCreated", "")], width=12
            ),
        )


class TenantObservability(Construct):
    """Tenant dashboard ``scrm-tenant-<id>``: executions started/failed per state machine."""

    def __init__(
        self, scope: Construct, construct_id: str, *, tenant_id: str, workflows: Mapping[str, Workflow]
    ) -> None:
        super().__init__(scope, construct_id)
        alarm_topic = sns.Topic.from_topic_arn(self, "AlarmTopic", alarm_topic_arn(self))
        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=f"scrm-tenant-{tenant_id}")
        self.alarms: dict[str, cw.Alarm] = {}
        widgets: list[cw.IWidget] = []
        for type_id, workflow in workflows.items():

            def metric(name: str, label: str, arn: str = workflow.arn) -> cw.Metric:
                return cw.Metric(
                    namespace="AWS/States",
                    metric_name=name,
                    dimensions_map={"StateMachineArn": arn},
                    statistic="Sum",
                    period=PERIOD,
                    label=label,
                )

            failed = metric("ExecutionsFailed", "failed")
            widgets.append(
                cw.GraphWidget(
                    title=f"{type_id}: executions",
                    left=[
                        metric("ExecutionsStarted", "started"),
                        metric("ExecutionsSucceeded", "succeeded"),
                        failed,
                        metric("ExecutionsTimedOut", "timed out"),
                        metric("ExecutionsAborted", "aborted"),
                    ],
                    width=12,
                )
            )
            alarm = cw.Alarm(
                self,
                f"{pascal(type_id)}Failed",
                alarm_name=f"scrm-{tenant_id}-{type_id}-failed",
                alarm_description=f"executions of {tenant_id}/{type_id} failed (ticket marked failed)",
                metric=failed,
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(cw_actions.SnsAction(alarm_topic))
            self.alarms[type_id] = alarm
        for i in range(0, len(widgets), 2):
            self.dashboard.add_widgets(*widgets[i : i + 2])
