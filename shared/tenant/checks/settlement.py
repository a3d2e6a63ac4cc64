"""The settlement catalog: `catalog`.

Keys checked:

- `catalog.service_items.*.price`, `catalog.parts.*.price`: a price for every tier of
  `catalog.tiers`, and for no other;
- `catalog.tier_rules.*.tier`: a tier of `catalog.tiers`; warning when there are several
  tiers and no rule matches every ticket;
- `catalog.tier_rules.*.when`, `catalog.surcharges.*.when`, `catalog.installer_share.*.when`:
  `region`, `region_class`, `ticket_type`, `channel` and `priority` name things the file defines.
"""

from __future__ import annotations

from collections.abc import Iterable

from shared.tenant.checks.context import Context
from shared.tenant.checks.problems import as_dict, as_list, item_label, join, listing
from shared.tenant.checks.salvage import parsed_items
from shared.tenant.models import Condition, ShareRule, Surcharge, TierRule, did_you_mean

__all__ = ["check_catalog"]


def _check_condition(ctx: Context, path: str, when: Condition) -> None:
    known = ctx.known
    references: list[tuple[str, str, Iterable[str] | None]] = [
        ("region", "region", known.regions),
        ("region_class", "region class", known.region_classes),
        ("ticket_type", "ticket type", known.ticket_types),
        ("channel", "channel", known.channels),
    ]
    for key, what, names in references:
        value = getattr(when, key)
        if value is not None:
            ctx.ref(join(path, "when", key), what, value, names, "use one of those or drop the condition")
    if when.priority is not None:
        ctx.ref(
            join(path, "when", "priority"),
            "priority",
            when.priority,
            _priorities(ctx) or None,
            "use an option of a ticket type's priority field",
        )


def _priorities(ctx: Context) -> set[str]:
    found: set[str] = set()
    for ticket_type in ctx.sections.ticket_types.values():
        priority = ticket_type.field("priority")
        if priority is not None and priority.options:
            found.update(priority.options)
    return found


def _check_prices(ctx: Context, path: str, given: set[str], tiers: set[str]) -> None:
    for tier in sorted(given - tiers):
        ctx.error(
            join(path, tier),
            f"tier {tier!r}{did_you_mean(tier, tiers)} is not in catalog.tiers ({listing(tiers)}); "
            "add it there or remove this price",
        )
    for tier in sorted(tiers - given):
        ctx.error(
            path,
            f'no price for tier {tier!r}; add one, such as {tier}: "0.00" '
            "(each item needs a price for every tier in catalog.tiers)",
        )


def check_catalog(ctx: Context) -> None:
    raw_catalog = as_dict(ctx.raw.get("catalog"))
    tiers = ctx.known.tiers
    for section in ("service_items", "parts"):
        for index, item in enumerate(as_list(raw_catalog.get(section))):
            price = as_dict(item).get("price")
            if tiers is not None and isinstance(price, dict):
                path = join("catalog", section, item_label(item, index), "price")
                _check_prices(ctx, path, set(map(str, price)), tiers)
    rules = list(parsed_items(raw_catalog.get("tier_rules"), TierRule))
    for label, rule in rules:
        path = join("catalog.tier_rules", label)
        ctx.ref(join(path, "tier"), "tier", rule.tier, tiers, "use a tier from catalog.tiers")
        _check_condition(ctx, path, rule.when)
    all_parsed = len(rules) == len(as_list(raw_catalog.get("tier_rules")))
    if tiers and len(tiers) > 1 and all_parsed and not any(rule.when.is_catch_all() for _, rule in rules):
        ctx.warn(
            "catalog.tier_rules",
            "no rule matches every ticket, so some tickets may get no tier; "
            "end the list with {when: {}, tier: <tier>}",
        )
    for label, surcharge in parsed_items(raw_catalog.get("surcharges"), Surcharge):
        _check_condition(ctx, join("catalog.surcharges", label), surcharge.when)
    for label, share in parsed_items(raw_catalog.get("installer_share"), ShareRule):
        _check_condition(ctx, join("catalog.installer_share", label), share.when)
