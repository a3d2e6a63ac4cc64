"""``scrm demo``: the guided tour on the local twin, printed for a person to read."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from infra.twin.client import TwinClient

START = datetime.fromisoformat("2026-11-23T09:00:00+08:00")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _say(text: str = "") -> None:
    print(text, flush=True)


def _step(n: int, text: str) -> None:
    _say(f"\n[{n}] {text}")


def _show_history(events: list[dict[str, Any]]) -> None:
    for e in events:
        at = datetime.fromisoformat(e["at"]).astimezone(SHANGHAI).strftime("%H:%M:%S")
        what = e["kind"] + (f" '{e['action']}'" if e.get("action") else "")
        extra = ""
        if e.get("changes", {}).get("fields"):
            extra = " " + json.dumps(e["changes"]["fields"], ensure_ascii=False)
        _say(f"      {at}  {e['actor']:<8} {e.get('node') or '':<16} {what}{extra}")


def run_demo(tenant_files: list[str]) -> int:
    from infra.twin.twin import LocalTwin

    started = time.monotonic()
    _say("scrm demo: a work-order platform on the local twin (CDK app deployed into embedded AWS, moto)")
    _say(f"tenants: {', '.join(tenant_files)}; twin clock starts at {START.isoformat()} (manual)")
    twin = LocalTwin(
        tenant_files, port=0, clock="manual", start=START, log=lambda line: _say(f"    twin | {line}")
    ).start()
    try:
        _say(f"    twin | listening on {twin.url}")
        anon = TwinClient(twin.url)
        agent = anon.as_user("acme-home", "u-lin", ["agent"])

        _step(1, "林客服 (agent) opens a 售前咨询 (consult) ticket through POST /tickets")
        created = agent.post(
            "/tickets",
            {
                "type": "consult",
                "fields": {
                    "customer_name": "陈女士",
                    "customer_phone": "+8613900000000",
                    "question": "这款空调适合20平米的卧室吗?",
                },
            },
        )
        if created.status != 201:
            _say(f"    unexpected answer {created.status}: {created.body}")
            return 1
        ticket_id = created.body["id"]
        _say(f"    201 created {ticket_id}: node={created.body['node']} status={created.body['status']}")

        _step(2, "the tenant's state machine runs; the 'answer' node parks on a task token")
        ready = agent.wait_ready(ticket_id, node="answer")
        _say(
            f"    node={ready['node']} ready={ready['ready']} assignee={ready['assignee']} "
            f"version={ready['version']}"
        )

        _step(3, "a bad action is refused with a clear error (missing form field)")
        bad = agent.post(
            f"/tickets/{ticket_id}/actions", {"action": "answered", "fields": {}, "version": ready["version"]}
        )
        _say(f"    {bad.status} {bad.body['error']}: {bad.body['message']} {bad.body['details']}")

        anon.post("/_local/clock/advance", {"seconds": 600})
        _step(
            4,
            "ten minutes later (twin clock) the agent answers: POST /tickets/{id}/actions {action: answered}",
        )
        acted = agent.post(
            f"/tickets/{ticket_id}/actions",
            {
                "action": "answered",
                "fields": {"answer": "适合, 推荐1.5匹变频款"},
                "version": ready["version"],
            },
        )
        _say(f"    {acted.status}: node={acted.body['node']} version={acted.body['version']}")
        done = agent.wait_status(ticket_id, "closed")
        _say(
            f"    the workflow reached '{done['node']}': status={done['status']} "
            f"closed_at={done['closed_at']}"
        )

        _step(5, "the same action again, with the old version, is refused (optimistic locking)")
        again = agent.post(
            f"/tickets/{ticket_id}/actions",
            {"action": "answered", "fields": {"answer": "x"}, "version": ready["version"]},
        )
        _say(f"    {again.status} {again.body['error']}: {again.body['message']}")

        _step(6, "GET /tickets/{id}/history: every change, with time, actor, node and action")
        _show_history(agent.get(f"/tickets/{ticket_id}/history").body["events"])

        _step(7, "without a token the API answers 401")
        anon_get = anon.get(f"/tickets/{ticket_id}")
        _say(f"    {anon_get.status} {anon_get.body['message']}")
    finally:
        twin.stop()
    _say(
        f"\ndemo finished in {time.monotonic() - started:.1f}s. Next: `scrm local examples/tenants/*.yaml` "
        "and try the routes in README.md."
    )
    return 0
