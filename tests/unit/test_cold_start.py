"""What a function loads at init (its handler module's import) and the tracer that loads late.

Each check runs a fresh interpreter in a Lambda-like environment (``LAMBDA_TASK_ROOT`` set, X-Ray
tracing on), because what matters is the set of modules a cold start imports, and the tracer's
process-wide state (the X-Ray recorder, botocore's patch) must start clean. No timing here: the
times are ``scrm bench coldstart``'s job.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from infra.constructs.functions import FUNCTIONS
from tests.conftest import ROOT

XRAY = "aws_xray_sdk.core"
HTTP_RESOLVER = "aws_lambda_powertools.event_handler"
FIRST_REQUEST = ("pynamodb", "shared.tenant.models")
"""What the HTTP APIs load on their first request, not at init: the repositories and the tenant models."""


def _run(code: str) -> Any:
    """The JSON the code prints last, run in a fresh interpreter as Lambda would run it."""
    env = {k: v for k, v in os.environ.items() if k != "POWERTOOLS_TRACE_DISABLED"}
    env |= {
        "LAMBDA_TASK_ROOT": str(ROOT),
        "AWS_LAMBDA_FUNCTION_NAME": "scrm-test",
        "AWS_REGION": "us-east-1",
        "TABLE_NAME": "scrm",
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    }
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_no_handler_loads_the_xray_sdk_at_init_and_no_task_loads_the_http_resolver() -> None:
    # Given every platform function's handler, imported in a fresh interpreter each
    loaded = {}
    for spec in FUNCTIONS:
        module, _, attr = spec.handler.rpartition(".")
        loaded[spec.name] = _run(
            f"""
            import json, sys
            import {module} as m
            assert callable(m.{attr})
            watched = ({XRAY!r}, {HTTP_RESOLVER!r}, *{FIRST_REQUEST!r})
            print(json.dumps([name for name in watched if name in sys.modules]))
            """
        )
    # Then none imported the X-Ray SDK (the tracer starts on the first event) ...
    assert {name: mods for name, mods in loaded.items() if XRAY in mods} == {}
    # ... and the workflow tasks, queue consumers and timers did not load the HTTP resolver
    tasks = {spec.name for spec in FUNCTIONS if spec.kind == "task"}
    assert {name for name in tasks if HTTP_RESOLVER in loaded[name]} == set()
    apis = {spec.name for spec in FUNCTIONS if spec.kind == "api"}
    assert all(HTTP_RESOLVER in loaded[name] for name in apis)  # the check sees what it looks for
    # ... and the HTTP APIs left the repositories (pynamodb) and the tenant models to their first request
    assert {name: sorted(set(loaded[name]) & set(FIRST_REQUEST)) for name in apis} == {
        name: [] for name in apis
    }


def test_the_first_traced_event_starts_the_tracer_and_traces_the_handler_and_its_aws_calls() -> None:
    result = _run(
        f"""
        import json, sys
        import boto3
        from botocore.stub import Stubber
        from shared.observability import tracer

        client = boto3.client("sqs", region_name="us-east-1")
        stub = Stubber(client)
        stub.add_response("list_queues", {{"QueueUrls": []}})
        stub.activate()

        @tracer.capture_lambda_handler
        def handler(event, context):
            return client.list_queues()

        before = {{"xray": {XRAY!r} in sys.modules, "started": tracer.started}}
        from aws_xray_sdk.core.emitters.udp_emitter import UDPEmitter

        sent = []
        UDPEmitter.send_entity = lambda self, entity: sent.append(json.loads(entity.serialize()))
        answer = handler({{}}, None)
        entities = [e["name"] for e in sent] + [s["name"] for e in sent for s in e.get("subsegments", [])]
        print(json.dumps({{
            "before": before,
            "started": tracer.started,
            "disabled": tracer.disabled,
            "answer": answer["QueueUrls"],
            "entities": sorted(entities),
        }}))
        """
    )
    # Given a handler decorated at import: nothing of X-Ray was loaded then
    assert result["before"] == {"xray": False, "started": False}
    # When its first event arrives in Lambda, the tracer starts (tracing on) and the handler answers
    assert result["started"] is True and result["disabled"] is False
    assert result["answer"] == []
    # Then the handler's subsegment and the AWS call it made (botocore, patched at start) are traced
    assert "## handler" in result["entities"]
    assert "sqs" in result["entities"]


def test_outside_lambda_the_tracer_starts_disabled_and_the_handler_runs_untraced() -> None:
    result = _run(
        """
        import json, os
        del os.environ["LAMBDA_TASK_ROOT"]
        from shared.observability import tracer

        @tracer.capture_lambda_handler
        def handler(event, context):
            return {"ok": event["n"] + 1}

        print(json.dumps({"answer": handler({"n": 1}, None), "disabled": tracer.disabled}))
        """
    )
    assert result == {"answer": {"ok": 2}, "disabled": True}
