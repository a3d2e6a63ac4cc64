"""File-wide checks, run first: sections that must not be empty, and names that must be unique.

Keys checked:

- `regions`, `ticket_types`: not empty;
- `regions.*.code`, `users.*.id`, `technicians.*.id`, `channels.*.id`: unique;
- `catalog.service_items.*.code`, `catalog.parts.*.sku`, `catalog.surcharges.*.code`: unique;
- `catalog.tiers`: each tier listed once;
- `sla_policies.*.levels.*.name`: unique per policy;
- `ticket_types.*.fields.*.name`, `ticket_types.*.nodes.*.form.*.name`: unique per list;
- `users.*.id` / `technicians.*.id`: no id in both (a login names one person).
"""

from __future__ import annotations

from collections import Counter

from shared.tenant.checks.context import Context
from shared.tenant.checks.problems import as_dict, as_list, join

__all__ = ["check_duplicates", "check_sizes"]


def check_sizes(ctx: Context) -> None:
    if ctx.raw.get("regions") == []:
        ctx.error("regions", "no regions; add at least one region (code, name, class)")
    if ctx.raw.get("ticket_types") == {}:
        ctx.error("ticket_types", "no ticket types; add at least one")


def _duplicates(ctx: Context, path: str, items: object, key: str, what: str) -> None:
    values = [as_dict(item).get(key) for item in as_list(items)]
    counts = Counter(value for value in values if isinstance(value, str))
    for value, count in counts.items():
        if count > 1:
            places = ", ".join(str(i + 1) for i, v in enumerate(values) if v == value)
            ctx.error(
                join(path, value),
                f"{what} {value!r} is used {count} times (entries {places}); give each its own {key}",
            )


def check_duplicates(ctx: Context) -> None:
    raw, catalog = ctx.raw, as_dict(ctx.raw.get("catalog"))
    _duplicates(ctx, "regions", raw.get("regions"), "code", "region code")
    _duplicates(ctx, "users", raw.get("users"), "id", "user id")
    _duplicates(ctx, "technicians", raw.get("technicians"), "id", "technician id")
    _duplicates(ctx, "channels", raw.get("channels"), "id", "channel id")
    _duplicates(ctx, "catalog.service_items", catalog.get("service_items"), "code", "service item code")
    _duplicates(ctx, "catalog.parts", catalog.get("parts"), "sku", "part sku")
    _duplicates(ctx, "catalog.surcharges", catalog.get("surcharges"), "code", "surcharge code")
    tiers = Counter(tier for tier in as_list(catalog.get("tiers")) if isinstance(tier, str))
    for tier, count in tiers.items():
        if count > 1:
            ctx.error("catalog.tiers", f"tier {tier!r} is listed {count} times; list each tier once")
    for name, policy in as_dict(raw.get("sla_policies")).items():
        levels_path = join("sla_policies", name, "levels")
        _duplicates(ctx, levels_path, as_dict(policy).get("levels"), "name", "level name")
    for type_name, spec in as_dict(raw.get("ticket_types")).items():
        fields_path = join("ticket_types", type_name, "fields")
        _duplicates(ctx, fields_path, as_dict(spec).get("fields"), "name", "field name")
        for node_name, node in as_dict(as_dict(spec).get("nodes")).items():
            form_path = join("ticket_types", type_name, "nodes", node_name, "form")
            _duplicates(ctx, form_path, as_dict(node).get("form"), "name", "field name")
    for both in sorted((ctx.known.users or set()) & (ctx.known.technicians or set())):
        ctx.error(
            join("technicians", both),
            f"{both!r} is both a user id and a technician id; a login (JWT sub) must name one "
            "person, so rename one of them",
        )
