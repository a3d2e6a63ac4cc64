"""The platform functions: fixed names, one role and one log group each, one code asset.

Names and handlers follow docs/design.md (``scrm-<service>-<role>``), so the tenant stacks'
state machines can name them without cross-stack exports. Every function gets its own IAM
role holding only what that function does (assuming the tenants' data-access roles, which hold
the table actions, see ``tenant_data.py``; state machine actions, SSM
paths, scheduler, queue, dead-letter queue, bodies bucket); ``Validations`` acknowledgments say
why each wildcard is there.

Code
----
All functions share ONE asset holding the ``functions/`` and ``shared/`` packages plus the
runtime dependencies of ``pyproject.toml`` (``[project].dependencies``):

- ``bundle=True`` (``cdk deploy`` / ``scrm synth``): :class:`LocalPythonBundler` builds it
  without Docker: ``pip install --platform manylinux2014_aarch64 --only-binary=:all:`` into
  a cache under ``.build/deps-<hash>`` (keyed by the dependency list and the target
  platform, so repeated synths skip pip), then copies the cache and the two packages into
  the asset directory. Everything in it is byte-compiled by the runtime's Python (3.13,
  ``cpython-313`` pyc files under ``__pycache__``) with ``--invalidation-mode unchecked-hash``, so a
  cold start on Lambda does not compile every module it imports, and the pyc files depend on the
  sources only (not on mtimes or on the build directory: code paths are rebased on ``/var/task``).
  The dependency cache is compiled once, with the cache. Without a Python 3.13 on this machine the
  asset ships sources only (a note says so).
- ``bundle=False`` (tests and the local twin, which runs handlers in-process): no pip; the
  asset is the project root filtered down to ``functions/`` and ``shared/`` (a glob
  exclude list, so ``.venv`` and friends are never walked), which stages in milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jsii
from aws_cdk import (
    Acknowledgment,
    ArnFormat,
    AssetHashType,
    BundlingOptions,
    DockerImage,
    Duration,
    ILocalBundling,
    Stack,
    Validations,
)
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.tenant_data import ACCESS, tenant_role_arn_template

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = PROJECT_ROOT / ".build"
CODE_PACKAGES = ("functions", "shared")
CONFIG_PATH_PREFIX = "/scrm/tenants"
METRICS_NAMESPACE = "Scrm"
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
PIP_PLATFORM = ("manylinux2014_aarch64", "cp", "3.13")
LAMBDA_TASK_ROOT = "/var/task"
"""Where Lambda unpacks the asset: the source paths recorded in the byte-compiled modules."""
RUNTIME_ENV = {"PYDANTIC_DISABLE_PLUGINS": "__all__"}
"""Environment of every function's Python runtime (``scrm bench coldstart`` runs handlers with it too):
pydantic would otherwise scan every installed distribution's entry points for plugins when it builds
its first model, and the functions use none."""
SENDER_EMAIL = "no-reply@scrm.example"
"""From-address of SLA reminders, no-candidate and failed-ticket notices (``NOTIFIERS``); its SES
identity must be verified."""
NOTIFIERS = ("reminders-fire", "dispatch-assign", "ticket-failed")
"""The functions that send SMS (SNS) and email (SES) to people: env ``SENDER_EMAIL`` here, and
``Reminders.grant_notify`` in the platform stack."""

# Glob patterns that reduce the project root to the code packages (bundle=False), and the
# source fingerprint of the bundled asset (bundle=True, which also needs pyproject.toml).
_NOISE = ["**/__pycache__", "**/__pycache__/**", "**/*.pyc", "**/.DS_Store"]
SOURCE_EXCLUDES = [
    "*",
    ".*",
    *(f"!{p}" for p in CODE_PACKAGES),
    *(f"!{p}/**" for p in CODE_PACKAGES),
    *_NOISE,
]
BUNDLE_SOURCE_EXCLUDES = ["*", ".*", "!pyproject.toml", *SOURCE_EXCLUDES[2:]]

Kind = Literal["api", "task"]
TableAccess = Literal["read", "read_write", "open_tickets"]
"""``open_tickets``: Query on the open-tickets index (gsi3) only, nothing else of the table."""


@dataclass(frozen=True)
class FunctionSpec:
    """One platform function and what it may touch (its least-privilege role)."""

    key: str  # "<service>-<role>"
    handler: str
    kind: Kind
    description: str
    table: TableAccess = "read_write"
    states: tuple[str, ...] = ()  # actions on the tenants' state machines / executions
    task_tokens: bool = False  # SendTaskSuccess/Failure/Heartbeat (no resource-level ARNs)
    scheduler: tuple[str, ...] = ()  # actions on schedules of the reminders group
    pass_scheduler_role: bool = False
    send_intake: bool = False
    read_secrets: bool = False  # channel secrets (SecureString) under /scrm/<tenant>/...
    redrive_dlq: bool = False  # receive/delete/release on the intake DLQ (env INTAKE_DLQ_URL)
    store_bodies: bool = False  # put raw bodies > 64 KiB into the bodies bucket (env DELIVERY_BODIES_BUCKET)

    @property
    def name(self) -> str:
        return f"scrm-{self.key}"

    @property
    def service(self) -> str:
        return self.key.split("-", 1)[0]

    @property
    def construct_id(self) -> str:
        return "".join(part.capitalize() for part in self.key.split("-"))


_START = ("states:StartExecution", "states:DescribeStateMachineAlias", "states:DescribeExecution")
_SCHEDULE_WRITE = ("scheduler:CreateSchedule", "scheduler:GetSchedule", "scheduler:DeleteSchedule")
_SCHEDULE_DELETE = ("scheduler:GetSchedule", "scheduler:DeleteSchedule")

FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec(
        "ticket-api",
        "functions.ticket.handler.api",
        "api",
        "/tickets* routes and /openapi.json",
        states=(*_START, "states:StopExecution"),
        task_tokens=True,
        scheduler=_SCHEDULE_DELETE,
    ),
    FunctionSpec(
        "ticket-park",
        "functions.ticket.tasks.park",
        "task",
        "waitForTaskToken task of human nodes: stores the token, starts SLA schedules",
        scheduler=_SCHEDULE_WRITE,
        pass_scheduler_role=True,
    ),
    FunctionSpec(
        "ticket-step",
        "functions.ticket.tasks.step",
        "task",
        "system nodes (create_ticket, end bookkeeping)",
        states=_START,
        scheduler=_SCHEDULE_DELETE,
    ),
    FunctionSpec(
        "ticket-intake",
        "functions.ticket.tasks.intake",
        "task",
        "SQS consumer: delivery -> ticket, idempotent StartExecution",
        states=_START,
    ),
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
        "functions.webhooks.ops.api",
        "api",
        "/deliveries* routes (ops): list, show, replay deliveries, redrive the intake DLQ",
        send_intake=True,
        redrive_dlq=True,
    ),
    FunctionSpec("dispatch-api", "functions.dispatch.handler.api", "api", "/technicians* routes"),
    FunctionSpec(
        "dispatch-assign",
        "functions.dispatch.tasks.assign",
        "task",
        "dispatch node: score, assign; offers that expire (one-time schedules calling it back)",
        task_tokens=True,  # an expired offer is declined on the technician's behalf (SendTaskSuccess)
        scheduler=_SCHEDULE_WRITE,
        pass_scheduler_role=True,
    ),
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
        "reminders-fire",
        "functions.reminders.handler.fire",
        "task",
        "EventBridge Scheduler target: SLA reminders over SNS (SMS) and SES; moves timers on a new calendar",
        scheduler=_SCHEDULE_WRITE,
        pass_scheduler_role=True,
    ),
    FunctionSpec(
        "ticket-failed",
        "functions.ticket.tasks.execution_status",
        "task",
        "platform EventBridge rule on stopped executions (FAILED, TIMED_OUT, ABORTED of scrm-*): the "
        "ticket becomes failed, its timers are deleted, its dispatchers told",
        scheduler=_SCHEDULE_DELETE,  # the ticket's SLA reminders and dispatch offer timer
    ),
    FunctionSpec(
        "ticket-gauges",
        "functions.ticket.gauges_handler.gauges",
        "task",
        "every 5 minutes per tenant (EventBridge rule): the OpenTickets gauge (open tickets per type, node)",
        table="open_tickets",
    ),
)
FUNCTIONS_BY_KEY = {spec.key: spec for spec in FUNCTIONS}
FUNCTION_NAMES = frozenset(spec.name for spec in FUNCTIONS)


def function_arn(scope: Construct, name: str) -> str:
    """ARN of a platform function from its fixed name (no reference to the function)."""
    return Stack.of(scope).format_arn(
        service="lambda", resource="function", resource_name=name, arn_format=ArnFormat.COLON_RESOURCE_NAME
    )


def state_machine_arn_prefix(scope: Construct) -> str:
    stack = Stack.of(scope)
    return f"arn:{stack.partition}:states:{stack.region}:{stack.account}:stateMachine:"


# --------------------------------------------------------------------------------------
# code asset


def runtime_dependencies(pyproject: Path = PROJECT_ROOT / "pyproject.toml") -> list[str]:
    with pyproject.open("rb") as fh:
        return list(tomllib.load(fh)["project"]["dependencies"])


def runtime_python() -> str | None:
    """A Python of the functions' runtime version on this machine (``SCRM_RUNTIME_PYTHON``, else
    ``python3.13`` on the path, else a pyenv install), to byte-compile the asset; ``None`` if none runs."""
    version = PIP_PLATFORM[2]
    candidates = [os.environ.get("SCRM_RUNTIME_PYTHON", ""), shutil.which(f"python{version}") or ""]
    candidates += sorted(str(p) for p in Path.home().glob(f".pyenv/versions/{version}*/bin/python{version}"))
    for candidate in filter(None, candidates):
        try:
            probe = subprocess.run(
                [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                check=False,
            )
        except OSError:
            continue
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    return None


def compile_bytecode(directory: Path, python: str) -> None:
    """Byte-compile every module under ``directory`` as the runtime will import it from ``/var/task``."""
    command = [
        python,
        "-m",
        "compileall",
        "-q",
        "-j0",
        "--invalidation-mode",
        "unchecked-hash",
        "-s",
        str(directory),
        "-p",
        LAMBDA_TASK_ROOT,
        str(directory),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"could not byte-compile {directory}:\n{(result.stdout + result.stderr)[-4000:]}")


def _copy_tree(src: Path, dst: Path, *, bytecode: bool = False) -> None:
    """Copy a tree, hard-linking files where the file system allows it (fast, no extra space).

    Without ``bytecode`` the ``__pycache__`` directories stay behind (the development tree's pyc are
    of another Python)."""

    def link_or_copy(s: str, d: str) -> Any:
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)
        return d

    shutil.copytree(
        src,
        dst,
        dirs_exist_ok=True,
        copy_function=link_or_copy,
        ignore=None if bytecode else shutil.ignore_patterns("__pycache__", "*.pyc"),
    )


@jsii.implements(ILocalBundling)
class LocalPythonBundler:
    """Builds the Lambda asset on this machine (no Docker) for Python 3.13 on arm64."""

    def __init__(
        self, root: Path = PROJECT_ROOT, cache_dir: Path = BUILD_DIR, python: str | None = "auto"
    ) -> None:
        """``python``: the interpreter that byte-compiles the asset (``"auto"``: ``runtime_python()``;
        ``None``: no bytecode)."""
        self.root = root
        self.cache_dir = cache_dir
        self.dependencies = runtime_dependencies(root / "pyproject.toml")
        self._python = python

    @property
    def cache_key(self) -> str:
        text = json.dumps({"deps": sorted(self.dependencies), "platform": PIP_PLATFORM})
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def python(self) -> str | None:
        if self._python == "auto":
            self._python = runtime_python()
            if self._python is None:
                print(
                    f"note: no Python {PIP_PLATFORM[2]} here (set SCRM_RUNTIME_PYTHON): the Lambda asset "
                    "ships without bytecode, so every cold start compiles the modules it imports",
                    file=sys.stderr,
                )
        return self._python

    def dependency_layer(self) -> Path:
        """The pip-installed dependencies, built once per dependency list into ``.build/``, and
        byte-compiled once (``.compiled``) when a runtime Python is here."""
        target = self.cache_dir / f"deps-{self.cache_key}"
        if (target / ".complete").exists():
            if self.python is not None and not (target / ".compiled").exists():
                compile_bytecode(target, self.python)  # a cache built before bytecode or without 3.13
                (target / ".compiled").write_text(self.python + "\n")
            return target
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        platform, implementation, version = PIP_PLATFORM
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--platform",
            platform,
            "--implementation",
            implementation,
            "--python-version",
            version,
            "--only-binary=:all:",
            "--target",
            str(partial),
            *self.dependencies,
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"pip could not build the Lambda dependencies:\n{result.stderr[-4000:]}")
        shutil.rmtree(partial / "bin", ignore_errors=True)  # console scripts: useless in Lambda
        if self.python is not None:
            compile_bytecode(partial, self.python)
            (partial / ".compiled").write_text(self.python + "\n")
        (partial / ".complete").write_text("\n".join(self.dependencies) + "\n")
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
        return target

    def try_bundle(self, output_dir: str, *, image: DockerImage, **options: Any) -> bool:
        """Called by CDK before Docker would be: build here, always (no Docker fallback)."""
        out = Path(output_dir)
        _copy_tree(self.dependency_layer(), out, bytecode=True)
        (out / ".complete").unlink(missing_ok=True)
        (out / ".compiled").unlink(missing_ok=True)
        for package in CODE_PACKAGES:
            _copy_tree(self.root / package, out / package)
            if self.python is not None:
                compile_bytecode(out / package, self.python)
        return True


def function_code(*, bundle: bool, root: Path = PROJECT_ROOT) -> lambda_.Code:
    """The one code asset of every platform function (see the module docstring)."""
    if not bundle:
        return lambda_.Code.from_asset(str(root), exclude=SOURCE_EXCLUDES)
    return lambda_.Code.from_asset(
        str(root),
        exclude=BUNDLE_SOURCE_EXCLUDES,
        asset_hash_type=AssetHashType.SOURCE,
        bundling=BundlingOptions(
            # Never pulled: the local bundler always builds the asset (or raises).
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.13"),
            local=LocalPythonBundler(root),
        ),
    )


# --------------------------------------------------------------------------------------
# the functions


class PlatformFunctions(Construct):
    """The functions of docs/design.md, each with its own role and log group.

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
    ) -> None:
        super().__init__(scope, construct_id)
        from infra.constructs.intake import Intake  # intake.py imports this module

        intake = Intake.of(intake_queue)
        self._table = table
        self._intake_queue = intake_queue
        self._intake_dlq = intake_dlq or (intake.dlq if intake else None)
        self._bodies_bucket = bodies_bucket or (intake.bodies if intake else None)
        self._scheduler_group_name = scheduler_group_name
        self._scheduler_role = scheduler_role
        self._scheduler_dlq = scheduler_dlq
        self.functions: dict[str, lambda_.Function] = {}
        self.roles: dict[str, iam.Role] = {}
        self.log_groups: dict[str, logs.LogGroup] = {}

        common_env = {
            "TABLE_NAME": table.table_name,
            "CONFIG_PATH_PREFIX": CONFIG_PATH_PREFIX,
            "STATE_MACHINE_ARN_PREFIX": state_machine_arn_prefix(self),
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "LOG_LEVEL": "INFO",
            **RUNTIME_ENV,
        }
        scheduler_env = {
            "SCHEDULER_GROUP": scheduler_group_name,
            "SCHEDULER_ROLE_ARN": scheduler_role.role_arn,
            "REMINDER_FUNCTION_ARN": function_arn(self, FUNCTIONS_BY_KEY["reminders-fire"].name),
        }
        for spec in FUNCTIONS:
            env = {**common_env, "POWERTOOLS_SERVICE_NAME": spec.service}
            # the tenant data-access role it assumes (shared/tenant_scope.py, tenant_data.py)
            env["TENANT_ROLE_ARN"] = tenant_role_arn_template(self)
            env["TENANT_DATA_ACCESS"] = ACCESS[spec.table].suffix
            if spec.service in ("ticket", "reminders") or spec.scheduler:
                env.update(scheduler_env)
            if "scheduler:CreateSchedule" in spec.scheduler and scheduler_dlq is not None:
                env["SCHEDULER_DLQ_ARN"] = scheduler_dlq.queue_arn  # Target.DeadLetterConfig
            if spec.send_intake:
                env["INTAKE_QUEUE_URL"] = intake_queue.queue_url
            if spec.redrive_dlq:
                env["INTAKE_DLQ_URL"] = self._require(self._intake_dlq, spec, "intake_dlq").queue_url
            if spec.store_bodies:
                bucket = self._require(self._bodies_bucket, spec, "bodies_bucket")
                env["DELIVERY_BODIES_BUCKET"] = bucket.bucket_name
            if spec.key in NOTIFIERS:
                env["SENDER_EMAIL"] = SENDER_EMAIL
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
            role_name=spec.name,  # named: the tenant roles' trust policies name it (tenant_data.py)
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
            memory_size=1024 if spec.kind == "api" else 768,
            timeout=Duration.seconds(10 if spec.kind == "api" else 30),
            environment=env,
        )
        log_group.grant_write(role)
        Validations.of(fn).acknowledge(
            ack(
                "AwsSolutions-L1",
                "Python 3.13 is the platform runtime (docs/design.md): the bundled wheels "
                "(pydantic-core, cryptography) are built for cp313; moving runtimes is deliberate",
            )
        )
        self._grant(spec, role)
        self.functions[spec.key] = fn
        self.roles[spec.key] = role
        self.log_groups[spec.key] = log_group

    def _grant(self, spec: FunctionSpec, role: iam.Role) -> None:
        """Exactly what this function needs; every wildcard acknowledged with its reason."""
        stack = Stack.of(self)
        star_reasons = ["X-Ray PutTraceSegments/PutTelemetryRecords have no resource-level ARNs"]

        # tenant items: no table access of its own; it assumes the data-access role of the tenant it
        # acts for (tenant_data.py: that role's kind of access, fenced by dynamodb:LeadingKeys)
        tenant_roles = ACCESS[spec.table].role_name_pattern
        role.add_to_policy(
            iam.PolicyStatement(
                sid="TenantData",
                actions=["sts:AssumeRole"],
                resources=[f"arn:{stack.partition}:iam::{stack.account}:role/{tenant_roles}"],
            )
        )
        acks: list[Acknowledgment] = [
            iam_ack(
                f"Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/{tenant_roles}",
                "assumes the data-access role of the tenant it acts for (one per tenant stack, "
                "onboarded after the platform); each role only reaches its tenant's TENANT#<id># keys",
            )
        ]

        # tenant configuration written by the tenant stacks (+ channel secrets for webhooks)
        params = "scrm/*" if spec.read_secrets else CONFIG_PATH_PREFIX.strip("/") + "/*"
        role.add_to_policy(
            iam.PolicyStatement(
                sid="TenantConfig",
                actions=["ssm:GetParametersByPath", "ssm:GetParameters", "ssm:GetParameter"],
                resources=[stack.format_arn(service="ssm", resource="parameter", resource_name=params)],
            )
        )
        acks.append(
            iam_ack(
                "Resource::" + _rendered_arn("ssm", f"parameter/{params}"),
                "reads every tenant's configuration chunks"
                + (" and channel secrets (/scrm/<tenant>/...)" if spec.read_secrets else "")
                + "; tenants are onboarded after the platform is deployed",
            )
        )

        if spec.states:
            state_machines = f"{state_machine_arn_prefix(self)}scrm-*"
            resources = [state_machines]
            acks.append(
                iam_ack(
                    "Resource::" + _rendered_arn("states", "stateMachine:scrm-*"),
                    "starts executions of tenant state machines (scrm-<tenant>-<type>:live); "
                    "tenant stacks are deployed after the platform",
                )
            )
            if {"states:StopExecution", "states:DescribeExecution"} & set(spec.states):
                resources.append(
                    f"arn:{stack.partition}:states:{stack.region}:{stack.account}:execution:scrm-*"
                )
                acks.append(
                    iam_ack(
                        "Resource::" + _rendered_arn("states", "execution:scrm-*"),
                        "stops and describes executions of tenant state machines (ticket cancel)",
                    )
                )
            role.add_to_policy(
                iam.PolicyStatement(sid="TenantWorkflows", actions=list(spec.states), resources=resources)
            )
        if spec.task_tokens:
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="TaskTokens",
                    actions=["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"],
                    resources=["*"],
                )
            )
            star_reasons.append("SendTaskSuccess/Failure/Heartbeat act on task tokens, which have no ARN")
        if spec.scheduler:
            group = self._scheduler_group_name
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="Reminders",
                    actions=list(spec.scheduler),
                    resources=[
                        stack.format_arn(service="scheduler", resource="schedule", resource_name=f"{group}/*")
                    ],
                )
            )
            acks.append(
                iam_ack(
                    "Resource::" + _rendered_arn("scheduler", f"schedule/{group}/*"),
                    "one-time SLA reminder schedules, per ticket and level, in the reminders group",
                )
            )
        if spec.pass_scheduler_role:
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="PassSchedulerRole",
                    actions=["iam:PassRole"],
                    resources=[self._scheduler_role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
                )
            )
        if spec.send_intake:
            self._intake_queue.grant_send_messages(role)
        if spec.redrive_dlq and self._intake_dlq is not None:
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="IntakeDlqRedrive",
                    actions=[
                        "sqs:ReceiveMessage",
                        "sqs:DeleteMessage",
                        "sqs:ChangeMessageVisibility",
                        "sqs:GetQueueAttributes",
                    ],
                    resources=[self._intake_dlq.queue_arn],
                )
            )
        if spec.store_bodies and self._bodies_bucket is not None:
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="DeliveryBodies",
                    actions=["s3:PutObject"],
                    resources=[self._bodies_bucket.arn_for_objects("deliveries/*")],
                )
            )
            acks.append(
                iam_ack(
                    f"Resource::<{_cfn_id(self._bodies_bucket)}.Arn>/deliveries/*",
                    "writes raw delivery bodies over 64 KiB, one object per delivery, under deliveries/",
                )
            )
        acks.append(iam_ack("Resource::*", "; ".join(star_reasons)))
        Validations.of(role).acknowledge(*acks)


def _rendered_arn(service: str, resource: str) -> str:
    """An ARN of this account and region as cdk-nag renders it in a finding id."""
    return f"arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>:{resource}"


def _cfn_id(construct: Any) -> str:
    return str(Stack.of(construct).get_logical_id(construct.node.default_child))


def ack(rule: str, reason: str) -> Acknowledgment:
    """Acknowledge a cdk-nag finding (``AwsSolutions-XX`` or ``AwsSolutions-XX[finding]``)."""
    return Acknowledgment(id=rule, reason=reason)


def iam_ack(finding: str, reason: str) -> Acknowledgment:
    """Acknowledge one ``AwsSolutions-IAM5`` wildcard finding with the reason it is needed."""
    return ack(f"AwsSolutions-IAM5[{finding}]", reason)
