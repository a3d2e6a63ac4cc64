"""``scrm bench lifecycle``: what one ticket of each type costs in state transitions.

Drives one ticket of every ticket type of the example tenants along its shortest path to an
end node, through the local twin's HTTP API (an admin acts on every human node with a valid
generated form), then reads the execution's history from Step Functions and counts the
states entered. The floor is the number of nodes on that shortest path: every node a ticket
visits costs at least one state. Cost uses Standard workflow pricing.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import boto3

from infra.twin.client import TwinClient
from infra.twin.twin import LocalTwin
from shared.tenant import load_tenant_file
from shared.tenant.models import FieldDef, TenantConfig, TicketType

PRICE_PER_1000_TRANSITIONS = Decimal("0.025")  # USD, Standard workflows, us-east-1
START = datetime.fromisoformat("2026-11-23T10:00:00+08:00")  # a Monday morning: technicians on duty


_WRITE_REQUESTS = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:TransactWriteItems",
    "dynamodb:BatchWriteItem",
)


def floor_writes(ticket_type: TicketType, path: list[str]) -> int:
    """The fewest DynamoDB write requests a ticket from a webhook along ``path`` can make.

    One to record the delivery (the dedupe key), one to create the ticket, one per node entered
    (a system node's own result: the assignment, the settlement, the closing; a human node's parked
    token) and one per action taken on a human node. Each is a fact that must be durable before
    the next step can rely on it, so none can be folded into another request without a
    transaction that spans two steps.
    """
    humans = sum(1 for name in path if ticket_type.nodes[name].kind == "human")
    return 2 + len(path) + humans


def floor_states(ticket_type: TicketType, path: list[str]) -> int:
    """States a ticket must enter along ``path``: one per node (a decision is its Choice state)."""
    return len(path)


def shortest_path(ticket_type: TicketType) -> list[str]:
    """Nodes from the start to the nearest end node (breadth first, file order on ties)."""
    previous: dict[str, str | None] = {ticket_type.start: None}
    queue = deque([ticket_type.start])
    while queue:
        name = queue.popleft()
        if ticket_type.nodes[name].kind == "end":
            path = [name]
            while (before := previous[path[-1]]) is not None:
                path.append(before)
            return path[::-1]
        for target in ticket_type.nodes[name].targets().values():  # decisions' rules and default too
            if target not in previous:
                previous[target] = name
                queue.append(target)
    return []


def sample_value(spec: FieldDef, cfg: TenantConfig) -> Any:
    """A valid value for a field (the first option, a known code, a plausible string)."""
    samples: dict[str, Any] = {
        "text": "bench",
        "phone": "+8613900000000",
        "email": "bench@example.com",
        "number": 1,
        "money": "10.00",
        "date": "2026-11-23",
        "datetime": "2026-11-23T10:00:00+08:00",
        "geo": {"lat": 39.91, "lon": 116.40},
        "photos": ["photos/1.jpg", "photos/2.jpg", "photos/3.jpg"],
        "region": cfg.regions[0].code,
        "technician": cfg.technicians[0].id if cfg.technicians else "",
        "service_items": [{"code": cfg.catalog.service_items[0].code, "quantity": 1}],
        "parts": [{"sku": cfg.catalog.parts[0].sku, "quantity": 1}] if cfg.catalog.parts else [],
    }
    if spec.type in ("select", "multiselect"):
        first = (spec.options or [""])[0]
        return [first] if spec.type == "multiselect" else first
    return samples[spec.type]


def _form(fields: list[FieldDef], cfg: TenantConfig) -> dict[str, Any]:
    return {
        f.name: sample_value(f, cfg) for f in fields if f.required or f.type in ("service_items", "parts")
    }


def drive(client: TwinClient, cfg: TenantConfig, type_id: str) -> dict[str, Any]:
    ticket_type = cfg.ticket_types[type_id]
    path = shortest_path(ticket_type)
    fields = _form(ticket_type.fields, cfg)
    if "region" in {f.name for f in ticket_type.fields}:
        covered = {r for t in cfg.technicians for r in t.regions}
        fields["region"] = next((r.code for r in cfg.regions if r.code in covered), cfg.regions[0].code)
    created = client.post("/tickets", {"type": type_id, "fields": fields})
    if created.status != 201:
        return {"type": type_id, "outcome": f"refused {created.status}: {created.body}"}
    ticket_id = created.body["id"]
    deadline = time.monotonic() + 60
    outcome = "timeout"
    while time.monotonic() < deadline:
        ticket = client.get(f"/tickets/{ticket_id}").body
        if ticket["status"] != "open":
            outcome = ticket["status"]
            break
        if _execution_failed(cfg.tenant.id, ticket):
            outcome = f"stopped at {ticket['node']}"
            break
        if ticket["ready"]:
            node = ticket_type.nodes[ticket["node"]]
            step = path.index(ticket["node"]) if ticket["node"] in path else -1
            wanted = path[step + 1] if 0 <= step < len(path) - 1 else None
            action = next((a for a, t in node.actions.items() if t == wanted), next(iter(node.actions)))
            client.post(
                f"/tickets/{ticket_id}/actions",
                {"action": action, "fields": _form(node.form, cfg), "version": ticket["version"]},
            )
        time.sleep(0.02)
    entered = _states_entered(cfg.tenant.id, type_id, ticket_id)
    return {
        "tenant": cfg.tenant.id,
        "type": type_id,
        "outcome": outcome,
        "path": path,
        "floor": floor_states(ticket_type, path),
        "transitions": len(entered),
        "states": entered,
        "cost_per_ticket_usd": float(PRICE_PER_1000_TRANSITIONS * len(entered) / 1000),
    }


def _execution_arn(tenant: str, type_id: str, ticket_id: str) -> str:
    return f"arn:aws:states:us-east-1:123456789012:execution:scrm-{tenant}-{type_id}:{ticket_id}"


def _execution_failed(tenant: str, ticket: dict[str, Any]) -> bool:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    arn = _execution_arn(tenant, ticket["type"], ticket["id"])
    return sfn.describe_execution(executionArn=arn)["status"] in ("FAILED", "ABORTED", "TIMED_OUT")


def _states_entered(tenant: str, type_id: str, ticket_id: str) -> list[str]:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    arn = _execution_arn(tenant, type_id, ticket_id)
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def _install_ticket(
    anon: TwinClient,
    agent: TwinClient,
    secret: str,
    n: int,
    phase: Callable[[str, str], None] | None = None,
) -> tuple[str, str]:
    """One install ticket from a signed Shopify webhook to settlement; returns (ticket id, outcome).

    ``phase(name, ticket_id)`` is called at each boundary the capacity model needs: ``"create"`` once the
    ticket is parked at its first human node (webhook, intake, start, dispatch), ``"action"`` after
    each action once the workflow has settled again (the technician's ``complete``, then the
    agent's ``confirm`` through settlement to the end)."""
    import json

    from functions.webhooks.adapters import shopify
    from shared.domain.deliveries import delivery_ticket_id

    delivery = f"bench-{n}"
    body = json.dumps(
        {
            "id": n,
            "customer": {"first_name": "Bench", "last_name": str(n)},
            "shipping_address": {
                "address1": f"{n} Bench Rd",
                "province_code": "CN-BJ",
                # one customer per order, as a shop's traffic is (a shared one would be a hot key
                # of the benchmark's making, not the product's)
                "phone": f"+86138{n % 10**8:08d}",
            },
            "line_items": [{"title": "AC", "quantity": 1, "tags": ["install"]}],
        }
    ).encode()
    headers = {
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Webhook-Id": delivery,
        "X-Shopify-Hmac-Sha256": shopify.signature(secret, body),
    }
    answer = anon.request("POST", "/webhooks/acme-home/shopify-main", raw=body, headers=headers)
    if answer.status != 200:
        return "", f"webhook refused {answer.status}"
    ticket_id = delivery_ticket_id("acme-home", "shopify-main", delivery)
    ticket = _wait(ticket_id, node="on_site")
    if phase:
        phase("create", ticket_id)
    if ticket["status"] != "open":
        return ticket_id, ticket["status"]
    technician = anon.as_user("acme-home", ticket["assignee"]["id"], ["technician"])
    technician.post(
        f"/tickets/{ticket_id}/actions",
        {
            "action": "complete",
            "version": ticket["version"],
            "fields": {
                "photos": ["p/1.jpg", "p/2.jpg"],
                "service_items": [{"code": "SVC-AC-INSTALL", "quantity": 1}],
                "parts": [{"sku": "PRT-BRACKET", "quantity": 1}],
            },
        },
    )
    ticket = _wait(ticket_id, node="customer_confirm")
    if phase:
        phase("action", ticket_id)
    agent.post(
        f"/tickets/{ticket_id}/actions",
        {"action": "confirm", "fields": {"satisfaction": "5"}, "version": ticket["version"]},
    )
    outcome = _wait(ticket_id, status="closed")["status"]
    if phase:
        time.sleep(0.3)  # the end task returns after it closed the ticket
        phase("action", ticket_id)
    return ticket_id, outcome


def _wait(ticket_id: str, *, node: str | None = None, status: str | None = None) -> dict[str, Any]:
    """Wait for the workflow by reading the table directly, uncounted: a person would not poll,
    so the benchmark's waiting must not show up in the product's costs."""
    from infra.twin.meter import METER
    from shared.repositories.tickets import TicketRepository
    from shared.tenant_scope import tenant_scope

    deadline = time.monotonic() + 60
    with METER.paused(), tenant_scope("acme-home"):
        repo = TicketRepository()
        while time.monotonic() < deadline:
            ticket = repo.find("acme-home", ticket_id)
            if ticket is not None:
                if status is not None and ticket.status == status:
                    break
                if ticket.status != "open" or (node is not None and ticket.parked and ticket.node == node):
                    break
            time.sleep(0.02)
        else:
            raise TimeoutError(f"ticket {ticket_id} did not reach {node or status}")
    data = ticket.model_dump(mode="json")
    data["assignee"] = ticket.assignee.model_dump() if ticket.assignee else None
    return data


def _cost(per_ticket: dict[str, Any], memory_mb: dict[str, int]) -> dict[str, float]:
    """USD per 1000 tickets, by service, from us-east-1 list prices (infra/twin/meter.py PRICES)."""
    from infra.twin.meter import PRICES

    gb_seconds = sum(
        Decimal(str(ms)) / 1000 * Decimal(memory_mb.get(name, 512)) / 1024
        for name, ms in per_ticket["lambda_cpu_ms"].items()
    )
    counts = per_ticket["counts"]
    sqs = sum(v for k, v in counts.items() if k.startswith("sqs:"))
    items: dict[str, Decimal] = {
        "stepfunctions": PRICES["stepfunctions_per_transition"] * Decimal(str(per_ticket["transitions"])),
        "lambda": PRICES["lambda_per_request"] * Decimal(str(sum(per_ticket["lambda_calls"].values())))
        + PRICES["lambda_arm_per_gb_second"] * gb_seconds,
        "dynamodb": PRICES["dynamodb_per_wru"] * Decimal(str(per_ticket["wru"]))
        + PRICES["dynamodb_per_rru"] * Decimal(str(per_ticket["rru"])),
        "scheduler": PRICES["scheduler_per_invocation"] * Decimal(str(counts.get("scheduler:Invocation", 0))),
        "sqs": PRICES["sqs_per_request"] * Decimal(str(sqs)),
        "api_gateway": PRICES["apigw_http_per_request"] * Decimal(str(counts.get("apigw:request", 0))),
        "eventbridge": PRICES["eventbridge_per_event"] * Decimal(str(counts.get("events:event", 0))),
    }
    result = {k: float(round(v * 1000, 4)) for k, v in items.items()}
    result["total_without_messages"] = float(round(sum(items.values(), Decimal(0)) * 1000, 4))
    result["ses_email"] = float(
        round(PRICES["ses_per_email"] * Decimal(str(counts.get("ses:SendEmail", 0))) * 1000, 4)
    )
    return result


def run_install(tenant_files: list[str], tickets: int, progress: Any = None) -> dict[str, Any]:
    """N install tickets, webhook to settlement, metered on the twin; per-ticket means and cost."""
    from infra.twin.meter import METER
    from infra.twin.twin import secrets_for

    twin = LocalTwin(
        tenant_files, port=0, clock="manual", start=START, log=lambda _line: None, function_log_level="ERROR"
    ).start()
    try:
        anon = TwinClient(twin.url)
        agent = anon.as_user("acme-home", "bench-agent", ["agent"])
        secret = secrets_for(tenant_files, None)["/scrm/acme-home/shopify-main"]
        METER.reset()
        outcomes: dict[str, int] = {}
        transitions = 0
        started = time.monotonic()
        for n in range(tickets):
            ticket_id, outcome = _install_ticket(anon, agent, secret, n)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            if ticket_id:
                transitions += len(_states_entered("acme-home", "install", ticket_id))
            if progress:
                progress(f"ticket {n + 1}/{tickets}: {outcome}")
        elapsed = time.monotonic() - started
        time.sleep(0.5)  # the last ticket's end task returns after it closed the ticket
        usage = METER.snapshot()
        memory = {name: spec.memory for name, spec in twin.lambdas.functions.items()}
    finally:
        twin.stop()
    per = {
        "transitions": transitions / tickets,
        "lambda_calls": {k: v / tickets for k, v in usage["lambda_calls"].items()},
        "lambda_cpu_ms": {k: round(v / tickets, 2) for k, v in usage["lambda_cpu_ms"].items()},
        "rru": usage["rru"] / tickets,
        "wru": usage["wru"] / tickets,
        "counts": {k: v / tickets for k, v in usage["counts"].items()},
    }
    install = load_tenant_file(tenant_files[0]).ticket_types["install"]
    path = shortest_path(install)
    per["write_requests"] = round(sum(per["counts"].get(k, 0) for k in _WRITE_REQUESTS), 2)
    return {
        "tickets": tickets,
        "outcomes": outcomes,
        "seconds": round(elapsed, 2),
        "per_ticket": per,
        "floor_states": floor_states(install, path),
        "floor_path": path,
        "floor_write_requests": floor_writes(install, path),
        "usd_per_1000_tickets": _cost(per, memory),
    }


def run(tenant_files: list[str]) -> list[dict[str, Any]]:
    twin = LocalTwin(tenant_files, port=0, clock="manual", start=START, log=lambda _line: None).start()
    results = []
    try:
        for path in tenant_files:
            cfg = load_tenant_file(path)
            client = TwinClient(twin.url).as_user(cfg.tenant.id, "bench-admin", ["admin"])
            for type_id in cfg.ticket_types:
                results.append(drive(client, cfg, type_id))
    finally:
        twin.stop()
    return results


ACTIONS_PER_INSTALL = 2
"""Actions a person takes on an install ticket along its shortest path (complete, confirm)."""


def _measures(usage: dict[str, Any]) -> Counter[str]:
    """One meter snapshot as the figures the capacity model divides quotas by: every call
    (``service:Operation``), plus request units, invocations, their wall time, HTTP requests and
    schedules fired under the keys ``infra/quotas.py`` names them by (``MEASURES``)."""
    found: Counter[str] = Counter(usage["calls"])
    found["dynamodb:wru"] = usage["wru"]
    found["dynamodb:rru"] = usage["rru"]
    found["lambda:Invoke"] = sum(usage["lambda_calls"].values())
    found["lambda:wall_ms"] = sum(usage["lambda_wall_ms"].values())
    found["apigw:request"] = usage["counts"].get("apigw:request", 0)
    found["scheduler:Invocation"] = usage["counts"].get("scheduler:Invocation", 0)
    return found


def run_calls(tenant_files: list[str], tickets: int, progress: Any = None) -> dict[str, Any]:
    """Every AWS call the product makes per install ticket, by phase, metered on the twin.

    One warm-up ticket first (cold containers read their configuration and credentials once;
    those reads are per container, not per ticket), then ``tickets`` tickets, webhook to close,
    one after another. Per phase: ``create`` (the delivery up to the ticket parked at its first
    human node) and ``action`` (one person's action and what the workflow does until it settles
    again), as means; ``per_ticket`` is the whole lifecycle. Calls are the meter's ``calls``
    (inside invocations only), so the benchmark's own reads and the twin's own work are not in
    them. ``shared_partitions``: the DynamoDB partitions (table or index, key value) that two or
    more tickets touched, with their request units per ticket and per function: the hot keys.
    """
    from infra.capacity import shard_counts
    from infra.twin.meter import METER
    from infra.twin.twin import secrets_for

    families = frozenset(shard_counts())
    twin = LocalTwin(
        tenant_files, port=0, clock="manual", start=START, log=lambda _line: None, function_log_level="ERROR"
    ).start()
    phases: dict[str, Counter[str]] = {"create": Counter(), "action": Counter()}
    seen = {"create": 0, "action": 0}
    state: dict[str, Any] = {"last": Counter(), "states": 0}
    touched: Counter[str] = Counter()  # partition -> tickets that touched it

    def phase(name: str, ticket_id: str) -> None:
        now = _measures(METER.snapshot())
        entered = len(_states_entered("acme-home", "install", ticket_id))
        now["states:StateTransition"] = entered
        delta = now - state["last"]
        delta["states:StateTransition"] = entered - (0 if name == "create" else state["states"])
        phases[name].update(delta)
        seen[name] += 1
        now["states:StateTransition"] = 0
        state["last"], state["states"] = now, entered

    try:
        anon = TwinClient(twin.url)
        agent = anon.as_user("acme-home", "bench-agent", ["agent"])
        secret = secrets_for(tenant_files, None)["/scrm/acme-home/shopify-main"]
        METER.reset()
        with _cold_containers(twin) as cold:
            _install_ticket(anon, agent, secret, 10_000)  # warm-up: cold containers, not in the means
            time.sleep(0.3)
        # emptying the shared caches for each cold container emptied them for the others too:
        # one more ticket, uncounted, warms them all again
        _install_ticket(anon, agent, secret, 10_001)
        time.sleep(0.3)
        METER.reset()
        outcomes: Counter[str] = Counter()
        transitions = 0
        started = time.monotonic()
        before: dict[str, float] = {}
        for n in range(tickets):
            ticket_id, outcome = _install_ticket(anon, agent, secret, n, phase)
            outcomes[outcome] += 1
            if ticket_id:
                transitions += len(_states_entered("acme-home", "install", ticket_id))
            after = METER.snapshot()["partition_units"]
            touched.update(
                {_partition(key, families) for key, units in after.items() if units > before.get(key, 0)}
            )
            before = after
            if progress:
                progress(f"ticket {n + 1}/{tickets}: {outcome}")
        elapsed = time.monotonic() - started
        usage = METER.snapshot()
    finally:
        twin.stop()
    per = max(tickets, 1)
    ticket = _measures(usage)
    ticket["states:StateTransition"] = transitions
    shared = {
        key: units / per for key, units in usage["partition_units"].items() if touched[_partition(key)] >= 2
    }
    return {
        "tickets": tickets,
        "tenant": "acme-home",
        "outcomes": dict(outcomes),
        "seconds": round(elapsed, 2),
        "actions_per_ticket": ACTIONS_PER_INSTALL,
        "per_ticket": {k: v / per for k, v in sorted(ticket.items())},
        "per_create": {k: v / max(seen["create"], 1) for k, v in sorted(phases["create"].items())},
        "per_action": {k: v / max(seen["action"], 1) for k, v in sorted(phases["action"].items())},
        "control_plane_calls_per_ticket": usage["control_plane_calls"] / per,
        "invocations_per_ticket": {k: v / per for k, v in sorted(usage["lambda_calls"].items())},
        "calls_by_function": {k: v / per for k, v in usage["calls_by_function"].items()},
        "shared_partitions": shared,
        "warm_up": {
            "calls": dict(cold.calls),
            "containers": len(cold.functions),
            "note": "the calls of each function's first invocation, its cache emptied first (a cold "
            "container): minus a warm ticket's, the reads (configuration, credentials, secrets) "
            "that each container makes once per tenant and then caches",
        },
        "throttled": usage["throttled"],
    }


class _ColdCalls:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.functions: set[str] = set()


@contextlib.contextmanager
def _cold_containers(twin: LocalTwin) -> Iterator[_ColdCalls]:
    """Inside the block, each function's first invocation runs as on a new container: the
    functions' parameter and configuration caches (powertools' providers, which the twin's
    functions share in one process, where Lambda gives each container its own) are emptied just
    before it, and the calls it makes are collected."""
    from aws_lambda_powertools.utilities import parameters

    from infra.twin.meter import METER

    found = _ColdCalls()
    original = twin.lambdas.invoke

    def mine(name: str) -> Counter[str]:
        calls = METER.snapshot()["calls_by_function"]
        return Counter({k.split(" ", 1)[1]: v for k, v in calls.items() if k.split(" ", 1)[0] == name})

    def cold_invoke(name: str, event: Any) -> Any:
        if name in found.functions:
            return original(name, event)
        found.functions.add(name)
        parameters.clear_caches()
        before = mine(name)
        try:
            return original(name, event)
        finally:
            found.calls.update(mine(name) - before)

    twin.lambdas.invoke = cold_invoke  # type: ignore[method-assign]
    try:
        yield found
    finally:
        twin.lambdas.invoke = original  # type: ignore[method-assign]


_SHARD_SUFFIX = re.compile(r"^(?P<family>.*#(?P<name>[A-Z][A-Z_]*)(?:#[^#]+)?)#\d+$")


def _partition(key: str, families: frozenset[str] = frozenset()) -> str:
    """``<kind> <function> <index> <key>`` -> ``<kind> <index> <key>``: the partition, whoever used
    it; the shards of a write-sharded family (``...#TICKETS#3``, ``...#REVENUE#2026-11#03``; the
    ``families`` the repositories shard) count as one, since a few tickets spread over eight
    shards touch each one at most once."""
    kind, _function, rest = key.split(" ", 2)
    match = _SHARD_SUFFIX.match(rest)
    if match and match.group("name") in families:
        rest = f"{match.group('family')}#<shard>"
    return f"{kind} {rest}"
