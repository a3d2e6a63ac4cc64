"""Intake: `channels`.

Keys checked:

- `channels.*.ticket_type` (web forms): a key of `ticket_types`;
- `channels.*.rules.*.ticket_type`: a key of `ticket_types`;
- `channels.*.rules.*.fields`: fields of that ticket type; warning when a required field
  without a default is not mapped.

Read from the raw list, so that a channel with a broken secret still has its rules checked.
The secrets files that hold the channels' secrets are checked by `checks.files`.
"""

from __future__ import annotations

from shared.tenant.checks.context import Context
from shared.tenant.checks.problems import as_dict, as_list, item_label, join, listing
from shared.tenant.checks.salvage import parsed_items
from shared.tenant.models import ChannelRule, did_you_mean

__all__ = ["check_channels"]


def check_channels(ctx: Context) -> None:
    for index, channel in enumerate(as_list(ctx.raw.get("channels"))):
        channel = as_dict(channel)
        path = join("channels", item_label(channel, index))
        if channel.get("platform") == "webform" and isinstance(channel.get("ticket_type"), str):
            _check_type_ref(ctx, join(path, "ticket_type"), channel["ticket_type"])
        for label, rule in parsed_items(channel.get("rules"), ChannelRule):
            _check_rule(ctx, join(path, "rules", label), rule)


def _check_type_ref(ctx: Context, path: str, name: str) -> bool:
    fix = "use a ticket type defined under ticket_types"
    return ctx.ref(path, "ticket type", name, ctx.known.ticket_types, fix)


def _check_rule(ctx: Context, path: str, rule: ChannelRule) -> None:
    if not _check_type_ref(ctx, join(path, "ticket_type"), rule.ticket_type):
        return
    names = ctx.known.fields.get(rule.ticket_type)
    if names is not None:
        for name in rule.fields:
            if name not in names:
                ctx.error(
                    join(path, "fields", name),
                    f"ticket type {rule.ticket_type!r} has no field {name!r}{did_you_mean(name, names)}; "
                    f"its fields: {listing(names)}",
                )
    spec = ctx.sections.ticket_types.get(rule.ticket_type)
    if spec is None:
        return
    missing = [f.name for f in spec.fields if f.required and f.default is None and f.name not in rule.fields]
    if missing:
        ctx.warn(
            join(path, "fields"),
            f"required field(s) {', '.join(missing)} of {rule.ticket_type!r} are not filled by this "
            "rule, so its deliveries cannot become tickets; map them to JMESPath expressions",
        )
