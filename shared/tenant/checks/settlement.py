"""The settlement catalog: `catalog`.

Keys checked:

- `catalog.service_items.*.price`, `catalog.parts.*.price`: a price for every tier of
  `catalog.tiers`, and for no other;
- `catalog.tier_rules.*.tier`: a tier of `catalog.tiers`; warning when there are several
  tiers and no rule matches every ticket;
- `catalog.tier_rules.*.when`, `catalog.surcharges.*.when`, `catalog.installer_share.*.when`:
  `region`, `region_class`, `ticket_type`, `channel` and `priority` name things the file defines;
- `catalog.shares.*.when`: the condition language on the ticket (`shared/rules/conditions.py`);
  `channel_owner` shares need a channel with an `owner` (warning), each `channels.*.owner` a user;
  the installer's largest share plus the shares out of the total at most 100 (error); the shares
  out of the installer at most its smallest share (warning: they are capped at its earnings);
- `catalog.shares_remainder_to`: the party of a share;
- `catalog.region_split.field`: a `multiselect` field (of region codes) of a ticket type.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from shared.rules.conditions import check, subject_paths
from shared.tenant.checks.context import Context
from shared.tenant.checks.problems import as_dict, as_list, item_label, join, listing
from shared.tenant.checks.salvage import parsed_items
from shared.tenant.models import Condition, ShareRule, Surcharge, TierRule, did_you_mean
from shared.tenant.models.settlement import PartyShare, RegionSplit

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
    _check_shares(ctx, raw_catalog)


def _check_shares(ctx: Context, raw_catalog: dict[str, object]) -> None:
    """The other parties' shares (导购提成 etc.) and the region split: see the module notes."""
    types = ctx.sections.ticket_types
    fields = {f.name: f.type for t in types.values() for f in t.fields}
    paths = subject_paths(scopes=("ticket",), ticket_fields=fields)
    raw_shares = as_list(raw_catalog.get("shares"))
    shares = list(parsed_items(raw_shares, PartyShare))
    for label, share in shares:
        index = next(i for i, item in enumerate(raw_shares) if item_label(item, i) == label)
        if share.when is not None:
            raw = as_dict(raw_shares[index]).get("when")
            for problem in check(share.when, paths, at=join("catalog.shares", label, "when"), raw=raw):
                ctx.error(problem.path, problem.message)
    owners = _channel_owners(ctx)
    if any(share.party == "channel_owner" for _, share in shares) and not owners:
        ctx.warn(
            "catalog.shares",
            "a channel_owner share is paid to a channel's owner, and no channel has one; "
            "give the channels that pay it an owner (owner: <user id>)",
        )
    installer = [rule.percent for _, rule in parsed_items(raw_catalog.get("installer_share"), ShareRule)]
    beside = sum((s.percent for _, s in shares if s.out_of == "total"), Decimal(0))
    if max(installer, default=Decimal(0)) + beside > 100:
        ctx.error(
            "catalog.shares",
            f"the installer's share (up to {max(installer):f}%) and the shares out of the total "
            f"({beside:f}%) add up to more than 100%; lower them, or take a share out of the "
            "installer's earnings (out_of: installer)",
        )
    taken = sum((s.percent for _, s in shares if s.out_of == "installer"), Decimal(0))
    if installer and taken > min(installer):
        ctx.warn(
            "catalog.shares",
            f"shares out of the installer's earnings ({taken:f}% of the total) exceed its smallest "
            f"share ({min(installer):f}%); they are capped at the installer's earnings",
        )
    remainder = raw_catalog.get("shares_remainder_to")
    parties = {share.party for _, share in shares}
    if isinstance(remainder, str) and shares and remainder not in parties:
        ctx.error(
            "catalog.shares_remainder_to",
            f"party {remainder!r}{did_you_mean(remainder, parties)} has no share; "
            f"use one of: {listing(parties)}",
        )
    for _, split in parsed_items([raw_catalog.get("region_split")], RegionSplit):
        kinds = {f.type for t in types.values() for f in t.fields if f.name == split.field}
        if not kinds:
            ctx.ref("catalog.region_split.field", "ticket field", split.field, set(fields), "name a field")
        elif kinds != {"multiselect"}:
            ctx.error(
                "catalog.region_split.field",
                f"field {split.field!r} is a {listing(kinds)} field; a job's regions are a multiselect "
                "field of region codes",
            )


def _channel_owners(ctx: Context) -> set[str]:
    """Each channel's ``owner`` checked to be a user; the owners."""
    owners = set()
    for index, channel in enumerate(as_list(ctx.raw.get("channels"))):
        owner = as_dict(channel).get("owner")
        if isinstance(owner, str):
            owners.add(owner)
            ctx.ref(
                join("channels", item_label(channel, index), "owner"),
                "user",
                owner,
                ctx.known.users,
                "add the user under users or fix the id",
            )
    return owners
