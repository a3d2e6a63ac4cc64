"""The two kinds of stack: the platform (once per account/region) and one per tenant.

A stack only assembles constructs, tags them and declares its outputs. Output logical ids
are fixed (``TableName``, ``ApiUrl``, ...) so tests and the local twin can read them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_cdk import CfnOutput, Stack, Tags
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from infra.constructs.aggregates import RevenueAggregates
from infra.constructs.api import Api
from infra.constructs.bundling import function_code
from infra.constructs.console import Console
from infra.constructs.events_out import EventsOut
from infra.constructs.functions import PlatformFunctions
from infra.constructs.intake import Intake
from infra.constructs.observability import PlatformObservability, TenantObservability
from infra.constructs.recovery import ExecutionRecovery
from infra.constructs.reminders import Reminders
from infra.constructs.table import DataTable
from infra.constructs.tenant_config import TenantConfigBucket, TenantConfiguration
from infra.constructs.tenant_data import TABLE_ARN_EXPORT, TenantDataAccess
from infra.constructs.workflows import TenantWorkflows, WorkflowRole, pascal

if TYPE_CHECKING:
    from shared.tenant.models import TenantConfig

PLATFORM_STACK = "ScrmPlatform"
TENANT_STACK_PREFIX = "ScrmTenant-"


def tenant_stack_id(tenant_id: str) -> str:
    return f"{TENANT_STACK_PREFIX}{tenant_id}"


def _output(stack: Stack, name: str, value: str, description: str) -> CfnOutput:
    output = CfnOutput(stack, name, value=value, description=description)
    output.override_logical_id(name)
    return output


def _sign_in_through_console(api: Api, console: Console) -> None:
    """The hosted UI's domain serves every app client of the pool that allows OAuth: only the
    console's may (the API's own client gets CDK's default OAuth settings, implicit grant to
    https://example.com: turned off). The API's JWT authorizer, made with the API's client only,
    accepts the console's ID tokens too (their ``aud`` is the console's client)."""
    web_client = api.client.node.default_child
    assert isinstance(web_client, cognito.CfnUserPoolClient)
    web_client.add_property_override("AllowedOAuthFlowsUserPoolClient", False)
    for name in ("AllowedOAuthFlows", "AllowedOAuthScopes", "CallbackURLs"):
        web_client.add_property_deletion_override(name)
    authorizer = api.http_api.node.find_child("Jwt").node.default_child
    assert isinstance(authorizer, apigwv2.CfnAuthorizer)
    authorizer.add_property_override(
        "JwtConfiguration.Audience", [api.client.user_pool_client_id, console.client.user_pool_client_id]
    )


def _component(construct: Construct, name: str) -> None:
    Tags.of(construct).add("scrm:component", name)


class PlatformStack(Stack):
    """Table, functions, HTTP API, intake queue, reminders, the stopped-executions rule, the tenants'
    data-access roles and workflow role, the gauges' rule, platform dashboard and alarms, and the web
    console (one for every tenant of the cell)."""

    def __init__(self, scope: Construct, construct_id: str, *, bundle: bool = True, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, description="scrm work orders: platform", **kwargs)
        data = DataTable(self, "Data")
        intake = Intake(self, "Intake")
        reminders = Reminders(self, "Reminders")
        tenant_configs = TenantConfigBucket(self, "TenantConfigs")  # written by scrm-ticket-onboard
        # the tenants' data-access roles (ABAC: the session tag names the tenant) and workflow role
        data_access = TenantDataAccess(self, "DataAccess", table=data.table)
        workflow_role = WorkflowRole(self, "Workflows")
        functions = PlatformFunctions(
            self,
            "Functions",
            code=function_code(bundle=bundle),
            table=data.table,
            intake_queue=intake.queue,
            scheduler_group_name=reminders.group_name,
            scheduler_role=reminders.role,
            scheduler_dlq=reminders.dlq,
            tenant_configs=tenant_configs,
        )
        intake.subscribe(functions["ticket-intake"])
        # the revenue aggregates, folded from the table's stream (not in the settlement transaction)
        aggregates = RevenueAggregates(
            self, "RevenueAggregates", table=data.table, function=functions["settlement-aggregates"]
        )
        # domain events out: the table stream -> bus scrm-events -> one rule -> the tenants' webhooks
        events_out = EventsOut(
            self,
            "EventsOut",
            table=data.table,
            publisher=functions["ticket-publish"],
            sender=functions["webhooks-outbound"],
        )
        # the one rule on stopped executions of every tenant's state machines (no ticket in limbo)
        recovery = ExecutionRecovery(self, "Recovery", function=functions["ticket-failed"])
        api = Api(self, "Api", functions=functions.functions)
        observability = PlatformObservability(
            self,
            "Observability",
            functions=functions.functions,
            intake_queue=intake.queue,
            dlqs={
                "intake": intake.dlq,
                "reminders": reminders.dlq,
                "recovery": recovery.dlq,
                "aggregates": aggregates.dlq,
                "events": events_out.events_dlq,
                "webhooks": events_out.webhooks_dlq,
            },
            http_api=api.http_api,
        )
        # the web console (one for every tenant of the cell): S3 + CloudFront + Cognito's hosted UI
        console = Console(self, "Console", http_api=api.http_api, user_pool=api.user_pool, bundle=bundle)
        _sign_in_through_console(api, console)

        Tags.of(self).add("scrm:tenant", "platform")
        for construct, component in (
            (data, "table"),
            (intake, "intake"),
            (reminders, "reminders"),
            (tenant_configs, "tenant-config"),
            (recovery, "recovery"),
            (aggregates, "aggregates"),
            (events_out, "events-out"),
            (functions, "functions"),
            (api, "api"),
            (observability, "observability"),
            (console, "console"),
            (data_access, "data-access"),
            (workflow_role, "workflows"),
        ):
            _component(construct, component)

        self.data_access, self.workflow_role = data_access, workflow_role
        self.data, self.intake, self.reminders, self.recovery = data, intake, reminders, recovery
        self.tenant_configs, self.events_out = tenant_configs, events_out
        self.functions, self.api, self.observability = functions, api, observability
        self.console = console

        _output(self, "TableName", data.table.table_name, "the DynamoDB table (env TABLE_NAME)")
        table_arn = _output(self, "TableArn", data.table.table_arn, "the table's ARN")
        table_arn.export_name = TABLE_ARN_EXPORT
        _output(self, "ApiUrl", api.url, "base URL of the HTTP API")
        _output(
            self,
            "ConfigBucketName",
            tenant_configs.bucket_name,
            "the tenants' configuration objects (versioned)",
        )
        _output(self, "IntakeQueueUrl", intake.queue.queue_url, "SQS intake queue")
        _output(self, "IntakeDlqUrl", intake.dlq.queue_url, "dead-letter queue of the intake queue")
        _output(
            self, "RemindersDlqUrl", reminders.dlq.queue_url, "dead-letter queue of the scheduler's schedules"
        )
        _output(
            self,
            "RecoveryDlqUrl",
            recovery.dlq.queue_url,
            "dead-letter queue of the stopped-executions rule and of scrm-ticket-failed",
        )
        _output(
            self,
            "EventsDlqUrl",
            events_out.events_dlq.queue_url,
            "stream batches not published on scrm-events",
        )
        _output(
            self,
            "WebhooksDlqUrl",
            events_out.webhooks_dlq.queue_url,
            "outbound webhooks refused by their endpoint or out of retries (attribute reason)",
        )
        _output(self, "WebhooksQueueUrl", events_out.queue.queue_url, "outbound webhooks queue")
        _output(self, "EventBusArn", events_out.bus.event_bus_arn, "the domain events bus (docs/events.md)")
        _output(self, "SchedulerGroupName", reminders.group_name, "EventBridge Scheduler group of reminders")
        _output(self, "SchedulerRoleArn", reminders.role.role_arn, "role Scheduler assumes to fire reminders")
        _output(self, "UserPoolId", api.user_pool.user_pool_id, "Cognito user pool of API callers")
        _output(self, "UserPoolClientId", api.client.user_pool_client_id, "Cognito app client")
        _output(self, "ConsoleUrl", console.url, "the web console (CloudFront; sign-in: Cognito's hosted UI)")
        _output(self, "AlarmTopicArn", observability.alarm_topic.topic_arn, "SNS topic of every scrm alarm")


class TenantStack(Stack):
    """One tenant: its state machines, its ``Custom::ScrmTenant`` (configuration object, technicians
    seeded), topic, dashboard, alarms."""

    def __init__(self, scope: Construct, construct_id: str, *, config: TenantConfig, **kwargs: Any) -> None:
        tenant_id = config.tenant.id
        super().__init__(scope, construct_id, description=f"scrm work orders: tenant {tenant_id}", **kwargs)
        self.config = config
        workflows = TenantWorkflows(self, "Workflows", config=config)
        # the one custom resource: config object with the versions just published, technicians seeded
        live = {type_id: workflow.version.ref for type_id, workflow in workflows.workflows.items()}
        configuration = TenantConfiguration(self, "Config", config=config, live=live)
        observability = TenantObservability(
            self, "Observability", tenant_id=tenant_id, workflows=workflows.workflows
        )

        Tags.of(self).add("scrm:tenant", tenant_id)
        for construct, component in (
            (workflows, "workflows"),
            (configuration, "tenant-config"),
            (observability, "observability"),
        ):
            _component(construct, component)

        self.workflows, self.configuration, self.observability = workflows, configuration, observability

        _output(self, "TenantId", tenant_id, "the tenant this stack onboards")
        _output(
            self, "ConfigKey", configuration.key, "the tenant's configuration object in the config bucket"
        )
        _output(
            self, "NotificationTopicArn", configuration.topic.topic_arn, "the tenant's notification topic"
        )
        for type_id, workflow in workflows.workflows.items():
            key = pascal(type_id)
            _output(self, f"StateMachine{key}Arn", workflow.arn, f"state machine of ticket type {type_id}")
            _output(
                self,
                f"StateMachine{key}AliasArn",
                workflow.alias_arn,
                f"alias '{'live'}' of ticket type {type_id} (where new executions start)",
            )
