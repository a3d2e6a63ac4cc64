"""Builders of test data.

Tenant files: `tenant_dict()` is a small valid tenant file (as the dict YAML would
give); the other builders make its parts, each with defaults that fit it and
keyword overrides. `set_in` / `drop_in` change one place of a dict by dotted
path (`"technicians.0.regions"`), so a test states only the mistake it plants.
"""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from shared.domain.ticket import Ticket, TicketEvent

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "tenants"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

Data = dict[str, Any]


# --------------------------------------------------------------------------- tenant files: parts


def region(code: str = "CN-BJ", region_class: str = "tier1", **overrides: Any) -> Data:
    return {"code": code, "name": f"Region {code}", "class": region_class, "coefficient": "1.00", **overrides}


def calendar(**overrides: Any) -> Data:
    return {
        "timezone": "Asia/Shanghai",
        "working_hours": {"mon-fri": ["09:00-12:00", "13:00-18:00"], "sat": ["09:00-12:00"]},
        "holidays": "CN",
        **overrides,
    }


def user(user_id: str = "u-agent", roles: tuple[str, ...] = ("agent",), **overrides: Any) -> Data:
    return {
        "id": user_id,
        "name": f"User {user_id}",
        "roles": list(roles),
        "email": f"{user_id}@example.com",
        **overrides,
    }


def technician(
    technician_id: str = "t-one",
    regions: tuple[str, ...] = ("CN-BJ",),
    skills: dict[str, int] | None = None,
    **overrides: Any,
) -> Data:
    return {
        "id": technician_id,
        "name": f"Technician {technician_id}",
        "phone": "+8613800000001",
        "partner_type": "direct",
        "regions": list(regions),
        "location": {"lat": 39.9, "lon": 116.4},
        "skills": {"repair": 2} if skills is None else skills,
        "capacity": 3,
        "rating": "4.5",
        "calendar": "default",
        "supervisor": "u-boss",
        **overrides,
    }


def service_item(code: str = "SVC-REPAIR", price: dict[str, str] | None = None, **overrides: Any) -> Data:
    return {
        "code": code,
        "name": f"Item {code}",
        "unit": "job",
        "price": {"T1": "100.00", "T2": "80.00"} if price is None else price,
        **overrides,
    }


def part(sku: str = "PRT-SCREW", price: dict[str, str] | None = None, **overrides: Any) -> Data:
    return {
        "sku": sku,
        "name": f"Part {sku}",
        "unit": "piece",
        "price": {"T1": "1.00", "T2": "0.80"} if price is None else price,
        **overrides,
    }


def catalog(**overrides: Any) -> Data:
    return {
        "version": "2026-01",
        "tiers": ["T1", "T2"],
        "service_items": [service_item()],
        "parts": [part()],
        "tier_rules": [{"when": {"region_class": "tier1"}, "tier": "T1"}, {"when": {}, "tier": "T2"}],
        "surcharges": [{"code": "urgent", "when": {"priority": "urgent"}, "percent": "30"}],
        "installer_share": [{"when": {}, "percent": "70"}],
        "rounding": "half_up",
        **overrides,
    }


def sla_policy(**overrides: Any) -> Data:
    return {
        "calendar": "default",
        "targets": {"on_site": {"normal": "24h", "urgent": "4h"}},
        "levels": [
            {"name": "yellow", "at": "50%", "notify": ["assignee"], "channels": ["sms"]},
            {"name": "red", "at": "100%", "notify": ["supervisor", "role:dispatcher"], "channels": ["email"]},
        ],
        **overrides,
    }


def field(name: str, field_type: str = "text", **overrides: Any) -> Data:
    return {"name": name, "type": field_type, **overrides}


def human(actions: dict[str, str], *, role: str | None = "agent", **overrides: Any) -> Data:
    node: Data = {"kind": "human", "actions": actions}
    if role is not None:
        node["assignee"] = {"role": role}
    return {**node, **overrides}


def dispatch_node(next_node: str, **overrides: Any) -> Data:
    return {"kind": "dispatch", "skills": {"repair": 1}, "next": next_node, **overrides}


def settlement_node(next_node: str) -> Data:
    return {"kind": "settlement", "next": next_node}


def create_ticket_node(ticket_type: str, next_node: str) -> Data:
    return {"kind": "create_ticket", "ticket_type": ticket_type, "next": next_node}


def end_node() -> Data:
    return {"kind": "end"}


def ticket_type(nodes: dict[str, Data], start: str, **overrides: Any) -> Data:
    return {
        "name": "A ticket type",
        "fields": [
            field("customer_name", required=True),
            field("region", "region", required=True),
            field("priority", "select", options=["normal", "urgent"], default="normal"),
        ],
        "start": start,
        "nodes": nodes,
        **overrides,
    }


