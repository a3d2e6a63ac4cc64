"""Generated tenants on a twin of their own, walked at random (issue 14).

A few tenant files from ``tests.generated`` (fixed seeds) are deployed on a separate local twin:
``scrm local`` in a child process, because the session twin of ``conftest`` holds only the
example tenants and moto is process-global. Tickets of every type are created and then walked
at random: a ready ticket is picked, a person its node's assignee rule allows (a user with the
role, the user, a user of the department, the dispatched technician) takes a random action of
the node with valid form values made from the file's form definition, and the walk waits until
the ticket is ready again or finished. Seeded: the same seeds give the same files and choices
(the twin's timing may still vary).

Checked on every step (a ticket that breaks one is reported and left alone):

- an open ticket is at a node of its type; a closed one at an ``end`` node; none fails;
- a ready ticket is at a human node, assigned as the node's rule says (the dispatched
  technician for ``{technician: assigned}``);
- the primary (FIRST in the file) action with an empty form is refused with 422, naming the
  required fields, when the node's form has required fields; any other action is taken without
  them;
- the action lands where the file says: the answer is at the action's target, and the ticket
  then parks at the first human node or end after it (through dispatch, settlement,
  create_ticket nodes);
- a ticket never stays open and not ready for longer than ``SETTLE_SECONDS``;
- at the end every ticket is closed or parked (open and ready).

Default: 3 tenants, 2 tickets of each type first, one more of each type whenever fewer than 4
are left to walk (40 opened by the walk at most), at most ``WALK_SECONDS`` (60 s) of walking.
``pytest -m fuzz`` (``make fuzz``): 6 tenants, 3 of each type first, 250 at most, 300 s; all
× ``SCRM_FUZZ_SCALE``.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from infra.twin.client import Answer, TwinClient
from tests.child_twin import ROOT, child_twin
from tests.generated import random_tenant, to_yaml

START = "2026-11-23T09:00:00+08:00"
SCALE = float(os.environ.get("SCRM_FUZZ_SCALE", "1"))

SEEDS = (11, 23, 42)
TICKETS_PER_TYPE = 2
"""Tickets of each type opened first; more are opened while fewer than LIVE_AT_LEAST are walkable."""
MAX_TICKETS = 40
"""Tickets the walk itself opens at most (linked tickets come on top)."""
WALK_SECONDS = 60.0
FUZZ_SEEDS = tuple(range(101, 101 + max(1, round(6 * SCALE))))
FUZZ_TICKETS_PER_TYPE = max(1, round(3 * SCALE))
FUZZ_MAX_TICKETS = max(1, round(250 * SCALE))
FUZZ_WALK_SECONDS = 300.0 * SCALE
LIVE_AT_LEAST = 4

SETTLE_SECONDS = 30.0
"""How long a ticket may stay open and not ready after an action (or its creation)."""
STEPS_PER_TICKET = 14
"""Actions per ticket at most: loops stay far below the loop cap (50 visits of one node)."""
CREATOR_ROLES = ("agent", "dispatcher", "supervisor", "admin")


@pytest.fixture(autouse=True, scope="module")
def _close_what_the_module_opened() -> Iterator[None]:
    """Overrides the e2e conftest's: this module runs its own twin, not the session one."""
    yield


# --------------------------------------------------------------------------- the twin


@contextmanager
def generated_twin(folder: Path, seeds: tuple[int, ...]) -> Iterator[tuple[str, dict[str, dict[str, Any]]]]:
    """``scrm local`` of the generated tenants of ``seeds`` in a child process: (url, id -> file)."""
    tenants: dict[str, dict[str, Any]] = {}
    files = []
    for seed in seeds:
        tenant_id = f"gen-{seed}"
        data = random_tenant(random.Random(seed), tenant_id)
        path = folder / f"{tenant_id}.yaml"
        path.write_text(to_yaml(data), encoding="utf-8")
        tenants[tenant_id] = data
        files.append(str(path))
    with child_twin(files, start=START, name="generated") as client:
        yield client.base_url, tenants


# --------------------------------------------------------------------------- the walk


@dataclass
class Tracked:
    tenant: str
    id: str
    type: str
    steps: int = 0
    last: dict[str, Any] = field(default_factory=dict)


@dataclass
class Stats:
    counts: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)


