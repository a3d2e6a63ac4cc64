"""Follow-ups: `ticket_types.*.follow_ups` (`shared.tenant.models.follow_ups`).

Keys checked:

- `id`: unique within the ticket type (it names the follow-up's schedule and the ticket it opens);
- `event`: `entered:<node>` names a human node of the same ticket type;
- `ticket_type`: a key of `ticket_types`;
- `calendar`: a key of `calendars`; `after` in business days (`"3bd"`) needs one;
- `fields`: each key a field of the opened ticket type, each value a JMESPath expression.
"""

from __future__ import annotations

import jmespath
from jmespath.exceptions import JMESPathError

from shared.tenant.checks.context import Context
from shared.tenant.checks.problems import join, listing
from shared.tenant.models import did_you_mean
from shared.tenant.models.times import business_days

__all__ = ["check_follow_ups"]


def check_follow_ups(ctx: Context) -> None:
    types = ctx.sections.ticket_types
    for type_name, ticket_type in types.items():
        seen: set[str] = set()
        for follow_up in ticket_type.follow_ups:
            path = join("ticket_types", type_name, "follow_ups", follow_up.id)
            if follow_up.id in seen:
                ctx.error(join(path, "id"), f"follow-up {follow_up.id!r} is defined twice in {type_name}")
            seen.add(follow_up.id)
            node_name = follow_up.entered_node
            if node_name is not None:
                node = ticket_type.nodes.get(node_name)
                if node is None:
                    hint = did_you_mean(node_name, ticket_type.nodes)
                    ctx.error(
                        join(path, "event"),
                        f"node {node_name!r} is not in {type_name}{hint}; "
                        f"known nodes: {listing(ticket_type.nodes)}",
                    )
                elif node.kind != "human":
                    ctx.error(
                        join(path, "event"),
                        f"node {node_name!r} is a {node.kind} node; a follow-up starts on entering a human "
                        "node, or on `closed`",
                    )
            ctx.ref(
                join(path, "ticket_type"),
                "ticket type",
                follow_up.ticket_type,
                set(types),
                "add it under ticket_types or fix the name",
            )
            if follow_up.calendar is not None:
                ctx.ref(
                    join(path, "calendar"),
                    "calendar",
                    follow_up.calendar,
                    ctx.known.calendars,
                    "add it under calendars or fix the name",
                )
            elif business_days(follow_up.after) is not None:
                ctx.error(
                    join(path, "after"),
                    f"{follow_up.after!r} counts business days: name the calendar to count them on "
                    '(calendar: <name>), or write a duration such as "3d"',
                )
            _check_fields(ctx, path, follow_up.fields, follow_up.ticket_type)


def _check_fields(ctx: Context, path: str, fields: dict[str, str], type_name: str) -> None:
    target = ctx.sections.ticket_types.get(type_name)
    names = [f.name for f in target.fields] if target is not None else None
    for name, expression in fields.items():
        field_path = join(path, "fields", name)
        if names is not None and name not in names:
            ctx.error(
                field_path,
                f"{type_name} has no field {name!r}{did_you_mean(name, names)}; its fields: {listing(names)}",
            )
        try:
            jmespath.compile(expression)
        except JMESPathError as exc:
            ctx.error(field_path, f"{expression!r} is not a JMESPath expression: {exc}")
