"""``scrm bench lifecycle``: what one ticket of each type costs in state transitions.

Drives one ticket of every ticket type of the example tenants along its shortest path to an
end node, through the local twin's HTTP API (an admin acts on every human node with a valid
generated form), then reads the execution's history from Step Functions and counts the
states entered. The floor is the number of nodes on that shortest path: every node a ticket
visits costs at least one state. Cost uses Standard workflow pricing.
"""

from __future__ import annotations

import time
from collections import deque
from datetime import datetime
from decimal import Decimal
from typing import Any

import boto3

from infra.twin.client import TwinClient
from infra.twin.twin import LocalTwin
from shared.tenant import load_tenant_file
from shared.tenant.models import FieldDef, TenantConfig, TicketType
from shared.workflow.compiler import outgoing

PRICE_PER_1000_TRANSITIONS = Decimal("0.025")  # USD, Standard workflows, us-east-1
START = datetime.fromisoformat("2026-11-23T10:00:00+08:00")  # a Monday morning: technicians on duty


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
        for target in outgoing(ticket_type.nodes[name]).values():
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
        "floor": len(path),
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
