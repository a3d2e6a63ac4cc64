"""Every industry template (issue 18): ``scrm init`` → ``scrm validate`` → ``scrm synth`` → on a
twin of their own, one ticket of each type is walked to its end by the template's own people.

The walk is derived from the file, never written per template: a ticket of each type is created
by a user of the file who may create tickets, with values made from the type's field definitions
(``Walker.value`` of the generated-tenant walk); at each human node a user the node's assignee rule
allows takes an action with valid values for the node's form: the primary (first) action the first
time at a node, and the one on the shortest path to an ``end`` node when it comes back (decision
and dispatch nodes count every way out), so the walk goes the way the file means and still ends.
The generated walk's checks apply at every step: the ticket lands where the file says, never
fails, is assigned as its node's rule says. Each template settles at least one of its tickets.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.cli import main as scrm
from shared.templates import templates
from tests.child_twin import child_twin
from tests.e2e.test_generated_walk import START, Tracked, Walker

MAX_STEPS = 16
"""Actions one ticket may take on its shortest way out (loops never need more)."""


@pytest.fixture(autouse=True, scope="module")
def _close_what_the_module_opened() -> Iterator[None]:
    """Overrides the e2e conftest's: this module runs its own twin, not the session one."""
    yield


def _run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = scrm(list(argv))
    return code, out.getvalue()


