"""A tenant's ticket types as Step Functions state machines (one per type, alias ``live``)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from aws_cdk import RemovalPolicy, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs.catalogue import FUNCTION_NAMES, function_arn
from infra.constructs.functions import LOG_RETENTION
from infra.constructs.nag import ack, iam_ack
from shared.tenant.checks.workflow import resource_name

if TYPE_CHECKING:
    from shared.tenant.models import TenantConfig

ALIAS_NAME = "live"
WORKFLOW_ROLE_NAME = "scrm-workflows"
"""The role every tenant's state machines run as (platform stack, :class:`WorkflowRole`)."""
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def pascal(identifier: str) -> str:
    """``after-sales`` -> ``AfterSales``: ticket type ids in logical ids and output names (the
    validator refuses two ids with the same one: ``shared.tenant.checks.workflow.resource_name``)."""
    return resource_name(identifier)


def placeholders(asl: str) -> list[str]:
    return sorted(set(_PLACEHOLDER.findall(asl)))


class Workflow:
    """The resources of one ticket type."""

    def __init__(
        self,
        type_id: str,
        state_machine: sfn.CfnStateMachine,
        version: sfn.CfnStateMachineVersion,
        alias: sfn.CfnStateMachineAlias,
        log_group: logs.LogGroup,
    ) -> None:
        self.type_id = type_id
        self.state_machine = state_machine
        self.version = version
        self.alias = alias
        self.log_group = log_group

    @property
    def arn(self) -> str:
        # Ref of a state machine is its ARN (portable: moto has no GetAtt Arn for it)
        return self.state_machine.ref

    @property
    def alias_arn(self) -> str:
        return self.alias.ref  # Ref of an alias is its ARN


def workflow_role_arn(scope: Construct) -> str:
    """ARN of the platform's workflow role from its fixed name (no cross-stack reference)."""
    stack = Stack.of(scope)
    return f"arn:{stack.partition}:iam::{stack.account}:role/{WORKFLOW_ROLE_NAME}"


def invoked_functions() -> list[str]:
    """Every platform function the compiler can name in a state machine (its ``SUBSTITUTIONS``)."""
    from shared.workflow.compiler import SUBSTITUTIONS

    return sorted(set(SUBSTITUTIONS.values()))


