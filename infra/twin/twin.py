"""The local twin: the same CDK app, deployed into moto, served on 127.0.0.1."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
import sys
import tempfile
import threading
import uuid
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import yaml

from infra.twin.auth import LocalIssuer
from infra.twin.clock import ClockMode, TwinClock
from infra.twin.deploy import ACCOUNT, REGION, Deployer, StackDeployment
from infra.twin.execution_events import install as install_execution_events
from infra.twin.execution_events import listen as listen_to_executions
from infra.twin.execution_events import status_change_event
from infra.twin.iam import enforce_tenant_roles
from infra.twin.lambdas import FunctionFailed, LocalLambdas, function_of
from infra.twin.meter import METER
from infra.twin.metrics_store import MetricsStore
from infra.twin.moto_fixes import install as install_moto_fixes
from infra.twin.outbox import Outbox
from infra.twin.rules import InvokeConfig, PatternRules, ScheduledRules, function_name
from infra.twin.server import Router, _error, _json, serve
from infra.twin.streams import POLL_SECONDS as STREAM_POLL_SECONDS
from infra.twin.streams import StreamMapping, StreamSource
from infra.twin.wecom import PREFIX as WECOM_PREFIX
from infra.twin.wecom import EmulatedApp, WeComEmulation
from shared import clock as shared_clock

OUTBOUND_FUNCTION = "scrm-webhooks-outbound"
OUTBOUND_RETRY_SECONDS = 1
"""The twin's first retry delay of an outbound webhook (SQS visibility is wall-clock time)."""
MAX_ADVANCE = 10 * 366 * 86400
"""The most one ``/_local/clock/advance`` moves the clock (ten years); beyond, datetimes overflow."""
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

# The twin's process is the fake AWS: set before moto or boto3 read them.
_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "false",  # EMF is captured into the metrics store
    "MOTO_ALLOW_NONEXISTENT_REGION": "true",
}


def secrets_for(tenant_files: list[str], extra: str | None) -> dict[str, str]:
    """``<stem>.secrets.yaml`` beside each tenant file, then ``--secrets FILE`` on top."""
    values: dict[str, str] = {}
    files = [Path(f).with_name(Path(f).stem + ".secrets.yaml") for f in tenant_files]
    files += [Path(extra)] if extra else []
    for path in files:
        if path.exists():
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            if not isinstance(data, dict):
                raise ValueError(f"{path}: a secrets file is a mapping from secret reference to value")
            values.update({str(k): str(v) for k, v in data.items()})
        elif extra and path == Path(extra):
            raise FileNotFoundError(f"{path}: secrets file not found")
    return values


