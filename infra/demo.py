"""``scrm demo``: the guided tour on the local twin, printed for a person to read.

Part 1 walks a 售前咨询 (consult) ticket through the API, with the sales opportunity its answer
opens (won, in the pipeline, out to the tenant's CRM as a signed webhook). Part 2 takes a signed
Shopify order in as a webhook and follows the 售中安装 (install) ticket it becomes: dispatch with
its explanation, an SLA reminder on the twin clock, the technician's completion, the customer's
confirmation, settlement against the tiered price list, and the installer's earnings. Part 3: the
install's 回访 follow-up opens three business days later, its decision node routes an unhappy
customer to a supervisor, and the customer's timeline gathers what came from two channels.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from infra.twin.client import TwinClient

START = datetime.fromisoformat("2026-11-23T09:00:00+08:00")  # a Monday morning in Beijing
SHANGHAI = ZoneInfo("Asia/Shanghai")
TENANT = "acme-home"


def _say(text: str = "") -> None:
    print(text, flush=True)


def _step(n: str, text: str) -> None:
    _say(f"\n[{n}] {text}")


def _local(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(SHANGHAI).strftime("%a %H:%M")


def _show_history(events: list[dict[str, Any]]) -> None:
    for e in events:
        what = e["kind"] + (f" '{e['action']}'" if e.get("action") else "")
        extra = ""
        if e.get("changes", {}).get("fields"):
            extra = " " + json.dumps(e["changes"]["fields"], ensure_ascii=False)[:70]
        _say(f"      {_local(e['at'])}  {e['actor']:<20} {e.get('node') or '':<17} {what}{extra}")


def _consult(agent: TwinClient, anon: TwinClient) -> None:
    _step("1.1", "林客服 (agent) opens a 售前咨询 (consult) ticket: POST /tickets")
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
    ticket_id = created.body["id"]
    _say(
        f"    {created.status} created {ticket_id}: "
        f"node={created.body['node']} status={created.body['status']}"
    )

    _step("1.2", "the tenant's state machine runs; the 'answer' node parks on a task token")
    ready = agent.wait_ready(ticket_id, node="answer")
    _say(
        f"    node={ready['node']} ready={ready['ready']} "
        f"assignee={ready['assignee']} version={ready['version']}"
    )

    _step("1.3", "a bad action is refused with a clear error (the form is incomplete)")
    bad = agent.post(
        f"/tickets/{ticket_id}/actions", {"action": "answered", "fields": {}, "version": ready["version"]}
    )
    _say(f"    {bad.status} {bad.body['error']}: {bad.body['message']} {bad.body['details']}")

    anon.post("/_local/clock/advance", {"seconds": 600})
    _step("1.4", "ten minutes later (twin clock) the agent answers")
    acted = agent.post(
        f"/tickets/{ticket_id}/actions",
        {
            "action": "answered",
            "fields": {"answer": "适合, 推荐1.5匹变频款, 可加购延保"},
            "version": ready["version"],
        },
    )
    _say(f"    {acted.status}: node={acted.body['node']} version={acted.body['version']}")
    done = agent.wait_status(ticket_id, "closed")
    _say(f"    the workflow reached '{done['node']}': status={done['status']}")

    _step("1.5", "the same action sent again (a double click, a retry) is refused: the ticket has moved on")
    again = agent.post(
        f"/tickets/{ticket_id}/actions",
        {"action": "answered", "fields": {"answer": "x"}, "version": ready["version"]},
    )
    _say(f"    {again.status} {again.body['error']}: {again.body['message']}")

    _step("1.6", "GET /tickets/{id}/history: every change, with time, actor, node and action")
    _show_history(agent.get(f"/tickets/{ticket_id}/history").body["events"])

    _step("1.7", "without a token the API answers 401")
    anon_get = anon.get(f"/tickets/{ticket_id}")
    _say(f"    {anon_get.status} {anon_get.body['message']}")

    _step(
        "1.8", "the answer offered the extended warranty (延保): the consult's opportunity rule opened a lead"
    )
    supervisor = anon.as_user("acme-home", "u-zhao", ["supervisor", "dispatcher"])
    listed = supervisor.get("/opportunities?status=open&owner=role:supervisor").body["items"]
    opp = next(o for o in listed if o["ticket_id"] == ticket_id)
    _say(
        f"    {opp['id']}: {opp['kind']} {opp['amount']} {opp['currency']} "
        f"owner={opp['owner']} stage={opp['stage']}"
    )
    won = supervisor.post(f"/opportunities/{opp['id']}/actions", {"action": "win", "version": opp["version"]})
    _say(f"    赵主管 wins it: {won.status} status={won.body['status']}; GET /reports/pipeline:")
    for row in supervisor.get("/reports/pipeline").body["rows"]:
        _say(
            f"      {row['stage']:<8} {row['kind']:<20} {row['count']:>3} "
            f"{row['amount']:>10} {row['currency']}"
        )
    won_events: list[Any] = []
    for _ in range(100):  # the table stream publishes the events; the twin captures the webhooks
        sent = anon.get("/_local/outbox?tenant=acme-home").body.get("requests", [])
        won_events = [
            m for m in sent if "opportunity.won" in str(m.get("body")) and opp["id"] in str(m.get("body"))
        ]
        if won_events:
            break
        time.sleep(0.1)
    _say(
        f"    the CRM subscription got {len(won_events)} signed opportunity.won webhook(s) "
        "(GET /_local/outbox: what would have been POSTed)"
    )


def _shopify_order() -> bytes:
    order = {
        "id": 820982911946154508,
        "name": "#1001",
        "currency": "CNY",
        "total_price": "3999.00",
        "customer": {"first_name": "伟", "last_name": "林"},
        "shipping_address": {
            "address1": "朝阳区建国路1号",
            "province_code": "CN-BJ",
            "phone": "+8613800000009",
        },
        "line_items": [{"title": "KFR-35GW 空调", "quantity": 1, "tags": ["install"]}],
    }
    return json.dumps(order, ensure_ascii=False).encode()


def _install(twin: Any, anon: TwinClient, agent: TwinClient) -> str:
    from functions.webhooks.adapters import shopify
    from infra.twin.twin import secrets_for
    from shared.domain.deliveries import delivery_ticket_id

    secret = secrets_for(twin.tenant_files, None)["/scrm/acme-home/shopify-main"]
    body = _shopify_order()
    headers = {
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Webhook-Id": "demo-order-1001",
        "X-Shopify-Hmac-Sha256": shopify.signature(secret, body),
    }
    _step("2.1", "Shopify sends a signed orders/create webhook: POST /webhooks/acme-home/shopify-main")
    forged = anon.request(
        "POST",
        "/webhooks/acme-home/shopify-main",
        raw=body,
        headers={**headers, "X-Shopify-Hmac-Sha256": "Zm9yZ2Vk"},
    )
    _say(f"    a forged copy: {forged.status} {forged.body['message']}")
    first = anon.request("POST", "/webhooks/acme-home/shopify-main", raw=body, headers=headers)
    again = anon.request("POST", "/webhooks/acme-home/shopify-main", raw=body, headers=headers)
    _say(
        f"    the signed one: {first.status}; Shopify's retry of it: {again.status} (stored once, one ticket)"
    )

    ticket_id = delivery_ticket_id(TENANT, "shopify-main", "demo-order-1001")
    _step(
        "2.2",
        f"the intake queue turns it into install ticket {ticket_id}; the dispatch node scores technicians",
    )
    ticket = agent.wait_ready(ticket_id, node="on_site", timeout=30)
    explanation = (ticket.get("dispatch") or {}).get("explanation") or {}
    _say(
        f"    {explanation.get('considered')} considered, {explanation.get('eligible')} eligible, "
        f"filtered out: {explanation.get('filtered') or 'none'}"
    )
    for c in explanation.get("top", [])[:3]:
        parts = ", ".join(
            f"{k} {v['normalized']}×{v['weight']}" for k, v in (c.get("criteria") or {}).items()
        )
        _say(f"    #{c['rank']} {c['technician']}: total {c['total']} ({parts})")
    _say(
        f"    assigned to {ticket['assignee']['id']}; node={ticket['node']} sla deadline "
        f"{_local(ticket['sla']['deadline']) if ticket.get('sla') else '-'}"
    )

    technician_id = ticket["assignee"]["id"]
    tech = anon.as_user(TENANT, technician_id, ["technician"])
    deadline = (ticket.get("dispatch") or {}).get("offer_expires_at")
    _step(
        "2.3",
        f"{technician_id} accepts the offer before it expires ({_local(deadline) if deadline else '-'})",
    )
    taken = tech.post(f"/tickets/{ticket_id}/actions", {"action": "accept", "version": ticket["version"]})
    _say(
        f"    {taken.status}: accepted at {_local(taken.body['dispatch']['accepted_at'])}; still at "
        f"node={taken.body['node']} (an offer nobody accepts in time is re-dispatched to someone else)"
    )

    before = len(anon.get("/_local/messages").body["messages"])
    _step(
        "2.4", "the work takes a while: the twin clock moves 29 hours; SLA reminders fire in business hours"
    )
    moved = anon.post("/_local/clock/advance", {"seconds": 29 * 3600}).body
    _say(f"    now {_local(moved['now'])}, {moved['fired']} schedule(s) fired")
    for m in anon.get("/_local/messages").body["messages"][before:]:
        _say(f"    {m['channel']:<5} to {m['to']:<22} level={m['level']} at {_local(m['at'])}")

    _step("2.5", f"{technician_id} completes the installation with photos, service items and parts")
    ticket = tech.wait_ready(ticket_id, node="on_site")
    done = tech.post(
        f"/tickets/{ticket_id}/actions",
        {
            "action": "complete",
            "version": ticket["version"],
            "fields": {
                "photos": ["photos/before.jpg", "photos/after.jpg"],
                "service_items": [{"code": "SVC-AC-INSTALL", "quantity": 1}],
                "parts": [
                    {"sku": "PRT-COPPER-PIPE", "quantity": "3.5"},
                    {"sku": "PRT-BRACKET", "quantity": 1},
                ],
            },
        },
    )
    _say(f"    {done.status}: node={done.body['node']}")

    _step("2.6", "林客服 records the customer's confirmation; the settlement node prices the work")
    ticket = agent.wait_ready(ticket_id, node="customer_confirm")
    agent.post(
        f"/tickets/{ticket_id}/actions",
        {"action": "confirm", "fields": {"satisfaction": "5"}, "version": ticket["version"]},
    )
    closed = agent.wait_status(ticket_id, "closed")
    s = closed.get("settlement") or {}
    _say(f"    tier {s.get('tier')}, catalog {s.get('catalog_version')}")
    for line in s.get("lines", []):
        _say(
            f"      {line['code']:<16} {line['quantity']:>5} x {line['unit_price']:>7} "
            f"x {line['coefficient']} = {line['amount']:>8}"
        )
    for sur in s.get("surcharges", []):
        _say(f"      surcharge {sur['code']:<10} {sur['amount']:>21}")
    _say(
        f"      total {s.get('total'):>30}   "
        f"installer earns {s.get('earnings') or s.get('installer_earnings')}"
    )

    _step("2.7", f"{technician_id} looks at their earnings: GET /technicians/{technician_id}/earnings")
    period = datetime.fromisoformat(closed["closed_at"]).astimezone(SHANGHAI).strftime("%Y-%m")
    earnings = tech.get(f"/technicians/{technician_id}/earnings?period={period}")
    _say(
        f"    {earnings.status}: {len(earnings.body.get('lines', []))} line(s), "
        f"total {earnings.body.get('total')}"
    )
    _step("2.8", "the ticket's history")
    _show_history(agent.get(f"/tickets/{ticket_id}/history").body["events"])
    return ticket_id


def _rules_and_customers(twin: Any, anon: TwinClient, agent: TwinClient, install_id: str) -> None:
    closed = agent.get(f"/tickets/{install_id}").body
    follow_ups = closed.get("follow_ups") or []
    _step("3.1", "the closed install planned its 回访 (callback): a follow-up 3 business days later")
    for entry in follow_ups:
        _say(f"    {entry['key']}: {entry['ticket_type']} due {_local(entry['at'])} ({entry['status']})")
    if not follow_ups:
        return
    due = datetime.fromisoformat(follow_ups[0]["at"])
    now = datetime.fromisoformat(anon.get("/_local/clock").body["now"])
    moved = anon.post("/_local/clock/advance", {"seconds": max((due - now).total_seconds(), 0)}).body
    child_id = f"{install_id}-{follow_ups[0]['key']}"
    call = agent.wait_ready(child_id, node="call", timeout=30)
    _say(
        f"    the clock reaches {_local(moved['now'])}: ticket {call['id']} ({call['type']}) opened, "
        f"parent {call['parent_id']}, for {call['fields'].get('customer_name')}"
    )
    _step("3.2", "the customer is not satisfied: the decision node routes to a supervisor by itself")
    agent.post(
        f"/tickets/{child_id}/actions",
        {"action": "called", "fields": {"satisfied": "no"}, "version": call["version"]},
    )
    review = agent.wait_ready(child_id, node="review")
    _say(
        f"    node={review['node']} assignee={review['assignee']['kind']}:{review['assignee']['id']} "
        "(a Step Functions Choice on the facts the action carried: no Lambda ran for it)"
    )
    _step("3.3", "one customer across channels: the same customer writes to the guide's WeCom")
    consult_id = _wecom_message(twin, anon, "空调遥控器怎么配对？顺便想再装一台, 我的电话 138 0000 0009")
    consult = agent.wait_ready(consult_id, node="answer", timeout=30)
    customer_id = consult.get("customer_id")
    same = " (the Shopify order's, by phone)" if customer_id == closed.get("customer_id") else ""
    _say(
        f"    ticket {consult_id} (consult, channel wecom-service): phone_in(Content) read "
        f"{consult['fields'].get('customer_phone')} → customer {customer_id}{same}"
    )
    timeline = agent.get(f"/customers/{customer_id}/timeline?limit=20").body
    for item in timeline.get("items", []):
        channel = item.get("channel") or "api"
        _say(f"      {_local(item['at'])} {item['kind']:<22} {item['ref']} {channel}")
    _guide_commission(anon, agent, consult)


def _wecom_message(twin: Any, anon: TwinClient, content: str) -> str:
    """POST an encrypted WeCom text message to wecom-service; the id of the consult it becomes."""
    from functions.webhooks.adapters import wecom
    from infra.twin.twin import secrets_for
    from shared.domain.deliveries import delivery_ticket_id

    secrets = secrets_for(twin.tenant_files, None)
    msg_id = "7100000000000000001"
    message = wecom.text_message("ww-demo", "wm-lin-wei", content, msg_id, create_time="1764000000")
    query, body = wecom.envelope(
        message,
        token=secrets["/scrm/acme-home/wecom-token"],
        aes_key=secrets["/scrm/acme-home/wecom-aes-key"],
        corp_id="ww-demo",
        timestamp="1764000000",
        nonce="demo",
    )
    answer = anon.request(
        "POST",
        f"/webhooks/{TENANT}/wecom-service?{urlencode(query)}",
        raw=body,
        headers={"content-type": "text/xml"},
    )
    _say(f"    POST /webhooks/{TENANT}/wecom-service (AES-encrypted, signed): {answer.status}")
    return delivery_ticket_id(TENANT, "wecom-service", f"wecom:{msg_id}")


def _guide_commission(anon: TwinClient, agent: TwinClient, consult: dict[str, Any]) -> None:
    _step("3.4", "导购提成: the consult becomes an install; its settlement pays the channel's guide 5 %")
    answered = agent.post(
        f"/tickets/{consult['id']}/actions",
        {"action": "to_install", "fields": {"answer": "已预约安装"}, "version": consult["version"]},
    )
    _say(f"    林客服 answers to_install: {answered.status}")
    install_id = f"{consult['id']}-handoff-1"
    install = agent.wait_ready(install_id, timeout=30)
    missing = (install.get("incomplete") or {}).get("missing") or []
    _say(
        f"    linked ticket {install_id} (channel {install.get('channel')}, same customer) waits at "
        f"{install['node']}: the WeCom chat gave no {', '.join(missing) or 'gap'}"
    )
    patched = agent.request(
        "PATCH",
        f"/tickets/{install_id}/fields",
        {"fields": {"address": "朝阳区建国路1号", "region": "CN-BJ"}, "version": install["version"]},
    )
    _say(f"    林客服 fills them in: PATCH /tickets/{install_id}/fields → {patched.status}")
    dispatcher = anon.as_user(TENANT, "u-zhao", ["supervisor", "dispatcher"])
    install = dispatcher.wait_ready(install_id, node="manual_dispatch")
    dispatcher.post(
        f"/tickets/{install_id}/actions",
        {"action": "assign", "fields": {"technician": "t-wang"}, "version": install["version"]},
    )
    tech = anon.as_user(TENANT, "t-wang", ["technician"])
    install = tech.wait_ready(install_id, node="on_site")
    tech.post(
        f"/tickets/{install_id}/actions",
        {
            "action": "complete",
            "version": install["version"],
            "fields": {
                "photos": ["photos/2-before.jpg", "photos/2-after.jpg"],
                "service_items": [{"code": "SVC-AC-INSTALL", "quantity": 1}],
            },
        },
    )
    install = agent.wait_ready(install_id, node="customer_confirm")
    agent.post(
        f"/tickets/{install_id}/actions",
        {"action": "confirm", "fields": {"satisfaction": "5"}, "version": install["version"]},
    )
    closed = agent.wait_status(install_id, "closed")
    settlement = closed.get("settlement") or {}
    _say(f"    u-zhao assigns t-wang, who completes; confirmed and settled: total {settlement.get('total')}")
    period = datetime.fromisoformat(closed["closed_at"]).astimezone(SHANGHAI).strftime("%Y-%m")
    guide = anon.as_user(TENANT, "u-sun", ["agent"]).get(f"/staff/u-sun/earnings?period={period}")
    for line in (guide.body or {}).get("lines", []):
        _say(
            f"    孙导购 (u-sun) GET /staff/u-sun/earnings: {line.get('ticket_id')} "
            f"{line.get('party')} {line.get('amount')}"
        )
    _say(f"    statement total {(guide.body or {}).get('total')} ({guide.status})")


def run_demo(tenant_files: list[str]) -> int:
    from infra.twin.meter import METER
    from infra.twin.twin import LocalTwin

    started = time.monotonic()
    _say("scrm demo: a work-order platform on the local twin (the CDK app deployed into embedded AWS, moto)")
    _say(f"tenants: {', '.join(tenant_files)}; twin clock starts at {START.isoformat()} (manual)")
    twin = LocalTwin(
        tenant_files,
        port=0,
        clock="manual",
        start=START,
        # the deploy's per-resource detail (indented lines) is `scrm local`'s; the demo shows its steps
        log=lambda line: None if line.startswith("  ") else _say(f"    twin | {line}"),
        function_log_level="ERROR",
    ).start()
    try:
        _say(f"    twin | listening on {twin.url}")
        anon = TwinClient(twin.url)
        agent = anon.as_user(TENANT, "u-lin", ["agent"])
        METER.reset()
        _say("\n=== Part 1: a consult ticket through the API ===")
        _consult(agent, anon)
        _say(
            "\n=== Part 2: an e-commerce order becomes an installation, dispatched, reminded and settled ==="
        )
        install_id = _install(twin, anon, agent)
        _say("\n=== Part 3: rules that route by themselves, follow-ups, one customer across channels ===")
        _rules_and_customers(twin, anon, agent, install_id)
        usage = METER.snapshot()
        _say("\n=== Summary ===")
        sent = Counter(m["channel"] for m in anon.get("/_local/messages").body["messages"])
        _say(
            f"    Lambda invocations: {sum(usage['lambda_calls'].values())}, "
            f"DynamoDB RRU {usage['rru']:.1f} / WRU {usage['wru']:.1f}, messages to staff: "
            + (", ".join(f"{n} {channel}" for channel, n in sorted(sent.items())) or "none")
        )
    finally:
        twin.stop()
    _say(f"\ndemo finished in {time.monotonic() - started:.1f}s. Next:")
    _say("  .venv/bin/scrm local examples/tenants/*.yaml   # the twin on http://127.0.0.1:8400")
    _say("  then open the web console at http://127.0.0.1:8400/app/ and sign in as 王师傅 (technician),")
    _say("  林客服 (agent), 赵主管 (dispatcher) or 钱会计 (finance); the routes are in README.md")
    _say("  .venv/bin/scrm init --list                      # your own tenant from an industry template")
    _say("  .venv/bin/scrm bench lifecycle                  # what a ticket costs")
    return 0
