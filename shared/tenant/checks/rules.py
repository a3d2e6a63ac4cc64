"""Rules that route by themselves: `ticket_types.*.priority_rules` and `decision` nodes.

Keys checked:

- `ticket_types.*.priority_rules.*.when`, `ticket_types.*.nodes.*.rules.*.when`: every path is a
  `ticket.*` or `customer.*` path of `shared.rules.conditions` (`ticket.fields.<name>` a field of
  that ticket type, or for a decision also a field of one of its nodes' forms), with a
  did-you-mean, and every operator fits its path's type;
- `ticket_types.*.priority_rules.*.priority`: an option of the type's `priority` field (which must
  be a select field);
- `ticket_types.*.priority_rules.*.sla`: a key of `sla_policies`;
- a rule after one that always holds (`all: []`) is a warning: it can never apply.

A decision rule's `next` and `default` are nodes like any way out (checked with the workflow);
decisions that lead to one another in a circle with no step between are an error (a ticket that
enters it would decide for ever).
"""

from __future__ import annotations

from typing import Any

from shared.rules.conditions import Condition, check, subject_paths
from shared.tenant.checks.context import Context
from shared.tenant.checks.problems import as_dict, as_list, join
from shared.tenant.models import TicketType, did_you_mean

__all__ = ["check_rules"]


def check_rules(ctx: Context) -> None:
    written_types = as_dict(ctx.raw.get("ticket_types"))
    for type_name, ticket_type in ctx.sections.ticket_types.items():
        written = as_dict(written_types.get(type_name))
        paths = subject_paths(ticket_fields=ticket_type.field_types())
        base = join("ticket_types", type_name)
        items = as_list(written.get("priority_rules"))
        for index, rule in enumerate(ticket_type.priority_rules):
            path = join(base, "priority_rules", index)
            raw = as_dict(items[index]).get("when") if index < len(items) else None
            _conditions(ctx, join(path, "when"), rule.when, raw, paths)
            if rule.priority is not None:
                _priority(ctx, join(path, "priority"), rule.priority, ticket_type, type_name)
            if rule.sla is not None:
                ctx.ref(
                    join(path, "sla"),
                    "SLA policy",
                    rule.sla,
                    set(ctx.sections.sla_policies),
                    "add it under sla_policies or fix the name",
                )
        _unreachable(ctx, join(base, "priority_rules"), [r.when for r in ticket_type.priority_rules])
        # a decision sees the fields the workflow's forms fill too (the facts are read when the
        # ticket reaches it)
        decision_paths = subject_paths(ticket_fields=ticket_type.field_types(filled=True))
        written_nodes = as_dict(written.get("nodes"))
        for node_name, node in ticket_type.nodes.items():
            if node.kind != "decision":
                continue
            node_path = join(base, "nodes", node_name, "rules")
            raw_rules = as_list(as_dict(written_nodes.get(node_name)).get("rules"))
            for index, decision in enumerate(node.rules):
                raw = as_dict(raw_rules[index]).get("when") if index < len(raw_rules) else None
                _conditions(ctx, join(node_path, index, "when"), decision.when, raw, decision_paths)
            _unreachable(ctx, node_path, [r.when for r in node.rules])
        _decision_loops(ctx, base, ticket_type)


def _decision_loops(ctx: Context, base: str, ticket_type: TicketType) -> None:
    """Decisions that lead to one another in a circle with no step between: the facts cannot change
    inside it, so a ticket that enters it would decide for ever (a Choice counts no visit, so the
    loop cap could not stop it)."""
    decisions = {name: node for name, node in ticket_type.nodes.items() if node.kind == "decision"}
    reported: set[frozenset[str]] = set()
    for first in decisions:
        path, todo = [first], [(first, iter(decisions[first].targets().values()))]
        while todo:
            _name, targets = todo[-1]
            target = next(targets, None)
            if target is None:
                todo.pop()
                path.pop()
                continue
            if target == first:
                loop = frozenset(path)
                if loop not in reported:
                    reported.add(loop)
                    ctx.error(
                        join(base, "nodes", first),
                        f"decision nodes {' -> '.join([*path, first])} form a loop with no step in "
                        "between: nothing changes the facts inside it, so a ticket that enters it would "
                        "decide for ever; put a node where something happens on the loop",
                    )
                continue
            if target in decisions and target not in path:
                path.append(target)
                todo.append((target, iter(decisions[target].targets().values())))


def _conditions(ctx: Context, at: str, when: Condition, raw: Any, paths: dict[str, Any]) -> None:
    for problem in check(when, paths, at=at, raw=raw):
        ctx.error(problem.path, problem.message)


def _priority(ctx: Context, at: str, priority: str, ticket_type: TicketType, type_name: str) -> None:
    field = ticket_type.field("priority")
    if field is None or not field.options:
        ctx.error(
            at,
            f"{type_name} has no select field 'priority' to set; add one, e.g. "
            "{name: priority, type: select, options: [normal, urgent]}",
        )
        return
    if priority not in field.options:
        ctx.error(
            at,
            f"{priority!r} is not an option of {type_name}'s priority field ({', '.join(field.options)})"
            f"{did_you_mean(priority, field.options)}",
        )


def _unreachable(ctx: Context, at: str, conditions: list[Condition]) -> None:
    for index, when in enumerate(conditions[:-1]):
        if when.kind == "all" and not when.children:
            ctx.warn(join(at, index + 1), "the rule before this one always holds, so this one never applies")
            return