class WorkflowRole(Construct):
    """The one role of every tenant's state machines (platform stack): ``scrm-workflows``.

    A role per tenant counted against the account's 1,000 roles (issue 16); what a state machine may
    do does not depend on its tenant anyway: invoke the platform functions the compiler can name (all
    of them, so a tenant onboarded later with a new kind of node needs no platform change), send
    traces to X-Ray and deliver its ERROR logs (vended logs). The tenant's data stays fenced by the
    functions' data-access roles (``tenant_data.py``): a state machine reaches no table itself.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        invoked = invoked_functions()
        missing = [name for name in invoked if name not in FUNCTION_NAMES]
        if missing:
            raise ValueError(f"the compiler names functions the platform does not have: {missing}")
        self.role = iam.Role(
            self,
            "Role",
            role_name=WORKFLOW_ROLE_NAME,
            description="state machines of every tenant (scrm-<tenant>-<type>)",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            # inline, so the policy exists before any tenant's state machine is created
            inline_policies={
                "Workflows": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            sid="InvokePlatformFunctions",
                            actions=["lambda:InvokeFunction"],
                            resources=[function_arn(self, name) for name in invoked],
                        ),
                        iam.PolicyStatement(
                            sid="Tracing",
                            actions=[
                                "xray:PutTraceSegments",
                                "xray:PutTelemetryRecords",
                                "xray:GetSamplingRules",
                                "xray:GetSamplingTargets",
                            ],
                            resources=["*"],
                        ),
                        iam.PolicyStatement(
                            sid="ErrorLogs",
                            actions=[
                                "logs:CreateLogDelivery",
                                "logs:GetLogDelivery",
                                "logs:UpdateLogDelivery",
                                "logs:DeleteLogDelivery",
                                "logs:ListLogDeliveries",
                                "logs:PutResourcePolicy",
                                "logs:DescribeResourcePolicies",
                                "logs:DescribeLogGroups",
                            ],
                            resources=["*"],
                        ),
                    ]
                )
            },
        )
        Validations.of(self.role).acknowledge(
            iam_ack(
                "Resource::*",
                "X-Ray and CloudWatch Logs vended-log delivery actions have no resource-level ARNs",
            )
        )


class TenantWorkflows(Construct):
    """One STANDARD state machine per ticket type: ``scrm-<tenant>-<type>``.

    The ASL is the compiler's output unchanged (``DefinitionString``, byte-identical to the
    golden files); the ``${...}`` placeholders become platform function ARNs through
    ``DefinitionSubstitutions``. Every deploy that changes a definition publishes a new
    version (the version resource is replaced when the revision id changes; old versions
    are retained so running executions keep theirs) and moves alias ``live`` to it.
    They run as the platform's one workflow role (:class:`WorkflowRole`, ``scrm-workflows``),
    named by its ARN: a tenant stack creates no IAM role.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: TenantConfig) -> None:
        from shared.workflow.compiler import SUBSTITUTIONS, compile_ticket_type, state_machine_name

        super().__init__(scope, construct_id)
        tenant_id = config.tenant.id

        compiled: dict[str, str] = {}
        used: set[str] = set()
        seen_ids: dict[str, str] = {}
        for type_id in config.ticket_types:
            pascal_id = pascal(type_id)
            if pascal_id in seen_ids:
                raise ValueError(
                    f"ticket types '{seen_ids[pascal_id]}' and '{type_id}' of tenant '{tenant_id}' "
                    "give the same resource name; rename one"
                )
            seen_ids[pascal_id] = type_id
            asl = compile_ticket_type(config, type_id)
            unknown = [p for p in placeholders(asl) if p not in SUBSTITUTIONS]
            if unknown:
                raise ValueError(
                    f"compiled ASL of '{tenant_id}/{type_id}' has unknown placeholders {unknown}"
                )
            compiled[type_id] = asl
            used.update(placeholders(asl))

        missing = [name for name in sorted({SUBSTITUTIONS[p] for p in used}) if name not in FUNCTION_NAMES]
        if missing:
            raise ValueError(f"the compiler names functions the platform does not have: {missing}")
        self.role_arn = workflow_role_arn(self)

        self.workflows: dict[str, Workflow] = {}
        for type_id, asl in compiled.items():
            cid = pascal(type_id)
            name = state_machine_name(tenant_id, type_id)
            log_group = logs.LogGroup(
                self, f"{cid}Logs", log_group_name=f"/aws/vendedlogs/states/{name}", retention=LOG_RETENTION
            )
            machine = sfn.CfnStateMachine(
                self,
                cid,
                state_machine_name=name,
                state_machine_type="STANDARD",
                role_arn=self.role_arn,
                definition_string=asl,
                definition_substitutions={p: function_arn(self, SUBSTITUTIONS[p]) for p in placeholders(asl)},
                tracing_configuration=sfn.CfnStateMachine.TracingConfigurationProperty(enabled=True),
                logging_configuration=sfn.CfnStateMachine.LoggingConfigurationProperty(
                    level="ERROR",
                    include_execution_data=False,
                    destinations=[
                        sfn.CfnStateMachine.LogDestinationProperty(
                            cloud_watch_logs_log_group=sfn.CfnStateMachine.CloudWatchLogsLogGroupProperty(
                                log_group_arn=log_group.log_group_arn
                            )
                        )
                    ],
                ),
            )
            Validations.of(machine).acknowledge(
                ack(
                    "AwsSolutions-SF1",
                    "logs ERROR only: ALL would log every transition of every ticket; X-Ray traces them",
                )
            )
            version = sfn.CfnStateMachineVersion(
                self,
                f"{cid}Version",
                state_machine_arn=machine.ref,
                state_machine_revision_id=machine.attr_state_machine_revision_id,
                description=f"{name}, published by the tenant stack",
            )
            version.apply_removal_policy(RemovalPolicy.RETAIN)
            alias = sfn.CfnStateMachineAlias(
                self,
                f"{cid}Live",
                name=ALIAS_NAME,
                description=f"the version new tickets of {tenant_id}/{type_id} start on",
                routing_configuration=[
                    sfn.CfnStateMachineAlias.RoutingConfigurationVersionProperty(
                        state_machine_version_arn=version.ref, weight=100
                    )
                ],
            )
            self.workflows[type_id] = Workflow(type_id, machine, version, alias, log_group)