def repair_type(**overrides: Any) -> Data:
    """dispatching → on_site (dispatched technician) → review (approve/redo) → settle → closed."""
    return ticket_type(
        {
            "dispatching": dispatch_node("on_site", on_no_candidate="manual"),
            "manual": human(
                {"assign": "on_site"}, role="dispatcher", form=[field("technician", "technician")]
            ),
            "on_site": {
                "kind": "human",
                "assignee": {"technician": "assigned"},
                "form": [field("photos", "photos", min=1, required=True)],
                "actions": {"done": "review"},
            },
            "review": human({"approve": "settle", "redo": "on_site"}),
            "settle": settlement_node("closed"),
            "closed": end_node(),
        },
        start="dispatching",
        sla="standard",
        **overrides,
    )


def channel(platform: str, channel_id: str | None = None, **overrides: Any) -> Data:
    """A channel of `platform` with what that platform needs (a rule to `repair`, secrets)."""
    channel_id = channel_id or f"{platform}-main"
    data: Data = {"id": channel_id, "platform": platform}
    if platform == "webform":
        data["ticket_type"] = "repair"
        return {**data, **overrides}
    secret = {"ssm": f"/scrm/test-co/{channel_id}"}
    if platform == "wecom":
        data.update(corp_id="ww-test", token=secret, aes_key={"ssm": f"/scrm/test-co/{channel_id}-aes"})
    else:
        data["secret"] = secret
    if platform == "youzan":
        data["client_id"] = "yz-test"
    data["rules"] = [
        {
            "when": {"type": "order.created"},
            "ticket_type": "repair",
            "fields": {"customer_name": "data.name", "region": "data.region"},
        }
    ]
    return {**data, **overrides}


# --------------------------------------------------------------------------- tenant files: whole


def tenant_dict(**sections: Any) -> Data:
    """A small valid tenant file; keyword arguments replace whole sections."""
    data: Data = {
        "tenant": {"id": "test-co", "name": "Test Co", "timezone": "Asia/Shanghai", "currency": "CNY"},
        "regions": [region("CN-BJ", "tier1"), region("CN-CD", "tier2")],
        "calendars": {"default": calendar()},
        "users": [user("u-agent", ("agent",)), user("u-boss", ("supervisor", "dispatcher"))],
        "technicians": [technician("t-one"), technician("t-two", regions=("CN-CD",), partner_type="dealer")],
        "catalog": catalog(),
        "sla_policies": {"standard": sla_policy()},
        "dispatch": {
            "weights": {"distance": "0.4", "skill": "0.3", "load": "0.2", "rating": "0.1"},
            "max_distance_km": 50,
            "offer_timeout": "30m",
        },
        "ticket_types": {"repair": repair_type()},
        "channels": [channel("webform", "web"), channel("standard-webhooks", "partner")],
    }
    data.update(sections)
    return copy.deepcopy(data)


def load_example(name: str) -> Data:
    """The parsed `examples/tenants/<name>.yaml`."""
    data = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


# --------------------------------------------------------------------------- editing by path


def _walk(data: Any, path: str) -> tuple[Any, str | int]:
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node, int(last) if isinstance(node, list) else last


def set_in(data: Data, path: str, value: Any) -> Data:
    """Set `value` at a dotted path (list items by index) and return `data`."""
    parent, key = _walk(data, path)
    parent[key] = value
    return data


def drop_in(data: Data, path: str) -> Data:
    """Remove what is at a dotted path and return `data`."""
    parent, key = _walk(data, path)
    del parent[key]
    return data


INSTALL_FIELDS: dict[str, Any] = {
    "customer_name": "陈女士",
    "customer_phone": "+8613900000000",
    "address": "北京市朝阳区建国路1号",
    "region": "CN-BJ",
    "location": {"lat": 39.91, "lon": 116.45},
    "product_model": "KFR-35GW",
    "priority": "normal",
}
"""A complete acme-home install ticket in Beijing (e2e tests that create one through the API)."""


# --------------------------------------------------------------------------- domain objects


def ticket(
    ticket_id: str = "TK-1",
    *,
    at: datetime,
    tenant: str = "acme-home",
    ticket_type: str = "consult",
    node: str = "answer",
    **extra: Any,
) -> Ticket:
    """A ticket created (and last updated) at `at` by u-lin; `extra` sets any other attribute."""
    return Ticket(
        tenant=tenant,
        id=ticket_id,
        type=ticket_type,
        node=node,
        created_at=at,
        updated_at=at,
        created_by="u-lin",
        **extra,
    )


def created_event(created: Ticket) -> TicketEvent:
    """The `created` event that goes with a ticket's first write."""
    return TicketEvent(at=created.created_at, actor="u-lin", kind="created", node=created.node, version=1)
