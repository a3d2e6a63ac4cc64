"""`ticket_types` (`TicketType`: fields, start, nodes) and their workflow nodes (`Node`, `Assignee`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal, get_args

from pydantic import Field, model_validator

from shared.rules.conditions import Condition
from shared.tenant.models.base import _a, _Model
from shared.tenant.models.follow_ups import FollowUp
from shared.tenant.models.formats import Ident, NodeName, Text
from shared.tenant.models.forms import FieldDef
from shared.tenant.models.opportunities import OpportunityRule

NodeKind = Literal["human", "dispatch", "settlement", "create_ticket", "decision", "end"]
NODE_KINDS: tuple[str, ...] = get_args(NodeKind)


class Assignee(_Model):
    """Who works a human node: exactly one of a user, a role, a department or a technician.

    `technician: assigned` means the technician the ticket was dispatched to.
    """

    user: str | None = None
    role: str | None = None
    department: str | None = None
    technician: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Assignee:
        given = [key for key, value in self.model_dump().items() if value is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of user, role, department or technician "
                f"(got {', '.join(given) or 'none'}), e.g. {{role: agent}} or {{technician: assigned}}"
            )
        return self

    @property
    def is_dispatched_technician(self) -> bool:
        return self.technician == "assigned"


_KIND_KEYS: Mapping[str, frozenset[str]] = {
    "human": frozenset({"assignee", "form", "actions"}),
    "dispatch": frozenset({"skills", "next", "on_no_candidate"}),
    "settlement": frozenset({"next"}),
    "create_ticket": frozenset({"ticket_type", "next"}),
    "decision": frozenset({"rules", "default"}),
    "end": frozenset(),
}


class DecisionRule(_Model):
    """One way out of a `decision` node: taken when `when` holds (`shared.rules.conditions`)."""

    when: Condition
    next: NodeName


class Node(_Model):
    """One node of a ticket type's workflow.

    - `human`: `assignee`, optional `form`, at least one action (action name → node);
    - `dispatch`: picks a technician by `skills`, then `next`; `on_no_candidate` when nobody fits;
    - `settlement`: prices the ticket, then `next`;
    - `create_ticket`: opens a linked ticket of `ticket_type`, then `next`;
    - `decision`: routes by itself: the first of `rules` whose `when` holds on the ticket's fields,
      priority, channel and customer gives the next node, else `default` (a Step Functions Choice);
    - `end`: the ticket is finished; no way out.
    """

    kind: NodeKind
    assignee: Assignee | None = None
    form: list[FieldDef] = []
    actions: dict[NodeName, NodeName] = {}
    next: NodeName | None = None
    on_no_candidate: NodeName | None = None
    skills: dict[Ident, Annotated[int, Field(ge=1)]] = {}
    ticket_type: str | None = None
    rules: list[DecisionRule] = []
    default: NodeName | None = None
    label: str | None = None

    @model_validator(mode="after")
    def _kind_rules(self) -> Node:
        allowed = _KIND_KEYS[self.kind]
        # "given" means a non-empty value, so a dump that writes every key reads back the same.
        misplaced = [
            key for key in sorted(_ALL_KIND_KEYS - allowed) if getattr(self, key) not in (None, {}, [])
        ]
        if misplaced:
            keys = ", ".join(repr(key) for key in misplaced)
            fit = ", ".join(sorted(allowed)) or "nothing but 'kind'"
            raise ValueError(f"{_a(self.kind)} node does not take {keys}; it takes {fit}")
        if self.kind == "human":
            if self.assignee is None:
                raise ValueError("a human node needs 'assignee', e.g. {role: agent}")
            if not self.actions:
                raise ValueError("a human node needs at least one action under 'actions' (name: next node)")
        if self.kind in ("dispatch", "settlement", "create_ticket") and self.next is None:
            raise ValueError(f"{_a(self.kind)} node needs 'next', the node that follows it")
        if self.kind == "decision" and (not self.rules or self.default is None):
            raise ValueError(
                "a decision node needs 'rules' (each a `when` condition and its `next` node, tried in "
                "order) and 'default', the node when no rule holds"
            )
        if self.kind == "create_ticket" and self.ticket_type is None:
            raise ValueError("a create_ticket node needs 'ticket_type', the type of ticket it opens")
        return self

    def targets(self) -> dict[str, str]:
        """Every way out of the node: action name, `"next"`, `"on_no_candidate"`, `"rules.<n>"` (a
        decision's rule, from 1, in file order) or `"default"` → node name."""
        edges = dict(self.actions)
        for number, rule in enumerate(self.rules, start=1):
            edges[f"rules.{number}"] = rule.next
        if self.default is not None:
            edges["default"] = self.default
        if self.next is not None:
            edges["next"] = self.next
        if self.on_no_candidate is not None:
            edges["on_no_candidate"] = self.on_no_candidate
        return edges


_ALL_KIND_KEYS: frozenset[str] = frozenset().union(*_KIND_KEYS.values())


class PriorityRule(_Model):
    """At creation: when `when` holds, the ticket gets `priority` (an option of its `priority`
    field) and/or runs under the SLA policy `sla`. The first rule that holds, in file order."""

    when: Condition
    priority: str | None = None
    sla: Ident | None = None

    @model_validator(mode="after")
    def _sets_something(self) -> PriorityRule:
        if self.priority is None and self.sla is None:
            raise ValueError("a priority rule sets 'priority', 'sla' or both; this one sets neither")
        return self


class TicketType(_Model):
    name: Text
    sla: str | None = None
    """Name of an SLA policy."""
    fields: list[FieldDef] = []
    """Filled when the ticket is created."""
    start: NodeName
    nodes: dict[NodeName, Node] = Field(min_length=1)
    priority_rules: list[PriorityRule] = []
    """At creation, the first that holds sets the priority and/or SLA policy (`PriorityRule`)."""
    follow_ups: list[FollowUp] = []
    """Linked tickets opened a while after an event of this one (`shared.tenant.models.follow_ups`)."""
    opportunity_rules: list[OpportunityRule] = []
    """Sales opportunities opened by this type's events (`shared.tenant.models.opportunities`)."""

    def field_types(self, *, filled: bool = False) -> dict[str, str]:
        """Field name -> type of the ticket's own fields; with ``filled``, also those its nodes' forms
        fill on the way (what a rule read later in the workflow may name; a ticket field wins)."""
        own: dict[str, str] = {f.name: f.type for f in self.fields}
        if not filled:
            return own
        return {**{f.name: f.type for node in self.nodes.values() for f in node.form}, **own}

    def field(self, name: str) -> FieldDef | None:
        return next((field for field in self.fields if field.name == name), None)

    def field_of_type(self, kind: str, preferred: str | None = None) -> str | None:
        """The name of the ticket's field of type `kind` (the one called `preferred` if it has that
        type, else the first in file order): a region field may be called `area` or `城市`."""
        if preferred is not None and (spec := self.field(preferred)) is not None and spec.type == kind:
            return preferred
        return next((f.name for f in self.fields if f.type == kind), None)
