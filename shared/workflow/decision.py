"""A `decision` node's rules as an Amazon States Language Choice state.

The conditions are the tenant file's (`shared.rules.conditions`), each compiled by its
``choice_rule`` (which holds exactly when ``evaluate`` does: see that module). The Choice reads the
facts the decision node's Task put at ``FACTS`` (``$.decision.facts``: the ticket and its customer
as ``choice_input`` shapes them). The first rule that holds gives the next node (the Choice's
rules keep the file's order); none holding goes to ``default``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.rules.conditions import choice_rule

if TYPE_CHECKING:
    from shared.rules.conditions import Condition
    from shared.tenant.models import Node

FACTS = "$.decision.facts"
"""Where the decision Task's result puts the facts (its ``ResultPath`` is ``$.decision``)."""


def decision_choice(node_name: str, node: Node, root: str = FACTS) -> dict[str, Any]:
    """The Choice state of a decision node: its rules in file order, then its default."""
    assert node.default is not None
    return {
        "Type": "Choice",
        "Comment": f"decision node {node_name}: the first rule that holds, else {node.default}",
        "Choices": [{**choice_rule(rule.when, root), "Next": rule.next} for rule in node.rules],
        "Default": node.default,
    }


def fact_paths(node: Node) -> set[str]:
    """The condition paths a decision node's rules read (the facts its Task must give)."""
    found: set[str] = set()

    def walk(cond: Condition) -> None:
        if cond.kind == "compare":
            assert cond.path is not None
            found.add(cond.path)
        for child in cond.children:
            walk(child)

    for rule in node.rules:
        walk(rule.when)
    return found
