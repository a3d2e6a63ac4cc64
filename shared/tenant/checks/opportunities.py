"""Opportunities: `ticket_types.*.opportunity_rules` (`shared.tenant.models.opportunities`).

Keys checked:

- `id`: unique within the ticket type (with the ticket it makes the opportunity's id, so two rules
  of one name would open one opportunity between them);
- `when`: every path a `ticket.*` or `customer.*` path of `shared.rules.conditions`, with a
  did-you-mean: on `created` the type's own fields, on `closed` also the fields its nodes' forms
  fill (the ticket has them by then);
- `owner.role`: a built-in role or one a user holds; `owner.user`: a user of the file;
- `amount`: money (checked by the model: a quoted decimal with at most 2 decimals, not negative).
"""

from __future__ import annotations

from shared.rules.conditions import check, subject_paths
from shared.tenant.checks.context import Context
from shared.tenant.checks.problems import as_dict, as_list, join

__all__ = ["check_opportunities"]


def check_opportunities(ctx: Context) -> None:
    written_types = as_dict(ctx.raw.get("ticket_types"))
    for type_name, ticket_type in ctx.sections.ticket_types.items():
        if not ticket_type.opportunity_rules:
            continue
        paths = {
            "created": subject_paths(ticket_fields=ticket_type.field_types()),
            "closed": subject_paths(ticket_fields=ticket_type.field_types(filled=True)),
        }
        raw_rules = as_list(as_dict(written_types.get(type_name)).get("opportunity_rules"))
        seen: set[str] = set()
        for index, rule in enumerate(ticket_type.opportunity_rules):
            path = join("ticket_types", type_name, "opportunity_rules", rule.id)
            if rule.id in seen:
                ctx.error(join(path, "id"), f"opportunity rule {rule.id!r} is defined twice in {type_name}")
            seen.add(rule.id)
            if rule.when is not None:
                raw = as_dict(raw_rules[index]).get("when") if index < len(raw_rules) else None
                for problem in check(rule.when, paths[rule.event], at=join(path, "when"), raw=raw):
                    ctx.error(problem.path, problem.message)
            owner = rule.owner
            if owner.role is not None:
                ctx.ref(
                    join(path, "owner", "role"),
                    "role",
                    owner.role,
                    ctx.known.roles,
                    "give the role to a user under users, or fix the name",
                )
            if owner.user is not None:
                ctx.ref(
                    join(path, "owner", "user"),
                    "user",
                    owner.user,
                    ctx.known.users,
                    "add the user under users or fix the id",
                )
