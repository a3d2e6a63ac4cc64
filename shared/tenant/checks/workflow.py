"""The workflows: `ticket_types` and their nodes.

Keys checked:

- `ticket_types.*.start`: a node of the type;
- `ticket_types.*.sla`: a key of `sla_policies`;
- `ticket_types.*.nodes.*.actions.*`, `.next`, `.on_no_candidate`: a node of the type, and
  not the node itself unless it is a human node; warning for a dispatch node without
  `on_no_candidate`;
- `ticket_types.*.nodes.*.assignee`: see `checks.assignees`;
- `ticket_types.*.nodes.*.ticket_type`: a key of `ticket_types`;
- `ticket_types.*.nodes.*.skills`: held by some technician (warning: not at that level);
- `ticket_types.*.nodes`: an end node; every node reached from `start`; every node leads
  to an end node.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping

from shared.tenant.checks.assignees import check_assignee
from shared.tenant.checks.context import Context
from shared.tenant.checks.problems import join, listing
from shared.tenant.models import Node, TicketType, did_you_mean

__all__ = ["check_ticket_types"]


def check_ticket_types(ctx: Context) -> None:
    seen: dict[str, str] = {}
    for name, ticket_type in ctx.sections.ticket_types.items():
        _check_ticket_type(ctx, name, ticket_type)
        resource = resource_name(name)
        if resource in seen:
            ctx.error(
                join("ticket_types", name),
                f"ticket types '{seen[resource]}' and '{name}' give the same resource name "
                f"'{resource}' (letters and digits, each word capitalized); rename one",
            )
        seen.setdefault(resource, name)


def resource_name(type_id: str) -> str:
    """``after-sales`` -> ``AfterSales``: how the tenant stack names a ticket type's resources and
    outputs (``infra.constructs.workflows.pascal``), so two ids that differ only there are refused
    here rather than at synth."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", type_id) if part)


def _check_ticket_type(ctx: Context, name: str, spec: TicketType) -> None:
    path = join("ticket_types", name)
    node_names = (ctx.known.ticket_types or {}).get(name, set(spec.nodes))
    ctx.ref(join(path, "start"), "node", spec.start, node_names, "start at one of the nodes below")
    if spec.sla is not None:
        ctx.ref(
            join(path, "sla"),
            "SLA policy",
            spec.sla,
            ctx.known.sla_policies,
            "add it under sla_policies or fix the name",
        )
    for node_name, node in spec.nodes.items():
        node_path = join(path, "nodes", node_name)
        _check_edges(ctx, node_path, node_name, node, node_names)
        check_assignee(ctx, node_path, node, spec)
        _check_node_refs(ctx, node_path, node)
        if node.kind == "dispatch" and not node.on_no_candidate:
            ctx.warn(
                node_path,
                "no on_no_candidate: when no technician fits, the ticket fails; "
                "route it to a manual dispatch node instead",
            )
    _check_graph(ctx, path, spec, node_names)


def _check_edges(ctx: Context, path: str, name: str, node: Node, node_names: set[str]) -> None:
    for label, target in node.targets().items():
        where = join(path, "actions", label) if label in node.actions else join(path, label)
        what = f"action {label!r}" if label in node.actions else f"{label!r}"
        if target not in node_names:
            ctx.error(
                where,
                f"{what} goes to node {target!r}, which does not exist"
                f"{did_you_mean(target, node_names)}; known nodes: {listing(node_names)}",
            )
        elif target == name and node.kind != "human":
            ctx.error(where, f"{what} goes back to this {node.kind} node, which would loop forever")


def _check_node_refs(ctx: Context, path: str, node: Node) -> None:
    known = ctx.known
    if node.ticket_type is not None:
        ctx.ref(
            join(path, "ticket_type"),
            "ticket type",
            node.ticket_type,
            known.ticket_types,
            "use a ticket type defined under ticket_types",
        )
    if known.skills is None:
        return
    for skill, level in node.skills.items():
        if skill not in known.skills:
            ctx.error(
                join(path, "skills", skill),
                f"no technician has skill {skill!r}{did_you_mean(skill, known.skills)}; "
                "add it to a technician's skills or fix the name "
                f"(skills held: {listing(known.skills)})",
            )
        elif known.skills[skill] < level:
            ctx.warn(
                join(path, "skills", skill),
                f"no technician has skill {skill!r} at level {level} or more (best: "
                f"{known.skills[skill]}), so this node never finds a candidate; lower the level",
            )


def _check_graph(ctx: Context, path: str, spec: TicketType, node_names: set[str]) -> None:
    edges = {name: set(node.targets().values()) & node_names for name, node in spec.nodes.items()}
    opaque = node_names - set(spec.nodes)  # nodes that did not validate: their edges are unknown
    ends = {name for name, node in spec.nodes.items() if node.kind == "end"}
    if not ends and not opaque:
        ctx.error(join(path, "nodes"), "no end node; add a node with kind: end and lead to it")
        return
    if spec.start in node_names:
        reached = _reach({spec.start}, edges)
        if not reached & opaque:
            for name in sorted(node_names - reached):
                ctx.error(
                    join(path, "nodes", name),
                    f"node {name!r} cannot be reached from the start node {spec.start!r}; "
                    "lead an action or next to it, or remove it",
                )
    backwards: dict[str, set[str]] = {name: set() for name in node_names}
    for name, targets in edges.items():
        for target in targets:
            backwards[target].add(name)
    finishing = _reach(ends | opaque, backwards)
    for name in sorted(set(spec.nodes) - finishing):
        ctx.error(
            join(path, "nodes", name),
            f"node {name!r} has no way to an end node; add an action or next that leads "
            f"(through other nodes) to one of: {listing(ends)}",
        )


def _reach(start: set[str], edges: Mapping[str, set[str]]) -> set[str]:
    seen = set(start)
    queue = deque(start)
    while queue:
        for target in edges.get(queue.popleft(), set()):
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return seen
