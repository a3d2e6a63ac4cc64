"""Customers: `customers`.

Keys checked:

- `customers.tiers.*.when`, `customers.tags.*.when`: every path is a `customer.*` path of
  `shared.rules.conditions.SUBJECT_PATHS` (did-you-mean for a misspelt one) and every operator fits
  its path's type; tier rules cannot read `customer.tier` (it is what they decide);
- `customers.tiers` / `customers.tags`: a tier or tag named twice is an error (the second one could
  never be told apart); a tier rule after one whose condition always holds (`all: []`) is a warning;
- `customers.identity_fields.*`: each field is a field of some ticket type; a `phone` / `email`
  carrier that is not of that type is a warning (its values may not normalise);
- `customers.deliveries`: each key is a channel id.

Operators misspelt, values of the wrong shape and unknown keys are pass 1's (the pydantic model of
`shared.rules.conditions.Condition`), reported at their exact path with the allowed keys.
"""

from __future__ import annotations

from typing import Any

from shared.rules.conditions import Condition, check, subject_paths
from shared.tenant.checks.context import Context
from shared.tenant.checks.problems import as_dict, as_list, join, listing
from shared.tenant.models import did_you_mean

__all__ = ["check_customers"]


def check_customers(ctx: Context) -> None:
    raw = as_dict(ctx.raw.get("customers"))
    rules = ctx.sections.customers
    if rules is None:
        return
    customer_paths = subject_paths(("customer",))
    tier_paths = {path: kind for path, kind in customer_paths.items() if path != "customer.tier"}
    _check_rules(ctx, "tiers", "tier", rules.tiers, as_list(raw.get("tiers")), tier_paths)
    _check_rules(ctx, "tags", "tag", rules.tags, as_list(raw.get("tags")), customer_paths)
    _check_identity_fields(ctx, raw)
    for channel in as_dict(raw.get("deliveries")):
        ctx.ref(
            join("customers", "deliveries", channel),
            "channel",
            str(channel),
            ctx.known.channels,
            "use the id of a channel under channels",
        )


def _check_rules(
    ctx: Context, section: str, key: str, parsed: list[Any], written: list[Any], paths: dict[str, Any]
) -> None:
    """Conditions of one list; items are located by index, as written (the parsed list may have lost
    broken items, so each parsed rule is matched to the written item of its name)."""
    seen: set[str] = set()
    for index, item in enumerate(written):
        item = as_dict(item)
        name = item.get(key)
        path = join("customers", section, index)
        if isinstance(name, str):
            if name in seen:
                ctx.error(join(path, key), f"{key} {name!r} is listed twice; list each {key} once")
            seen.add(name)
        rule = next((r for r in parsed if getattr(r, key) == name), None)
        when: Condition | None = getattr(rule, "when", None)
        if when is None:
            continue
        for problem in check(when, paths, at=join(path, "when"), raw=item.get("when")):
            ctx.error(problem.path, problem.message)
        if key == "tier" and when.kind == "all" and not when.children and index < len(written) - 1:
            ctx.warn(join(path, "when"), "this tier always applies, so the tiers after it never do")


def _check_identity_fields(ctx: Context, raw: dict[str, Any]) -> None:
    carriers = as_dict(raw.get("identity_fields"))
    types = as_dict(ctx.raw.get("ticket_types"))
    field_types: dict[str, set[str]] = {}
    for spec in types.values():
        for field in as_list(as_dict(spec).get("fields")):
            field = as_dict(field)
            if isinstance(field.get("name"), str):
                field_types.setdefault(field["name"], set()).add(str(field.get("type")))
    if not field_types:
        return
    for role, names in carriers.items():
        for index, name in enumerate(as_list(names)):
            if not isinstance(name, str):
                continue
            path = join("customers", "identity_fields", role, index)
            if name not in field_types:
                ctx.error(
                    path,
                    f"no ticket type has a field {name!r}{did_you_mean(name, field_types)}; "
                    f"fields: {listing(field_types)}",
                )
            elif role in ("phone", "email") and role not in field_types[name]:
                ctx.warn(
                    path,
                    f"field {name!r} is of type {', '.join(sorted(field_types[name]))}, not {role}: "
                    f"values that are not {role}s are skipped",
                )
