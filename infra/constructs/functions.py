"""The platform functions: one Lambda function, role and log group per catalogue entry.

What the functions are (name, handler, job, needs) is ``catalogue.py``; what each role may do is
``grants.py``; the one code asset they all run is ``bundling.py``. This construct puts them
together: each entry's function (ARM64, Python 3.13, tracing on, memory and timeout of its kind),
its log group (``/aws/lambda/<name>``, one month), its role (named as the function: the tenant
data-access roles' trust policies name it, see ``tenant_data.py``) and the environment its needs call for.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.catalogue import (
    FUNCTIONS,
    FUNCTIONS_BY_KEY,
    FunctionSpec,
    function_arn,
    state_machine_arn_prefix,
)
from infra.constructs.concurrency import reserved_for
from infra.constructs.grants import GrantTargets, grant
from infra.constructs.intake import Intake
from infra.constructs.nag import ack
from infra.constructs.tenant_config import TenantConfigBucket
from infra.constructs.tenant_data import ACCESS, tenant_role_arn_template

METRICS_NAMESPACE = "Scrm"
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
RUNTIME_ENV = {"PYDANTIC_DISABLE_PLUGINS": "__all__"}
"""Environment of every function's Python runtime (``scrm bench coldstart`` runs handlers with it too):
pydantic would otherwise scan every installed distribution's entry points for plugins when it builds
its first model, and the functions use none."""
SENDER_EMAIL = "no-reply@scrm.example"
"""From-address of SLA reminders, no-candidate and failed-ticket notices (the functions that
``notify``); its SES identity must be verified."""
WECOM_API_URL = "https://qyapi.weixin.qq.com"
"""The WeCom server API the functions that ``notify`` send the tenants' ``wecom_app`` messages to
(``shared/adapters/wecom_app.py``; the local twin points it at its emulation)."""


class PlatformFunctions(Construct):
    """The functions of the catalogue, each with its own role and log group.

    The intake DLQ and the bodies bucket default to those of the ``Intake`` construct that
    holds ``intake_queue``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: lambda_.Code,
        table: dynamodb.ITable,
        intake_queue: sqs.IQueue,
        scheduler_group_name: str,
        scheduler_role: iam.IRole,
        intake_dlq: sqs.IQueue | None = None,
        bodies_bucket: s3.IBucket | None = None,
        scheduler_dlq: sqs.IQueue | None = None,
        tenant_configs: TenantConfigBucket | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        # every function reads the tenants' configuration objects (shared/tenant/store.py)
        self.tenant_configs = tenant_configs or TenantConfigBucket(self, "TenantConfigs")
        intake = Intake.of(intake_queue)
        self._targets = GrantTargets(
            intake_queue=intake_queue,
            scheduler_group_name=scheduler_group_name,
            scheduler_role=scheduler_role,
            intake_dlq=intake_dlq or (intake.dlq if intake else None),
            bodies_bucket=bodies_bucket or (intake.bodies if intake else None),
        )
        self.functions: dict[str, lambda_.Function] = {}
        self.roles: dict[str, iam.Role] = {}
        self.log_groups: dict[str, logs.LogGroup] = {}

        common_env = {
            "TABLE_NAME": table.table_name,
            "CONFIG_BUCKET": self.tenant_configs.bucket_name,
            "STATE_MACHINE_ARN_PREFIX": state_machine_arn_prefix(self),
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "LOG_LEVEL": "INFO",
            **RUNTIME_ENV,
        }
        scheduler_env = {
            "SCHEDULER_GROUP": scheduler_group_name,
            "SCHEDULER_ROLE_ARN": scheduler_role.role_arn,
            "REMINDER_FUNCTION_ARN": function_arn(self, FUNCTIONS_BY_KEY["reminders-fire"].name),
            "FOLLOW_UP_FUNCTION_ARN": function_arn(self, FUNCTIONS_BY_KEY["ticket-follow-up"].name),
        }
        for spec in FUNCTIONS:
            env = {**common_env, "POWERTOOLS_SERVICE_NAME": spec.service}
            # the data-access role it assumes, tagged with the tenant (shared/tenant_scope.py, tenant_data.py)
            env["TENANT_ROLE_ARN"] = tenant_role_arn_template(self)
            env["TENANT_DATA_ACCESS"] = ACCESS[spec.table].suffix
            if spec.service in ("ticket", "reminders") or spec.scheduler:
                env.update(scheduler_env)
            if spec.creates_schedules and scheduler_dlq is not None:
                env["SCHEDULER_DLQ_ARN"] = scheduler_dlq.queue_arn  # Target.DeadLetterConfig
            if spec.send_intake:
                env["INTAKE_QUEUE_URL"] = intake_queue.queue_url
            if spec.redrive_dlq:
                env["INTAKE_DLQ_URL"] = self._require(self._targets.intake_dlq, spec, "intake_dlq").queue_url
            if spec.store_bodies:
                bucket = self._require(self._targets.bodies_bucket, spec, "bodies_bucket")
                env["DELIVERY_BODIES_BUCKET"] = bucket.bucket_name
            if spec.notify:
                env["SENDER_EMAIL"] = SENDER_EMAIL
                env["WECOM_API_URL"] = WECOM_API_URL
            if spec.onboards:
                env["SEED_FUNCTION"] = FUNCTIONS_BY_KEY["dispatch-seed"].name
            self._create(spec, code, env)

    def __getitem__(self, key: str) -> lambda_.Function:
        return self.functions[key]

    @staticmethod
    def _require(value: Any, spec: FunctionSpec, name: str) -> Any:
        if value is None:
            raise ValueError(f"{spec.name} needs {name}: pass it, or an intake_queue of an Intake construct")
        return value

    def _create(self, spec: FunctionSpec, code: lambda_.Code, env: dict[str, str]) -> None:
        cid = spec.construct_id
        role = iam.Role(
            self,
            f"{cid}Role",
            role_name=spec.name,  # named: the data-access roles' trust policies name it (tenant_data.py)
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{spec.name}: {spec.description}",
        )
        log_group = logs.LogGroup(
            self, f"{cid}Logs", log_group_name=f"/aws/lambda/{spec.name}", retention=LOG_RETENTION
        )
        fn = lambda_.Function(
            self,
            cid,
            function_name=spec.name,
            description=spec.description,
            runtime=lambda_.Runtime.PYTHON_3_13,
            architecture=lambda_.Architecture.ARM_64,
            handler=spec.handler,
            code=code,
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_seconds),
            environment=env,
            reserved_concurrent_executions=reserved_for(self, spec.key),
        )
        log_group.grant_write(role)
        Validations.of(fn).acknowledge(
            ack(
                "AwsSolutions-L1",
                "Python 3.13 is the platform runtime (docs/design.md): the bundled wheels "
                "(pydantic-core, cryptography) are built for cp313; moving runtimes is deliberate",
            )
        )
        grant(role, spec, self._targets)
        self.tenant_configs.grant_read(role)
        if spec.onboards:  # the tenant stacks' custom-resource provider (tenant_config.py)
            self.tenant_configs.grant_onboard(role, function_arn(self, env["SEED_FUNCTION"]))
        self.functions[spec.key] = fn
        self.roles[spec.key] = role
        self.log_groups[spec.key] = log_group
