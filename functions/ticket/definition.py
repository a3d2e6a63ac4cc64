"""``GET /tenant``: the tenant file as the people who work the tickets need it (the web console).

Pure: a view of the deployed ``TenantConfig``, in the file's own order (ticket types, nodes,
actions, fields, rules), with nothing secret and nothing personal beyond names and roles:

- the tenant (id, name, time zone, currency) and its regions;
- each ticket type: its fields, start node and nodes (kind, assignee, form, actions as
  ``[label, target]`` pairs in file order, next / on-no-candidate / decision rules and default,
  the linked type of a ``create_ticket``), the SLA policy's level names in order;
- the catalog's names (service items, parts, tiers), never its prices;
- people: users (id, name, roles) and technicians (id, name, regions) for names and pickers.

No phone, e-mail, WeCom id, secret reference, channel or price is in it: every signed-in user of
the tenant may read it, technicians included.
"""

from __future__ import annotations

from typing import Any

from shared.tenant.models import TenantConfig


def _field(spec: Any) -> dict[str, Any]:
    return spec.model_dump(mode="json", exclude_none=True)


def _node(node: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": node.kind}
    if node.label:
        out["label"] = node.label
    if node.assignee is not None:
        out["assignee"] = node.assignee.model_dump(mode="json", exclude_none=True)
    if node.form:
        out["form"] = [_field(f) for f in node.form]
    if node.actions:
        out["actions"] = [[label, target] for label, target in node.actions.items()]
    for key in ("next", "on_no_candidate", "default", "ticket_type"):
        if getattr(node, key):
            out[key] = getattr(node, key)
    if node.skills:
        out["skills"] = dict(node.skills)
    if node.rules:
        out["rules"] = [rule.model_dump(mode="json", exclude_none=True, by_alias=True) for rule in node.rules]
    return out


def tenant_definition(cfg: TenantConfig) -> dict[str, Any]:
    """The console's view of the tenant file (see the module doc)."""
    policies = cfg.sla_policies
    return {
        "tenant": {
            "id": cfg.tenant.id,
            "name": cfg.tenant.name,
            "timezone": cfg.tenant.timezone,
            "currency": cfg.tenant.currency,
            "locale": cfg.tenant.default_locale,
        },
        "regions": [{"code": r.code, "name": r.name} for r in cfg.regions],
        "ticket_types": {
            type_id: {
                "name": spec.name,
                "fields": [_field(f) for f in spec.fields],
                "start": spec.start,
                "nodes": {name: _node(node) for name, node in spec.nodes.items()},
                "sla_levels": [level.name for level in policies[spec.sla].levels]
                if spec.sla in policies
                else [],
            }
            for type_id, spec in cfg.ticket_types.items()
        },
        "catalog": {
            "tiers": list(cfg.catalog.tiers),
            "service_items": [
                {"code": i.code, "name": i.name, "unit": i.unit} for i in cfg.catalog.service_items
            ],
            "parts": [{"sku": p.sku, "name": p.name, "unit": p.unit} for p in cfg.catalog.parts],
        },
        "users": [{"id": u.id, "name": u.name, "roles": list(u.roles)} for u in cfg.users],
        "technicians": [{"id": t.id, "name": t.name, "regions": list(t.regions)} for t in cfg.technicians],
    }