class Walker:
    """Creates tickets of every type and takes random, valid actions on them, checking as it goes."""

    def __init__(self, url: str, tenants: dict[str, dict[str, Any]], seed: int) -> None:
        self.anonymous = TwinClient(url)
        self.tenants = tenants
        self.rng = random.Random(seed)
        self.clients: dict[tuple[str, str], TwinClient] = {}
        self.tickets: dict[str, Tracked] = {}
        self.stats = Stats()
        self.broken: set[str] = set()

    # -- people -------------------------------------------------------------------

    def client(self, tenant: str, sub: str, roles: list[str]) -> TwinClient:
        key = (tenant, sub)
        if key not in self.clients:
            self.clients[key] = self.anonymous.as_user(tenant, sub, roles)
        return self.clients[key]

    def observer(self, tenant: str) -> TwinClient:
        return self.client(tenant, "walk-observer", ["admin"])

    def user(self, tenant: str, user: dict[str, Any]) -> TwinClient:
        return self.client(tenant, user["id"], list(user.get("roles", [])))

    def creator(self, tenant: str) -> TwinClient:
        users = [u for u in self.tenants[tenant]["users"] if set(u.get("roles", [])) & set(CREATOR_ROLES)]
        if not users:
            return self.observer(tenant)
        return self.user(tenant, self.rng.choice(users))

    def actor(self, tenant: str, node: dict[str, Any], ticket: dict[str, Any]) -> TwinClient | None:
        """Someone the node's assignee rule lets act (from the file; never an admin)."""
        rule, users = node["assignee"], self.tenants[tenant]["users"]
        if "role" in rule:
            allowed = [u for u in users if rule["role"] in u.get("roles", [])]
        elif "user" in rule:
            allowed = [u for u in users if u["id"] == rule["user"]]
        elif "department" in rule:
            allowed = [u for u in users if u.get("department") == rule["department"]]
        else:
            technician = (ticket.get("dispatch") or {}).get("technician")
            return self.client(tenant, technician, ["technician"]) if technician else None
        return self.user(tenant, self.rng.choice(allowed)) if allowed else None

    # -- values ---------------------------------------------------------------------

    def value(self, tenant: str, spec: dict[str, Any]) -> Any:
        rng, data = self.rng, self.tenants[tenant]
        kind, low, high = spec["type"], spec.get("min"), spec.get("max")
        if kind == "text":
            text = rng.choice(("陈先生", "空调不制冷, 请尽快上门", "Küche", "ok", "二楼"))
            return text if low is None or len(text) >= low else text * int(low)
        if kind == "number":
            return rng.randint(int(low or 0), int(high if high is not None else 100))
        if kind == "money":
            return f"{rng.randint(int(low or 0) * 100, 50_000) / 100:.2f}"
        if kind == "select":
            return rng.choice(spec["options"])
        if kind == "multiselect":
            return rng.sample(spec["options"], rng.randint(max(1, int(low or 1)), len(spec["options"])))
        if kind == "date":
            return f"2026-12-{rng.randint(1, 28):02d}"
        if kind == "datetime":
            return f"2026-12-{rng.randint(1, 28):02d}T10:30:00+08:00"
        if kind == "phone":
            return f"+86137{rng.randint(10_000_000, 99_999_999)}"
        if kind == "email":
            return f"walk{rng.randint(1, 999)}@example.com"
        if kind == "region":
            return rng.choice(data["regions"])["code"]
        if kind == "geo":
            located = [t["location"] for t in data["technicians"] if "location" in t]
            return dict(rng.choice(located)) if located else {"lat": 31.2, "lon": 121.5}
        if kind == "photos":
            return [f"s3://walk/photo-{n}.jpg" for n in range(max(1, int(low or 1)) + rng.randint(0, 1))]
        if kind == "technician":
            return rng.choice(data["technicians"])["id"]
        if kind == "service_items":
            codes = [item["code"] for item in data["catalog"]["service_items"]]
            return [{"code": rng.choice(codes), "quantity": rng.choice((1, 2, "1.5"))}]
        if kind == "parts":
            skus = [part["sku"] for part in data["catalog"].get("parts", [])]
            return [{"sku": rng.choice(skus), "quantity": 1}] if skus else []
        raise AssertionError(f"no value for field type {kind!r}")

    def form(self, tenant: str, specs: list[dict[str, Any]], *, complete: bool) -> dict[str, Any]:
        """Values for a form: every required field when ``complete``, else any (maybe none)."""
        values = {}
        for spec in specs:
            wanted = spec.get("required") and complete
            if wanted or self.rng.random() < (0.5 if complete else 0.3):
                values[spec["name"]] = self.value(tenant, spec)
        return values

    # -- the file -------------------------------------------------------------------

    def spec(self, ticket: Tracked) -> dict[str, Any]:
        return self.tenants[ticket.tenant]["ticket_types"][ticket.type]

    def landing(self, ticket: Tracked, target: str) -> set[str]:
        """Where a ticket sent to ``target`` parks or ends: past the system nodes the file chains."""
        nodes, found, seen, todo = self.spec(ticket)["nodes"], set(), set(), [target]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            node = nodes[name]
            if node["kind"] in ("human", "end"):
                found.add(name)
            else:  # a system node: its next (and no-candidate) node, or a decision's rules and default
                todo += [node[key] for key in ("next", "on_no_candidate", "default") if key in node]
                todo += [rule["next"] for rule in node.get("rules", [])]
        return found

    # -- checks -----------------------------------------------------------------------

    def violation(self, ticket: Tracked, what: str, body: Any = None) -> None:
        history = self.observer(ticket.tenant).get(f"/tickets/{ticket.id}/history").body
        events = [
            {k: e.get(k) for k in ("kind", "node", "action", "actor", "changes")}
            for e in (history or {}).get("events", [])[-8:]
        ]
        shown = json.dumps(body, ensure_ascii=False, default=str)[:1500] if body is not None else ""
        self.stats.violations.append(
            f"{ticket.tenant}/{ticket.type}/{ticket.id}: {what}\n    ticket: {shown}\n"
            f"    last events: {json.dumps(events, ensure_ascii=False, default=str)[:2000]}"
        )
        self.broken.add(ticket.id)

    def check(self, ticket: Tracked, body: dict[str, Any], where: str) -> bool:
        nodes = self.spec(ticket)["nodes"]
        status, node_name = body["status"], body["node"]
        if status == "failed":
            self.violation(
                ticket, f"{where}: the ticket FAILED: {body.get('failure') or body.get('reason')}", body
            )
        elif status not in ("open", "closed"):
            self.violation(ticket, f"{where}: status {status!r}; the walk never cancels", body)
        elif node_name not in nodes:
            self.violation(ticket, f"{where}: node {node_name!r} is not a node of {ticket.type}", body)
        elif status == "closed" and nodes[node_name]["kind"] != "end":
            self.violation(
                ticket, f"{where}: closed at {node_name!r}, a {nodes[node_name]['kind']} node", body
            )
        elif body["ready"]:
            return self._check_assignee(ticket, body, where, nodes[node_name])
        return ticket.id not in self.broken

    def _check_assignee(
        self, ticket: Tracked, body: dict[str, Any], where: str, node: dict[str, Any]
    ) -> bool:
        if node["kind"] != "human":
            self.violation(ticket, f"{where}: ready at {body['node']!r}, a {node['kind']} node", body)
            return False
        rule, assignee = node["assignee"], body.get("assignee")
        if rule.get("technician") == "assigned":
            technician = (body.get("dispatch") or {}).get("technician")
            expected = {"kind": "technician", "id": technician}
            known = {t["id"] for t in self.tenants[ticket.tenant]["technicians"]}
            if technician not in known:
                self.violation(ticket, f"{where}: ready at {body['node']!r} with no known technician", body)
                return False
        else:
            ((kind, value),) = rule.items()
            expected = {"kind": kind, "id": value}
        if assignee != expected:
            self.violation(
                ticket, f"{where}: assignee {assignee}, the rule of {body['node']!r} says {expected}", body
            )
            return False
        return True

    def settle(self, ticket: Tracked, where: str) -> dict[str, Any] | None:
        """Poll until the ticket is ready or no longer open (bounded); None after a violation."""
        observer = self.observer(ticket.tenant)
        deadline = time.monotonic() + SETTLE_SECONDS
        body: Any = None
        while time.monotonic() < deadline:
            answer = observer.get(f"/tickets/{ticket.id}")
            body = answer.body
            if answer.status == 200 and (body["status"] != "open" or body["ready"]):
                ticket.last = body
                return body if self.check(ticket, body, where) else None
            time.sleep(0.1)
        self.violation(ticket, f"{where}: open and not ready for {SETTLE_SECONDS:.0f} s", body)
        return None

    # -- steps ------------------------------------------------------------------------

    def create_round(self, per_type: int) -> None:
        """``per_type`` tickets of every type of every tenant, each walked to its first stop."""
        created = []
        for tenant, data in self.tenants.items():
            for type_id, spec in data["ticket_types"].items():
                for _ in range(per_type):
                    fields = self.form(tenant, spec.get("fields", []), complete=True)
                    answer = self.creator(tenant).post("/tickets", {"type": type_id, "fields": fields})
                    assert answer.status == 201, f"{tenant}/{type_id}: creation refused: {answer.body}"
                    ticket = Tracked(tenant, answer.body["id"], type_id)
                    self.tickets[ticket.id] = ticket
                    self.stats.counts["created"] += 1
                    created.append(ticket)
        for ticket in created:
            if self.settle(ticket, "after creation") is not None:
                self.adopt_children(ticket)

    def adopt_children(self, ticket: Tracked) -> None:
        """Linked tickets opened by create_ticket nodes are walked too."""
        for child_id in ticket.last.get("children", []):
            if child_id not in self.tickets:
                child = self.observer(ticket.tenant).get(f"/tickets/{child_id}").body
                tracked = Tracked(ticket.tenant, child_id, child["type"])
                self.tickets[child_id] = tracked
                self.stats.counts["linked tickets"] += 1
                self.settle(tracked, "linked ticket, after creation")

    def walkable(self) -> list[Tracked]:
        return [
            t
            for t in self.tickets.values()
            if t.id not in self.broken and t.last.get("status") == "open" and t.steps < STEPS_PER_TICKET
        ]

    def walk(self, seconds: float, max_created: int) -> None:
        """Step random tickets until ``seconds`` pass; while few are left to walk, open more (up to
        ``max_created`` tickets created by the walk)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            live = self.walkable()
            if len(live) < LIVE_AT_LEAST and self.stats.counts["created"] < max_created:
                self.create_round(1)
                live = self.walkable()
            if not live:
                break
            self.step(self.rng.choice(live))

    def post(self, client: TwinClient, ticket: Tracked, action: str, fields: dict[str, Any]) -> Answer:
        body = {"action": action, "fields": fields, "version": ticket.last["version"]}
        return client.post(f"/tickets/{ticket.id}/actions", body)

    def step(self, ticket: Tracked) -> None:
        ticket.steps += 1
        body = self.settle(ticket, "before an action")
        if body is None or body["status"] != "open":
            return
        node_name = body["node"]
        node = self.spec(ticket)["nodes"][node_name]
        actor = self.actor(ticket.tenant, node, body)
        if actor is None:
            self.violation(ticket, f"nobody in the file may act on {node_name!r} ({node['assignee']})", body)
            return
        actions = list(node["actions"].items())  # the file's order: the first is the primary one
        primary = actions[0][0]
        form = node.get("form", [])
        required = sorted(f["name"] for f in form if f.get("required") and f.get("default") is None)
        where = f"node {node_name!r}"
        if required:
            refused = self.post(actor, ticket, primary, {})
            self.stats.counts["empty primary forms sent"] += 1
            named = {d.get("field") for d in (refused.body or {}).get("details", [])}
            if refused.status != 422 or not set(required) <= named:
                self.violation(
                    ticket,
                    f"{where}: the primary (first) action {primary!r} with an empty form answered "
                    f"{refused.status} (details {sorted(named)}), expected 422 naming {required}",
                    refused.body,
                )
                return
        offers = node["assignee"].get("technician") == "assigned" and "accept" not in node["actions"]
        if offers and not (body.get("dispatch") or {}).get("accepted_at") and self.rng.random() < 0.3:
            accepted = self.post(actor, ticket, "accept", {})
            self.stats.counts["offers accepted"] += 1
            if accepted.status != 200 or accepted.body["node"] != node_name:
                self.violation(
                    ticket, f"{where}: the built-in accept answered {accepted.status}", accepted.body
                )
                return
            ticket.last = accepted.body
        action, target = actions[0] if self.rng.random() < 0.5 else self.rng.choice(actions)
        is_primary = action == primary
        fields = self.form(ticket.tenant, form, complete=is_primary)
        answer = self.post(actor, ticket, action, fields)
        for _retry in range(3):  # a write of the workflow (SLA, offer) raced the read: read again
            if answer.status != 409 or "stale version" not in str(answer.body):
                break
            fresh = self.settle(ticket, f"{where}, after a stale version")
            if fresh is None:
                return
            answer = self.post(actor, ticket, action, fields)
        kind = "primary" if is_primary else "other"
        self.stats.counts[f"{kind} actions"] += 1
        self.stats.counts[f"{kind} actions with required fields left out"] += not is_primary and any(
            name not in fields for name in required
        )
        said = f"{where}: action {action!r} ({'primary' if is_primary else 'not primary'}) -> {target!r}"
        if answer.status != 200:
            self.violation(
                ticket, f"{said} answered {answer.status}", {"answer": answer.body, "sent": fields}
            )
            return
        if answer.body["node"] != target:
            self.violation(ticket, f"{said}, but the answer is at {answer.body['node']!r}", answer.body)
            return
        after = self.settle(ticket, f"after {said}")
        if after is None:
            return
        expected = self.landing(ticket, target)
        if after["node"] not in expected:
            self.violation(
                ticket,
                f"{said}, then landed at {after['node']!r}; the file leads to {sorted(expected)}",
                after,
            )
            return
        self.stats.counts["closed"] += after["status"] == "closed"
        if self.spec(ticket)["nodes"][target]["kind"] == "dispatch":
            manual = after["node"] == self.spec(ticket)["nodes"][target]["on_no_candidate"]
            self.stats.counts["dispatch: " + ("no candidate" if manual else "assigned")] += 1
        self.adopt_children(ticket)

    def finish(self) -> None:
        """Every ticket ends closed or parked (open and ready)."""
        for ticket in self.tickets.values():
            if ticket.id in self.broken:
                continue
            body = self.settle(ticket, "at the end of the walk")
            if body is not None:
                self.stats.counts[f"ended {body['status']}"] += 1

    def report(self) -> str:
        counts = dict(sorted(self.stats.counts.items()))
        steps = Counter(min(t.steps, STEPS_PER_TICKET) for t in self.tickets.values())
        return f"walk: {counts}; steps per ticket: {dict(sorted(steps.items()))}"


def run_walk(
    url: str, tenants: dict[str, dict[str, Any]], *, seed: int, per_type: int, seconds: float, tickets: int
) -> None:
    started = time.monotonic()
    walker = Walker(url, tenants, seed)
    walker.create_round(per_type)
    walker.walk(seconds, tickets)
    walker.finish()
    summary = f"{walker.report()}; {time.monotonic() - started:.1f} s"
    print(summary)  # shown with -s / -rA
    out = ROOT / ".build" / "fuzz" / f"walk-{seed}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(summary + "\n", encoding="utf-8")
    violations = walker.stats.violations
    assert not violations, f"{len(violations)} violation(s); {summary}\n" + "\n".join(violations)
    assert walker.stats.counts["primary actions"] + walker.stats.counts["other actions"] > 0, summary


# --------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, dict[str, Any]]]]:
    with generated_twin(tmp_path_factory.mktemp("generated-tenants"), SEEDS) as running:
        yield running


def test_generated_tenants_walk_as_their_files_say(generated: tuple[str, dict[str, dict[str, Any]]]) -> None:
    url, tenants = generated
    run_walk(url, tenants, seed=2026, per_type=TICKETS_PER_TYPE, seconds=WALK_SECONDS, tickets=MAX_TICKETS)


@pytest.mark.fuzz
def test_fuzz_generated_tenants_walk(tmp_path: Path) -> None:
    with generated_twin(tmp_path, FUZZ_SEEDS) as (url, tenants):
        run_walk(
            url,
            tenants,
            seed=7,
            per_type=FUZZ_TICKETS_PER_TYPE,
            seconds=FUZZ_WALK_SECONDS,
            tickets=FUZZ_MAX_TICKETS,
        )