@pytest.fixture(scope="module")
def initialised(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each template through ``scrm init`` with flags only (no terminal), as a script would."""
    folder = tmp_path_factory.mktemp("templates")
    files = {}
    for template in templates():
        out = folder / f"{template.tenant_id}.yaml"
        code, said = _run("init", "--template", template.name, "--out", str(out), "--no-input")
        assert code == 0, said
        assert out.exists() and out.with_name(f"{out.stem}.secrets.yaml").exists(), said
        files[template.name] = out
    return files


def test_every_template_validates_without_a_warning(initialised: dict[str, Path]) -> None:
    code, said = _run("validate", *map(str, initialised.values()))
    assert code == 0, said
    assert "warning" not in said, said
    assert said.count("OK: ") == len(initialised), said  # each tenant file (its secrets file checked with it)


def test_every_template_synthesizes(initialised: dict[str, Path], tmp_path: Path) -> None:
    code, said = _run(
        "synth", *map(str, initialised.values()), "--out", str(tmp_path / "cdk.out"), "--no-bundle"
    )
    assert code == 0, said
    for template in templates():
        assert f"ScrmTenant-{template.tenant_id}:" in said, said


class ToTheEnd(Walker):
    """The generated walk's walker, choosing the action nearest to an end instead of at random."""

    def distances(self, ticket: Tracked) -> dict[str, int]:
        """Actions from each node to an end node (system nodes take none)."""
        nodes = self.spec(ticket)["nodes"]
        exits: dict[str, list[tuple[str, int]]] = {}
        for name, node in nodes.items():
            if node["kind"] == "human":
                exits[name] = [(target, 1) for target in node["actions"].values()]
            else:
                targets = [node[key] for key in ("next", "on_no_candidate", "default") if key in node]
                exits[name] = [(t, 0) for t in targets + [rule["next"] for rule in node.get("rules", [])]]
        far = len(nodes) * MAX_STEPS
        best = {name: (0 if node["kind"] == "end" else far) for name, node in nodes.items()}
        for _ in range(len(nodes) + 1):  # Bellman-Ford on a small graph
            for name, ways in exits.items():
                for target, cost in ways:
                    best[name] = min(best[name], cost + best[target])
        return best

    def walk_to_end(self, ticket: Tracked) -> dict[str, Any] | None:
        body = self.settle(ticket, "after creation")
        distance = self.distances(ticket)
        visits: dict[str, int] = {}
        while body is not None and body["status"] == "open" and ticket.steps < MAX_STEPS:
            ticket.steps += 1
            node_name = body["node"]
            node = self.spec(ticket)["nodes"][node_name]
            actor = self.actor(ticket.tenant, node, body)
            if actor is None:
                self.violation(ticket, f"nobody in the file may act on {node_name!r}", body)
                return None
            if node["assignee"].get("technician") == "assigned" and not (body.get("dispatch") or {}).get(
                "accepted_at"
            ):
                accepted = self.post(actor, ticket, "accept", {})
                if accepted.status == 200:
                    ticket.last = accepted.body
            visits[node_name] = visits.get(node_name, 0) + 1
            if visits[node_name] == 1:  # the primary (first) action: the way the file means it to go
                action, target = next(iter(node["actions"].items()))
            else:  # back again (a rework loop): the way out nearest to an end
                action, target = min(node["actions"].items(), key=lambda item: distance[item[1]])
            fields = self.form(ticket.tenant, node.get("form", []), complete=True)
            answer = self.post(actor, ticket, action, fields)
            if answer.status != 200:
                self.violation(ticket, f"{node_name!r}: {action!r} answered {answer.status}", answer.body)
                return None
            self.stats.counts["actions"] += 1
            body = self.settle(ticket, f"after {action!r} at {node_name!r}")
            if body is not None and body["node"] not in self.landing(ticket, target):
                self.violation(ticket, f"{action!r} -> {target!r} landed at {body['node']!r}", body)
                return None
        return body


@pytest.fixture(scope="module")
def template_twin(initialised: dict[str, Path]) -> Iterator[tuple[str, dict[str, dict[str, Any]]]]:
    tenants = {}
    for path in initialised.values():
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        tenants[data["tenant"]["id"]] = data
    with child_twin(list(initialised.values()), start=START, name="templates") as client:
        yield client.base_url, tenants


SETTLE_TRIES = 6
"""Tickets of a type with a settlement node walked at most until one is settled: decision nodes may
route a ticket around settlement by its values (a small return, a public-area repair), so each try
gives every choice field of the ticket its next option (try n: option n), the rest at random."""


def _walk_one(
    walker: ToTheEnd, tenant: str, type_id: str, spec: dict[str, Any], variant: int = 0
) -> dict[str, Any] | None:
    fields = walker.form(tenant, spec.get("fields", []), complete=True)
    for field in spec.get("fields", []):
        if field["type"] == "select":
            fields[field["name"]] = field["options"][variant % len(field["options"])]
    answer = walker.creator(tenant).post("/tickets", {"type": type_id, "fields": fields})
    assert answer.status == 201, f"{tenant}/{type_id}: creation refused: {answer.body}"
    ticket = Tracked(tenant, answer.body["id"], type_id)
    walker.tickets[ticket.id] = ticket
    return walker.walk_to_end(ticket)


def test_one_ticket_of_each_type_of_every_template_runs_to_its_end(
    template_twin: tuple[str, dict[str, dict[str, Any]]],
) -> None:
    url, tenants = template_twin
    walker = ToTheEnd(url, tenants, seed=18)
    ended: dict[str, str] = {}
    settled: set[str] = set()
    started = time.monotonic()
    for tenant, data in tenants.items():
        for type_id, spec in data["ticket_types"].items():
            body = _walk_one(walker, tenant, type_id, spec)
            ended[f"{tenant}/{type_id}"] = "broken" if body is None else f"{body['status']} at {body['node']}"
            settles = any(node["kind"] == "settlement" for node in spec["nodes"].values())
            for variant in range(1, SETTLE_TRIES):
                if body is None or body.get("settlement") or not settles or tenant in settled:
                    break
                body = _walk_one(walker, tenant, type_id, spec, variant)
            if body is not None and body.get("settlement"):
                settled.add(tenant)
    violations = walker.stats.violations
    print(f"templates walked in {time.monotonic() - started:.1f} s: {ended}; settled in {sorted(settled)}")
    assert not violations, "\n".join(violations)
    assert all(state.startswith("closed") for state in ended.values()), ended
    assert len(ended) == sum(len(data["ticket_types"]) for data in tenants.values())
    assert settled == set(tenants), f"no ticket was settled in {sorted(set(tenants) - settled)}"