class LocalTwin:
    def __init__(
        self,
        tenant_files: list[str],
        *,
        port: int = 8400,
        clock: ClockMode = "realtime",
        start: datetime | None = None,
        secrets_file: str | None = None,
        log: Callable[[str], None] | None = None,
        quiet_requests: bool = True,
        function_log_level: str | None = None,
    ) -> None:
        self.tenant_files = tenant_files
        self.port = port
        self.clock = TwinClock(clock, start)
        self.secrets_file = secrets_file
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.quiet_requests = quiet_requests
        self.function_log_level = function_log_level
        self.lambdas = LocalLambdas(self.log)
        self.metrics = MetricsStore(self.clock.now)
        self.deployments: list[StackDeployment] = []
        self.stream_sources: list[StreamSource] = []  # table streams' event sources (streams.py)
        self.messages: list[dict[str, Any]] = []
        self.fired: set[str] = set()
        # custom resources' requests and the answers their provider PUT back (send_custom_resource)
        self.custom_resource_answers: list[dict[str, Any]] = []
        self._cfn_answers: dict[str, dict[str, Any]] = {}  # RequestId -> answer (/_local/cloudformation)
        self.rules = ScheduledRules([])  # EventBridge rate() rules (infra/twin/rules.py)
        self.event_rules = PatternRules([])  # EventBridge rules with an event pattern (same module)
        self._unlisten: Callable[[], None] | None = None
        self._seen_sms: set[str] = set()
        self._seen_email = 0
        self._stop = threading.Event()
        self._fire_lock = threading.RLock()
        self._threads: list[threading.Thread] = []
        self._mock: Any = None
        self._server: Any = None
        self.issuer = LocalIssuer(set())
        self.people: dict[str, dict[str, set[str]]] = {}  # tenant -> person -> roles the file grants
        self.directory: list[dict[str, Any]] = []  # the console's sign-in picker (GET /_local/people)
        self.ready = False  # True once every stack is deployed and every tenant onboarded
        self.signable: dict[str, dict[str, str]] = {}  # tenant/channel -> platform, secret reference
        self.router = Router([])
        self.outbox = Outbox(self.clock.now)  # outbound webhooks, captured (outbox.py)
        self.wecom = WeComEmulation(self.clock.now, self._record_wecom)  # the WeCom API (wecom.py)

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> LocalTwin:
        from infra.app import build_app, local_cell  # CDK is heavy: import only when the twin starts
        from shared.tenant import load_tenant_file

        configs = [load_tenant_file(f) for f in self.tenant_files]
        _cold_start_everything()
        os.environ.update(_ENV)
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        # moto's Step Functions interpreter logs whole parse trees on a failed state; the twin
        # reports failures itself (the failing function and its error), one line each.
        logging.getLogger("moto").setLevel(logging.CRITICAL)
        from moto import mock_aws

        install_moto_fixes()
        install_execution_events()  # Step Functions status changes -> EventBridge rules
        enforce_tenant_roles()  # the data-access roles' LeadingKeys fence by session tag, as IAM would
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._mock.start()
        shared_clock.install(self.clock.now)
        self._server = serve(self, self.port)
        self.port = self._server.server_address[1]
        self.log(f"synthesizing {len(configs)} tenant(s) with the CDK app ...")
        with tempfile.TemporaryDirectory(prefix="scrm-twin-") as outdir:
            assembly = build_app(
                self.tenant_files, outdir=outdir, bundle=False, cells=local_cell(configs)
            ).synth()
            stacks = sorted(
                assembly.stacks, key=lambda s: (not s.stack_name.startswith("ScrmPlatform"), s.stack_name)
            )
            deployer = Deployer(self.port, self.log)
            for stack in stacks:
                self.log(f"deploying {stack.stack_name} into the embedded AWS (moto)")
                self.deployments.append(deployer.deploy(stack.stack_name, stack.template))
            self._check_quotas({stack.stack_name: stack.template for stack in stacks})
        self.lambdas.load()
        events = boto3.client("events", region_name=REGION)
        self.rules = ScheduledRules.load(events, self.clock.now(), self.log)
        self.event_rules = self._load_event_rules(events)
        if self.function_log_level:
            self._set_function_log_level(self.function_log_level)
        self._verify_sender()
        self.lambdas.install_hook()
        self._capture_outbound_webhooks()
        self.metrics.install()
        self.metrics.wrap_lambdas(self.lambdas)
        self.lambdas.after_invoke.append(lambda _name: self._collect_messages())
        self._emulate_wecom(configs, self._store_secrets(configs))
        self.issuer.tenants.update(c.tenant.id for c in configs)
        for c in configs:
            for channel in c.channels:
                ref = getattr(getattr(channel, "secret", None), "ssm", None) or ""
                where = f"{c.tenant.id}/{channel.id}"
                self.signable[where] = {"platform": channel.platform, "secret": ref}
            granted = {u.id: set(u.roles) for u in c.users}
            granted.update({t.id: {"technician"} for t in c.technicians})
            self.people[c.tenant.id] = granted
            self.directory.append(
                {
                    "id": c.tenant.id,
                    "name": c.tenant.name,
                    "people": [{"id": u.id, "name": u.name, "roles": list(u.roles)} for u in c.users]
                    + [{"id": t.id, "name": t.name, "roles": ["technician"]} for t in c.technicians],
                }
            )
        self.router = Router([r for d in self.deployments for r in d.routes])
        self._unlisten = listen_to_executions(self._execution_ended)
        self._spawn(self._scheduler_loop, "scheduler")
        for url, function, batch in (es for d in self.deployments for es in d.event_sources):
            self._spawn(functools.partial(self._queue_loop, url, function, batch), f"queue-{function}")
        for props in (p for d in self.deployments for p in d.stream_sources):
            source = StreamSource(StreamMapping.of(props), self.lambdas.invoke, self.log)
            self.stream_sources.append(source)
            self._spawn(functools.partial(self._stream_loop, source), f"stream-{source.mapping.function}")
        self._spawn(self._server.serve_forever, "http")
        # after the HTTP server runs: providers answer CloudFormation by PUT to /_local/cloudformation
        try:
            for deployment in self.deployments:
                for resource in deployment.custom_resources:
                    self.send_custom_resource(deployment.name, resource.logical_id, "Create")
        except Exception:
            self.stop()  # the deploy failed: nothing keeps serving
            raise
        self.log(f"clock: {self.clock.mode}, now {self.clock.now().isoformat()}")
        self.ready = True  # the server answered only CloudFormation's responses until now
        return self

    def _capture_outbound_webhooks(self) -> None:
        """The outbound webhooks sender posts into the outbox (the twin reaches no internet), and its
        retries wait seconds, not minutes: SQS visibility runs on the wall clock, not the twin's."""
        from functions.webhooks.wiring import use_transport

        use_transport(self.outbox)
        environment = self.lambdas.environments.get(OUTBOUND_FUNCTION)
        if environment is not None:
            environment["WEBHOOK_RETRY_SECONDS"] = str(OUTBOUND_RETRY_SECONDS)
            self.log(
                f"  {OUTBOUND_FUNCTION}: webhooks captured in /_local/outbox (nothing is sent); retries "
                f"after {OUTBOUND_RETRY_SECONDS} s, doubling (AWS: WEBHOOK_RETRY_SECONDS of the template)"
            )
            self.log(
                "  EventBridge rule scrm-events-webhooks (bus scrm-events) -> SQS: delivered by moto itself "
                "(PutEvents on a custom bus reaches its rules' SQS targets; no emulation)"
            )

    def _check_quotas(self, templates: dict[str, Any]) -> None:
        """What AWS would refuse at deploy (roles, resource policy sizes, rules per bus, SSM
        parameters, resources per stack: ``quota_checks.py``) fails the start, as the deploy would."""
        from infra.twin.quota_checks import QuotaExceeded, enforce

        try:
            usage = enforce(REGION, templates)
        except QuotaExceeded:
            self.stop()
            raise
        largest = max(
            (u for u in usage if u.quota == "lambda:resource-policy"), key=lambda u: u.used, default=None
        )
        roles = next(u for u in usage if u.quota == "iam:roles")
        self.log(
            f"  quotas: {roles.used:.0f}/{roles.limit:.0f} IAM roles"
            + (f", largest function policy {largest.used:.0f} B ({largest.what})" if largest else "")
        )

    # ----------------------------------------------------------------- custom resources
    def send_custom_resource(
        self,
        stack: str,
        logical_id: str,
        request_type: str,
        properties: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Send a custom resource's provider a CloudFormation request; its answer (``FAILED``: a
        ``RuntimeError``, as the stack operation would fail).

        ``Create`` at start for every custom resource of the templates; ``Update`` with changed
        ``properties`` is what a redeploy of the stack sends (``redeploy_tenant``). The provider runs
        in-process and PUTs its answer to ``/_local/cloudformation``, as to the presigned URL
        CloudFormation gives it.
        """
        deployment = next(d for d in self.deployments if d.name == stack)
        resource = next(r for r in deployment.custom_resources if r.logical_id == logical_id)
        new = resource.properties if properties is None else properties
        request: dict[str, Any] = {
            "RequestType": request_type,
            "ServiceToken": new["ServiceToken"],
            "ResponseURL": f"{self.url}/_local/cloudformation",
            "StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{stack}/local",
            "RequestId": str(uuid.uuid4()),
            "ResourceType": resource.type,
            "LogicalResourceId": logical_id,
            "ResourceProperties": new,
        }
        if request_type != "Create":
            request["PhysicalResourceId"] = resource.physical_id
        if request_type == "Update":
            request["OldResourceProperties"] = resource.properties
        provider = function_of(str(new["ServiceToken"]))
        try:
            self.lambdas.invoke(provider, request)
        except FunctionFailed as exc:  # no answer was sent: CloudFormation would wait, then fail
            raise RuntimeError(f"{stack}/{logical_id}: {provider} failed without answering: {exc}") from exc
        answer = self._cfn_answers.pop(request["RequestId"], None)
        if answer is None:
            raise RuntimeError(f"{stack}/{logical_id}: {provider} returned without answering CloudFormation")
        self.custom_resource_answers.append(
            {"stack": stack, "logical_id": logical_id, "request": request, "answer": answer}
        )
        if answer.get("Status") != "SUCCESS":
            raise RuntimeError(f"{stack}/{logical_id} {request_type} failed: {answer.get('Reason')}")
        resource.properties, resource.physical_id = new, str(answer["PhysicalResourceId"])
        self.log(
            f"  custom resource {stack}/{logical_id} {request_type}: {json.dumps(answer.get('Data', {}))}"
        )
        return answer

    def local_cloudformation(self, data: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        """CloudFormation's response URL: the provider's answer to one request."""
        if not isinstance(data.get("RequestId"), str) or data.get("Status") not in ("SUCCESS", "FAILED"):
            return _error(400, "bad_request", "a custom resource answer has RequestId and Status")
        self._cfn_answers[data["RequestId"]] = data
        return _json(200, {})

    def redeploy_tenant(self, tenant_id: str, live: dict[str, str]) -> dict[str, Any]:
        """What redeploying a tenant whose workflows changed does to its ``Custom::ScrmTenant``: an
        Update whose ``Live`` names the versions just published; the provider rewrites the tenant's
        configuration object.

        In AWS a warm container picks the new object up within its cache period (5 minutes, a
        conditional GET); the twin's functions share one process, so it expires their cached
        configuration now instead of making the caller wait.
        """
        from aws_lambda_powertools.utilities import parameters

        for deployment in self.deployments:
            for resource in deployment.custom_resources:
                if resource.type == "Custom::ScrmTenant" and resource.properties.get("Tenant") == tenant_id:
                    changed = {**resource.properties, "Live": {**resource.properties["Live"], **live}}
                    answer = self.send_custom_resource(
                        deployment.name, resource.logical_id, "Update", changed
                    )
                    parameters.clear_caches()
                    return answer
        raise KeyError(f"tenant {tenant_id} is not deployed")

    @staticmethod
    def _set_function_log_level(level: str) -> None:
        """The functions' JSON logs (LOG_LEVEL from the template), quieter for the demo and tests."""
        from shared.observability import logger

        os.environ["LOG_LEVEL"] = os.environ["POWERTOOLS_LOG_LEVEL"] = level
        logger.setLevel(level)

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=f"twin-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        shared_clock.reset()
        from functions.webhooks.wiring import use_transport

        use_transport(None)
        self.metrics.uninstall()
        if self._mock is not None:
            with contextlib.suppress(Exception):
                self._mock.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _verify_sender(self) -> None:
        """SES (and moto) refuse mail from an unverified sender: verify the reminders' from-address."""
        sender = os.environ.get("SENDER_EMAIL")
        if sender:
            boto3.client("sesv2", region_name=REGION).create_email_identity(EmailIdentity=sender)

    def _store_secrets(self, configs: list[Any]) -> dict[str, str]:
        """Every secret value into SSM (as the operator puts them there); the values."""
        values = secrets_for(self.tenant_files, self.secrets_file)
        ssm = boto3.client("ssm", region_name=REGION)
        for name, value in values.items():
            ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)
        for cfg in configs:
            for channel in cfg.channels:
                for ref in _secret_refs(channel):
                    if ref not in values:
                        self.log(
                            f"WARNING: {cfg.tenant.id}/{channel.id}: secret {ref} is not set; "
                            "every delivery to this channel will get 401"
                        )
            app = cfg.wecom_app
            if app is not None and app.secret.ssm not in values:
                self.log(
                    f"WARNING: {cfg.tenant.id}/wecom_app: secret {app.secret.ssm} is not set; "
                    "the WeCom emulation refuses its token, so no wecom message is sent"
                )
        return values

    def _emulate_wecom(self, configs: list[Any], secrets: dict[str, str]) -> None:
        """The WeCom API the tenants' ``wecom_app`` messages go to, served at ``/_local/wecom``: the
        functions that send them get its URL as ``WECOM_API_URL`` (AWS: https://qyapi.weixin.qq.com)."""
        for cfg in configs:
            app = cfg.wecom_app
            if app is None:
                continue
            members = {p.wecom_user for p in [*cfg.users, *cfg.technicians] if p.wecom_user}
            self.wecom.add(
                EmulatedApp(
                    cfg.tenant.id, app.corp_id, app.agent_id, secrets.get(app.secret.ssm), frozenset(members)
                )
            )
        senders = sorted(name for name, env in self.lambdas.environments.items() if "WECOM_API_URL" in env)
        for name in senders:
            self.lambdas.environments[name]["WECOM_API_URL"] = f"{self.url}{WECOM_PREFIX}"
        tenants = ", ".join(
            f"{a.tenant} (corp {a.corp_id}, agent {a.agent_id})" for a in self.wecom.apps.values()
        )
        self.log(
            f"  WeCom API (gettoken, message/send): emulated at {WECOM_PREFIX}/cgi-bin/ for "
            f"{', '.join(senders) or 'no function'}; tokens checked against the secrets of "
            f"{tenants or 'no tenant with a wecom_app'}; messages in /_local/messages (channel wecom)"
        )

    def _record_wecom(self, to: str, content: str) -> None:
        """A WeCom application message the emulation delivered (no lock of the twin: the function
        that sends it may be running under the scheduler's lock, waiting for this answer)."""
        self.messages.append(_message(self.clock.now().isoformat(), "wecom", to, None, content))

    # ----------------------------------------------------------------- schedules
    def _scheduler_loop(self) -> None:
        while not self._stop.wait(0.25):
            if self.clock.mode == "realtime":
                self.fire_due()

    def fire_due(self) -> int:
        """Fire every one-time schedule whose ``at()`` time has come on the twin clock (the count),
        then the scheduled EventBridge rules that are due (not counted)."""
        fired = 0
        with self._fire_lock:
            client: Any = boto3.client("scheduler", region_name=REGION)
            due: list[tuple[datetime, dict[str, Any]]] = []
            for page in client.get_paginator("list_schedules").paginate():
                for summary in page["Schedules"]:
                    key = f"{summary.get('GroupName')}/{summary['Name']}"
                    if key in self.fired:
                        continue
                    schedule = client.get_schedule(
                        Name=summary["Name"], GroupName=summary.get("GroupName", "default")
                    )
                    when = _at_time(schedule)
                    if when is not None and when <= self.clock.now():
                        due.append((when, schedule))
            for _when, schedule in sorted(due, key=lambda d: (d[0], d[1]["Name"])):
                self._fire(client, schedule)
                fired += 1
            self._fire_rules()
        return fired

    def _fire_rules(self) -> None:
        now = self.clock.now()
        for rule, target in self.rules.due(now):
            try:
                event = rule.event(target, now, ACCOUNT, REGION)
                self.lambdas.invoke(str(function_name(target["Arn"])), event)
            except FunctionFailed as exc:
                self.log(f"rule {rule.name} failed: {exc}")

    # ----------------------------------------------------------------- events
    def _load_event_rules(self, events: Any) -> PatternRules:
        """The deployed rules with an event pattern, delivered to by the twin (``rules.py``)."""
        configs = {
            name: InvokeConfig(int(c["retries"]), c["on_failure"])
            for d in self.deployments
            for name, c in d.invoke_configs.items()
        }
        rules = PatternRules(
            PatternRules.load(events, self.log),
            invoke=self.lambdas.invoke,
            log=self.log,
            invoke_configs=configs,
            sqs=lambda: boto3.client("sqs", region_name=REGION),
            now=self.clock.now,
        )
        for rule in rules.rules:
            functions = ", ".join(sorted({str(function_name(str(t["Arn"]))) for t in rule.targets}))
            self.log(
                f"  EventBridge rule {rule.name} -> {functions}: gets the Step Functions status changes "
                "the twin emits when a moto execution ends"
            )
        return rules

    def _execution_ended(self, execution: Any) -> None:
        """A moto execution ended (``execution_events.py``): its status-change event, on the default
        bus, to every rule that matches (each target on its own thread)."""
        try:
            self.event_rules.put(status_change_event(execution, self.clock.now()))
        except Exception as exc:  # on moto's worker thread: say so here, never lose it silently
            name = getattr(execution, "exec_arn", "?")
            self.log(
                f"execution {name}: its status-change event was not delivered: {type(exc).__name__}: {exc}"
            )

    def _fire(self, client: Any, schedule: dict[str, Any]) -> None:
        key = f"{schedule.get('GroupName')}/{schedule['Name']}"
        self.fired.add(key)
        METER.count("scheduler:Invocation")
        target = schedule["Target"]
        function = function_of(str(target["Arn"]))
        event = json.loads(target.get("Input") or "{}")
        try:
            self.lambdas.invoke(function, event)
        except FunctionFailed as exc:
            self.log(f"schedule {key} failed: {exc}")
        if schedule.get("ActionAfterCompletion") == "DELETE":
            with contextlib.suppress(Exception):
                client.delete_schedule(Name=schedule["Name"], GroupName=schedule.get("GroupName", "default"))

    # ----------------------------------------------------------------- queues
    def _queue_loop(self, url: str, function: str, batch: int) -> None:
        sqs: Any = boto3.client("sqs", region_name=REGION)
        arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{url.rsplit('/', 1)[-1]}"
        while not self._stop.wait(0.1):
            try:
                answer = sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=min(batch, 10),
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                )
            except Exception as exc:  # the twin is shutting down
                if not self._stop.is_set():
                    self.log(f"queue {url}: {exc}")
                continue
            messages = answer.get("Messages", [])
            if messages:
                self.deliver(sqs, url, arn, function, messages)

    def deliver(self, sqs: Any, url: str, arn: str, function: str, messages: list[dict[str, Any]]) -> None:
        """Call the consumer with an SQS event and delete what it did not report as failed."""
        records = [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody"),
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
        METER.count("sqs:ReceiveMessage")  # the event source mapping's receive that found these
        if function == "scrm-ticket-intake":  # the intake queue's metrics (the dashboard's)
            self.metrics.queue_batch("intake", messages)
        try:
            result = self.lambdas.invoke(function, {"Records": records})
            failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        except FunctionFailed:
            failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done)],
            )

    def _stream_loop(self, source: StreamSource) -> None:
        """A table stream's event source mapping, polled every 20 ms while records come, up to every
        100 ms when the stream is idle (each poll is the twin's CPU; ``streams.py``)."""
        pause = STREAM_POLL_SECONDS
        while not self._stop.wait(pause):
            try:
                taken = source.poll()
            except Exception as exc:  # on its own thread: say so, never lose it silently
                taken = 0
                if not self._stop.is_set():
                    self.log(f"stream {source.mapping.function}: {type(exc).__name__}: {exc}")
            pause = STREAM_POLL_SECONDS if taken else min(pause * 1.5, 5 * STREAM_POLL_SECONDS)

    # ----------------------------------------------------------------- messages
    def _collect_messages(self) -> None:
        """Move new SMS (SNS) and email (SES) from moto into ``messages``, stamped with the twin clock."""
        from moto.ses.models import ses_backends
        from moto.sns.models import sns_backends

        at = self.clock.now().isoformat()
        with self._fire_lock:
            sms = sns_backends[ACCOUNT][REGION].sms_messages
            for message_id, (phone, text) in list(sms.items()):
                if message_id not in self._seen_sms:
                    self._seen_sms.add(message_id)
                    self.messages.append(_message(at, "sms", phone, None, text))
            sent = ses_backends[ACCOUNT][REGION].sent_messages
            for message in sent[self._seen_email :]:
                body = getattr(message, "body", None) or getattr(message, "raw_data", "")
                destinations = getattr(message, "destinations", {})
                if isinstance(destinations, dict):
                    addresses = [
                        a
                        for key in ("ToAddresses", "CcAddresses", "BccAddresses")
                        for a in destinations.get(key, []) or []
                    ]
                else:  # raw messages keep a plain list
                    addresses = list(destinations or [])
                for to in addresses or [""]:
                    self.messages.append(
                        _message(at, "email", to, getattr(message, "subject", None), str(body))
                    )
            self._seen_email = len(sent)

    # ----------------------------------------------------------------- /_local routes
    def local_token(self, data: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        tenant, sub, roles = data.get("tenant"), data.get("sub"), data.get("roles", [])
        if not isinstance(tenant, str) or not isinstance(sub, str) or not sub:
            return _error(400, "bad_request", 'send {"tenant": "<id>", "sub": "<user id>", "roles": [...]}')
        if tenant not in self.issuer.tenants:
            return _error(
                404, "not_found", f"tenant '{tenant}' is not deployed; known: {sorted(self.issuer.tenants)}"
            )
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            return _error(400, "bad_request", "roles must be a list of strings")
        granted = self.people.get(tenant, {}).get(sub)
        if granted is not None and not set(roles) <= granted:
            # As Cognito would: a person of the tenant file has the roles the file gives them, no more.
            extra = ", ".join(r for r in roles if r not in granted)
            return _error(
                403,
                "forbidden",
                f"{sub} has the roles {', '.join(sorted(granted)) or 'none'} in {tenant}'s file, not {extra}",
            )
        return _json(200, {"token": self.issuer.issue(tenant, sub, roles), "token_type": "Bearer"})

    def local_advance(self, data: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        seconds = data.get("seconds")
        if (
            not isinstance(seconds, int | float)
            or isinstance(seconds, bool)
            or not 0 <= seconds <= MAX_ADVANCE
        ):
            return _error(
                400, "bad_request", f'send {{"seconds": <a number from 0 to {MAX_ADVANCE} (ten years)>}}'
            )
        now = self.clock.advance(float(seconds))
        fired = self.fire_due()
        return _json(200, {"now": now.isoformat(), "fired": fired})

    def local_sign(self, data: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        from infra.twin.signing import signed_delivery

        status, answer = signed_delivery(self.signable, data, self.clock.now)
        return _json(status, answer)

    def local_clock(self, _data: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        return _json(200, {"now": self.clock.now().isoformat(), "mode": self.clock.mode})

    def local_people(self, _data: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        """``GET /_local/people``: each tenant's users and technicians with their roles, in file order
        (the console's sign-in picker on the twin; Cognito's hosted UI takes its place in AWS)."""
        return _json(200, {"tenants": self.directory})

    def local_messages(self, _data: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        self._collect_messages()
        return _json(200, {"messages": self.messages})

    def local_outbox(self, data: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        """``GET /_local/outbox[?tenant=]``: the outbound webhooks the platform would have sent."""
        tenant = data.get("tenant") or None
        return _json(200, {"requests": self.outbox.listing(tenant)})

    def local_outbox_answers(self, data: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        """``POST /_local/outbox/answers {"url", "statuses"}``: what that endpoint answers next."""
        statuses = data.get("statuses")
        if not isinstance(statuses, list):
            raise ValueError("statuses: a list of HTTP statuses, e.g. [500, 500]")
        self.outbox.answer(str(data.get("url") or ""), statuses)
        return _json(200, {"url": data["url"], "statuses": statuses})

    def local_metrics(self, _data: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        self._sample_metrics()
        return _json(200, {"now": self.clock.now().isoformat(), "points": self.metrics.snapshot()})

    def local_dashboard(self, _data: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        from infra.twin.dashboard import render

        self._sample_metrics()
        tenants = sorted(self.issuer.tenants)
        page = render(self.metrics.snapshot(), tenants, self.clock.now())
        return 200, {"content-type": "text/html; charset=utf-8"}, page.encode("utf-8")

    def _sample_metrics(self) -> None:
        outputs = {k: v for d in self.deployments for k, v in d.outputs.items()}
        machines = [arn for d in self.deployments for arn in d.state_machines.values()]
        self.metrics.sample(
            boto3.client("sqs", region_name=REGION),
            {k.removesuffix("DlqUrl").lower(): v for k, v in outputs.items() if k.endswith("DlqUrl")},
            boto3.client("stepfunctions", region_name=REGION),
            machines,
        )

    def log_request(self, line: str) -> None:
        if not self.quiet_requests:
            self.log(line)


_STARTED_BEFORE = False


def _cold_start_everything() -> None:
    """A second twin in the same process is a new deployment: its functions start cold.

    Handler modules keep warm state between invocations, as Lambda does (clients, the table
    they are bound to, cached configuration); drop it so nothing points at the previous twin.
    """
    global _STARTED_BEFORE
    if not _STARTED_BEFORE:
        _STARTED_BEFORE = True
        return
    from aws_lambda_powertools.utilities import parameters

    from shared.settings import settings

    settings.cache_clear()
    parameters.clear_caches()
    for name in [m for m in sys.modules if m.startswith("functions.")]:
        del sys.modules[name]


def _message(at: str, channel: str, to: str, subject: str | None, body: str) -> dict[str, Any]:
    """One captured message; ``ticket_id`` and ``level`` from its reference line (``[SLA <ticket id>
    <level>]`` of a reminder, ``[DISPATCH <id> no_candidate]``, ``[FAILED <id> failed]``), or from a
    JSON body that carries them."""
    meta: dict[str, Any] = {}
    mark = re.search(r"\[(?:SLA|FAILED|DISPATCH) (?P<ticket_id>[^\s\]]+) (?P<level>[^\s\]]+)\]\s*$", body)
    if mark:
        meta = mark.groupdict()
    else:
        with contextlib.suppress(ValueError, TypeError):
            parsed = json.loads(body)
            if isinstance(parsed, dict):
                meta = parsed
    return {
        "at": at,
        "channel": channel,
        "to": to,
        "subject": subject,
        "body": body,
        "ticket_id": meta.get("ticket_id"),
        "level": meta.get("level"),
    }


def _at_time(schedule: dict[str, Any]) -> datetime | None:
    from zoneinfo import ZoneInfo

    found = _AT.match(str(schedule.get("ScheduleExpression", "")))
    if not found:
        return None
    zone = ZoneInfo(schedule.get("ScheduleExpressionTimezone") or "UTC")
    return datetime.fromisoformat(found.group(1)).replace(tzinfo=zone).astimezone(UTC)


def _secret_refs(channel: Any) -> list[str]:
    refs = []
    for attr in ("secret", "token", "aes_key"):
        ref = getattr(channel, attr, None)
        if ref is not None and getattr(ref, "ssm", None):
            refs.append(ref.ssm)
    return refs
