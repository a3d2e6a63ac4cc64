"""Tenant configuration objects against moto: the store's cache and conditional GET, the live
versions a ticket starts on (no control-plane call), and the provider answering CloudFormation."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from infra.twin.lambdas import _unversioned_start
from shared.adapters import cloudformation
from shared.adapters.stepfunctions import StepFunctionsEngine
from shared.errors import NotFound
from shared.settings import settings
from shared.tenant import load_tenant_file, store
from shared.tenant.models import TenantConfig
from shared.tenant.transport import config_key, config_to_json, encode_config, encode_object
from tests.factories import EXAMPLES
from tests.tenant_objects import deploy_config

REGION = "us-east-1"


@pytest.fixture
def acme(aws: None) -> Iterator[TenantConfig]:
    parameters.clear_caches()
    yield load_tenant_file(str(EXAMPLES / "acme-home.yaml"))
    parameters.clear_caches()


def watch_s3() -> list[tuple[str, int]]:
    """(operation, HTTP status) of every S3 call the store's provider makes from now on (after the
    deploy: ``deploy_config`` drops the cached provider, as a new container would start)."""
    calls: list[tuple[str, int]] = []

    def record(http_response: Any, model: Any, **_: Any) -> None:
        calls.append((model.name, int(http_response.status_code)))

    store._provider()._client.meta.events.register("after-call.s3", record)
    return calls


def test_a_deployed_tenant_is_read_once_per_cache_period_and_refreshed_by_a_304(acme: TenantConfig) -> None:
    deploy_config(acme)
    s3_calls = watch_s3()
    # When functions read the configuration three times, the last one forced fresh
    first = store.tenant_config("acme-home")
    again = store.tenant_config("acme-home")
    fresh = store.tenant_config("acme-home", fresh=True)
    # Then one full GET, no call for the cached read, and a 304 for the refresh that found nothing new
    assert first == acme and again is first and fresh is first
    assert s3_calls == [("GetObject", 200), ("GetObject", 304)]


def test_a_deploy_is_seen_on_refresh_and_an_unknown_tenant_is_not_found(acme: TenantConfig) -> None:
    deploy_config(acme)
    s3_calls = watch_s3()
    assert store.live_version("acme-home", "consult").endswith(":stateMachine:scrm-acme-home-consult:1")
    # a redeploy publishes version 2 of consult: a fresh read sees it (200, a new ETag)
    bucket = settings().config_bucket
    live = {t: f"{settings().state_machine_arn_prefix}scrm-acme-home-{t}:2" for t in acme.ticket_types}
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=bucket, Key=config_key("acme-home"), Body=encode_object(config_to_json(acme), live)
    )
    store.tenant_config("acme-home", fresh=True)
    assert store.live_version("acme-home", "consult").endswith(":scrm-acme-home-consult:2")
    with pytest.raises(NotFound):
        store.live_version("acme-home", "no-such-type")
    with pytest.raises(NotFound):
        store.tenant_config("nobody-co")
    with pytest.raises(NotFound):
        store.tenant_config("Not A Tenant")  # never reaches S3
    assert [c for c in s3_calls if c[0] == "GetObject"] == [
        ("GetObject", 200),
        ("GetObject", 200),
        ("GetObject", 404),
    ]


def test_deployed_tenants_lists_the_objects_and_forgets_a_deleted_one(acme: TenantConfig) -> None:
    bright = load_tenant_file(str(EXAMPLES / "bright-clean.yaml"))
    deploy_config(bright)
    deploy_config(acme)
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=settings().config_bucket, Key="tenants/acme-home/notes.txt", Body=b"x")
    assert store.deployed_tenants() == ["acme-home", "bright-clean"]
    # the stack of bright-clean is deleted: its provider removes the object (a delete marker)
    s3.delete_object(Bucket=settings().config_bucket, Key=config_key("bright-clean"))
    assert store.deployed_tenants() == ["acme-home"]


def test_a_ticket_starts_on_the_deployed_version_without_asking_the_alias() -> None:
    cfg = load_tenant_file(str(EXAMPLES / "acme-home.yaml"))
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):  # moto runs versions
        parameters.clear_caches()
        sfn = boto3.client("stepfunctions", region_name=REGION)
        definition = json.dumps({"StartAt": "done", "States": {"done": {"Type": "Succeed"}}})
        role = "arn:aws:iam::123456789012:role/scrm-workflows"
        made = sfn.create_state_machine(
            name="scrm-acme-home-consult", definition=definition, roleArn=role, publish=True
        )
        version = made["stateMachineVersionArn"]
        deploy_config(cfg, {t: version for t in cfg.ticket_types})

        def refuse(**_: Any) -> None:
            raise AssertionError("DescribeStateMachineAlias on the per-ticket path")

        sfn.meta.events.register("before-call.states.DescribeStateMachineAlias", refuse)
        asked: list[str] = []
        sfn.meta.events.register(
            "before-parameter-build.states.StartExecution",
            lambda params, **_: asked.append(params["stateMachineArn"]),
        )
        # moto cannot run a version ARN: start its machine, as the twin does (infra/twin/lambdas.py)
        sfn.meta.events.register("before-parameter-build.states.StartExecution", _unversioned_start)
        engine = StepFunctionsEngine(client=sfn)
        arn, started_on = engine.start("acme-home", "consult", "TK-1", {"ticket_id": "TK-1"})
        assert started_on == version and asked == [version]  # started on the deployed version
        described = sfn.describe_execution(executionArn=arn)
        assert json.loads(described["input"])["workflow_version"] == version
        # a retried start finds its execution (ExecutionAlreadyExists): the same ARN, and the one
        # Describe call left, DescribeExecution, to learn the version it runs on
        described_calls: list[str] = []
        sfn.meta.events.register("before-call.states", lambda model, **_: described_calls.append(model.name))
        retried = engine.start("acme-home", "consult", "TK-1", {"ticket_id": "TK-1", "retried": True})
        assert retried[0] == arn
        assert described_calls == ["StartExecution", "DescribeExecution"]
        parameters.clear_caches()


# ---------------------------------------------------------------- the provider's answer


class _ResponseUrl(BaseHTTPRequestHandler):
    answers: list[dict[str, Any]] = []
    fail_first: list[int] = []

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        if self.fail_first:
            self.fail_first.pop()
            self.send_response(503)
        else:
            type(self).answers.append(json.loads(body))
            self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def response_url() -> Iterator[str]:
    _ResponseUrl.answers = []
    _ResponseUrl.fail_first = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ResponseUrl)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/presigned"
    server.shutdown()
    server.server_close()


class _Seeder:
    def __init__(self, _function: str) -> None:
        pass

    def seed(self, tenant: str, roster: str) -> dict[str, Any]:
        return {"seeded": 3, "roster": roster}


class _Context:
    function_name = "scrm-ticket-onboard"
    memory_limit_in_mb = 768
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:scrm-ticket-onboard"
    aws_request_id = "req-1"


def _event(cfg: TenantConfig, url: str, **props: Any) -> dict[str, Any]:
    prefix = settings().state_machine_arn_prefix
    return {
        "RequestType": "Create",
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/ScrmTenant-acme-home/x",
        "RequestId": "req-abc",
        "ResourceType": "Custom::ScrmTenant",
        "LogicalResourceId": "ConfigTenant",
        "ResourceProperties": {
            "Tenant": cfg.tenant.id,
            "Config": encode_config(cfg),
            "Live": {t: f"{prefix}scrm-{cfg.tenant.id}-{t}:1" for t in cfg.ticket_types},
            "Roster": "r1",
            **props,
        },
    }


def test_the_provider_answers_cloudformation_on_success_and_on_failure(
    acme: TenantConfig, response_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.ticket import onboard_handler

    monkeypatch.setattr(onboard_handler, "LambdaSeeder", _Seeder)
    deploy_config(acme)  # creates the bucket
    boto3.client("s3", region_name=REGION).delete_object(
        Bucket=settings().config_bucket, Key=config_key("acme-home")
    )
    # A request that cannot be carried out is answered FAILED with its reason: nothing written
    _ResponseUrl.fail_first = [1]  # and the first PUT meets a 503: it is sent again
    onboard_handler.onboard(_event(acme, response_url, Live={}), _Context())  # type: ignore[arg-type]
    (failed,) = _ResponseUrl.answers
    assert failed["Status"] == "FAILED" and "Live names" in failed["Reason"]
    assert failed["PhysicalResourceId"] == "failed-req-abc"
    assert (failed["RequestId"], failed["LogicalResourceId"]) == ("req-abc", "ConfigTenant")
    with pytest.raises(NotFound):
        store.tenant_config("acme-home", fresh=True)
    # A good request writes the object and answers SUCCESS with its key as the physical id
    onboard_handler.onboard(_event(acme, response_url), _Context())  # type: ignore[arg-type]
    ok = _ResponseUrl.answers[-1]
    assert ok["Status"] == "SUCCESS", ok
    assert ok["PhysicalResourceId"] == "tenants/acme-home/config.json.gz"
    assert ok["Data"]["Seeded"] == "3" and ok["Data"]["ConfigVersionId"]
    assert len(json.dumps(ok)) <= cloudformation.MAX_BODY
    assert store.tenant_config("acme-home", fresh=True) == acme
