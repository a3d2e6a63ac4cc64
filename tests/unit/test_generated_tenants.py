"""Generated tenant files (issue 14): valid, and routed exactly as written, whatever the names.

A human node's primary action is its FIRST action in the file, whatever it is called: the Task's
``Next`` in the ASL, taken by success; every other action whose target differs is a Catch on
``route_error(label)``. The check compares the ASL compiled from the configuration as the
functions get it (``encode_config`` → the provider's object → ``decode_object``: the config
transport) against the ORDER OF THE GENERATED FILE, so a transport or a model that re-orders keys
(sorting them, as the transport once did) fails here.
``test_the_check_catches_a_transport_that_sorts_keys`` keeps that promise honest: with a sorting
transport patched in, the same check must find mismatches.

Profiles: the default run draws 40 hypothesis examples plus 30 fixed seeds; ``pytest -m fuzz``
(``make fuzz``) draws 500 × ``SCRM_FUZZ_SCALE`` examples (default scale 1).
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings

from shared.tenant import transport
from shared.tenant.loader import check_tenant_files
from shared.tenant.models import TenantConfig
from shared.tenant.transport import config_json, decode_object, encode_config, encode_object
from shared.tenant.validate import validate_tenant_data
from shared.workflow.compiler import (
    LOOP_FAIL_STATE,
    compile_definition,
    compile_ticket_type,
)
from shared.workflow.resume import resumption
from shared.workflow.routing import RESUME_ERROR_PREFIX, ROUTE_ERROR_PREFIX, route_error, success_labels
from tests.generated import random_tenant, tenants, to_yaml

SCALE = float(os.environ.get("SCRM_FUZZ_SCALE", "1"))
DEFAULT_EXAMPLES = 40
FUZZ_EXAMPLES = max(1, int(500 * SCALE))
SEEDS = range(30)

_SETTINGS: dict[str, Any] = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    # No shrinking: a tenant drawn from st.randoms does not get simpler by shrinking, only slower
    # (minutes); the failure message carries the whole file instead.
    "phases": [Phase.explicit, Phase.reuse, Phase.generate],
}


# --------------------------------------------------------------------------- the checks


def _validated(data: dict[str, Any]) -> TenantConfig:
    """The file as a tenant writes it (YAML text) read back and validated: no problem at all."""
    text = to_yaml(data)
    loaded = yaml.safe_load(text)
    # YAML keeps the generated order (json.dumps compares order, == does not).
    assert json.dumps(loaded, ensure_ascii=False) == json.dumps(data, ensure_ascii=False)
    config, problems = validate_tenant_data(loaded, file=f"{data['tenant']['id']}.yaml")
    assert problems == [], "\n".join(str(p) for p in problems) + "\n" + text
    assert config is not None
    return config


def _over_the_wire(config: TenantConfig) -> TenantConfig:
    """The configuration as a function reads it: the tenant stack's property, written into the
    tenant's object by the provider (which never re-serializes it), decoded by the store."""
    return decode_object(encode_object(config_json(encode_config(config)), {})).config


def routing_mismatches(data: dict[str, Any], config: TenantConfig) -> list[str]:
    """Every way the compiled ASL of ``config`` routes differently from the file ``data`` says.

    File order is ``data``'s (the generated mapping), never ``config``'s.
    """
    found: list[str] = []
    tenant_id = data["tenant"]["id"]
    if list(config.ticket_types) != list(data["ticket_types"]):
        found.append(f"ticket types in order {list(config.ticket_types)}, file: {list(data['ticket_types'])}")
    for type_id, spec in data["ticket_types"].items():
        ticket_type = config.ticket_types[type_id]
        asl = compile_definition(ticket_type, tenant_id, type_id)
        states = asl["States"]
        where = f"{type_id}"
        if asl["StartAt"] != spec["start"]:
            found.append(f"{where}: starts at {asl['StartAt']!r}, file start {spec['start']!r}")
        decisions = [name for name, node in spec["nodes"].items() if node["kind"] == "decision"]
        choices = [name for name, state in states.items() if state["Type"] == "Choice"]
        if choices != decisions:
            found.append(f"{where}: Choice states {choices}; exactly the decision nodes are")
        start = states.get(spec["start"], {})
        if start.get("Type") == "Choice":  # a start decision hands a retry on through `<node>.resume`
            resumed = {
                c["Next"].removesuffix(".resume"): states[c["Next"]]["Next"]
                for c in start.get("Choices", [])
                if str(c.get("Next", "")).endswith(".resume")
            }
        else:
            resumed = {
                e[len(RESUME_ERROR_PREFIX) :]: c["Next"]
                for c in start.get("Catch", [])
                for e in c["ErrorEquals"]
                if e.startswith(RESUME_ERROR_PREFIX)
            }
        others = [name for name in spec["nodes"] if name != spec["start"]]
        if list(resumed) != others or any(name != target for name, target in resumed.items()):
            found.append(f"{where}: the start node resumes at {resumed}, file nodes {others}")
        tasks = [name for name, state in states.items() if state["Type"] == "Task" and "." not in name]
        if tasks != [n for n in spec["nodes"] if n not in decisions]:
            found.append(f"{where}: Task states in order {tasks}, file nodes {list(spec['nodes'])}")
        for node_name, node in spec["nodes"].items():
            state = states.get(node_name)
            at = f"{where}.{node_name}"
            kind = node["kind"]
            if kind == "decision":
                found += _decision_mismatches(at, node, state or {}, states, node_name)
                continue
            if state is None or state["Type"] != "Task":
                found.append(f"{at}: no Task state for the node")
                continue
            if kind == "human":
                found += _human_mismatches(at, node, state, ticket_type.nodes[node_name], node_name)
            elif kind == "end":
                if state.get("End") is not True or "Next" in state:
                    found.append(f"{at}: an end node's Task must end the execution")
            elif kind == "dispatch" and node.get("on_no_candidate") not in (None, node["next"]):
                routed = {e: c["Next"] for c in state.get("Catch", []) for e in c["ErrorEquals"]}
                if state.get("Next") != node["next"]:
                    found.append(f"{at}: Next {state.get('Next')!r}, file next {node['next']!r}")
                if routed.get(route_error("no_candidate")) != node["on_no_candidate"]:
                    found.append(
                        f"{at}: no_candidate Catch goes to {routed.get(route_error('no_candidate'))!r}, "
                        f"file on_no_candidate {node['on_no_candidate']!r}"
                    )
                if not str(state.get("Resource", "")).endswith(".waitForTaskToken"):
                    found.append(f"{at}: a branching dispatch must be a callback Task")
            elif state.get("Next") != node["next"]:
                found.append(f"{at}: Next {state.get('Next')!r}, file next {node['next']!r}")
    return found


def _decision_mismatches(
    at: str, node: dict[str, Any], state: dict[str, Any], states: dict[str, Any], name: str
) -> list[str]:
    """A decision is its own Choice: no-facts first (to its refresh Task, which comes back), then its
    rules in file order, then its default."""
    found: list[str] = []
    if state.get("Type") != "Choice":
        return [f"{at}: a decision node must be a Choice state"]
    rules = [c for c in state.get("Choices", []) if not str(c.get("Next", "")).endswith(".resume")]
    refresh = f"{name}.refresh"
    if not rules or rules[0].get("Next") != refresh or states.get(refresh, {}).get("Next") != name:
        found.append(f"{at}: missing facts must be read by {refresh} first")
    wanted = [rule["next"] for rule in node["rules"]]
    if [c["Next"] for c in rules[1:]] != wanted:
        found.append(f"{at}: Choice rules lead to {[c['Next'] for c in rules[1:]]}, file rules {wanted}")
    if state.get("Default") != node["default"]:
        found.append(f"{at}: Choice default {state.get('Default')!r}, file {node['default']!r}")
    return found


def _human_mismatches(
    at: str, node: dict[str, Any], state: dict[str, Any], model: Any, name: str
) -> list[str]:
    found: list[str] = []
    actions = list(node["actions"].items())  # the file's order
    primary_label, primary_target = actions[0]
    if state.get("Next") != primary_target:
        found.append(
            f"{at}: Next {state.get('Next')!r}, but the primary (first) action {primary_label!r} "
            f"goes to {primary_target!r} (actions in file order: {[a for a, _ in actions]})"
        )
    catches = [
        c
        for c in state.get("Catch", [])
        if c["Next"] != LOOP_FAIL_STATE and not c["ErrorEquals"][0].startswith(RESUME_ERROR_PREFIX)
    ]
    # a Catch to a decision goes through its facts Pass (`<decision>.facts`, which leads to it)
    routed = {error: c["Next"].removesuffix(".facts") for c in catches for error in c["ErrorEquals"]}
    wanted = {}
    for label, target in actions[1:]:
        error = route_error(label)
        if target == primary_target:
            if error in routed:
                found.append(f"{at}: action {label!r} leads where the primary does but has a Catch")
        else:
            wanted[error] = target
            if routed.get(error) != target:
                found.append(
                    f"{at}: action {label!r} -> {target!r}, Catch routes it to {routed.get(error)!r}"
                )
    extra = {e: t for e, t in routed.items() if e.startswith(ROUTE_ERROR_PREFIX) and e not in wanted}
    if extra:
        found.append(f"{at}: Catch entries for no action of the file: {extra}")
    # What the park task stores with the token (from the Task payload) decides how an action is
    # resumed and which one needs the full form: it must say the file's first action.
    payload = state.get("Parameters", {}).get("Payload", {})
    success = [label for label, target in actions if target == primary_target]
    if payload.get("primary") != primary_label or payload.get("success") != success:
        found.append(
            f"{at}: the payload says primary {payload.get('primary')!r}, success {payload.get('success')!r}; "
            f"the file says {primary_label!r}, {success}"
        )
    if success_labels(model) != success:
        found.append(f"{at}: success_labels {success_labels(model)}, file order says {success}")
    for label, target in actions:
        taken_by_success = target == primary_target
        for stored in (payload.get("success"), None):  # as parked; parked by an ASL without it
            sent = resumption(model, name, label, "catch", stored)
            if sent.error != (None if taken_by_success else route_error(label)):
                found.append(f"{at}: action {label!r} is resumed with error {sent.error!r}")
    return found


def check_generated(data: dict[str, Any]) -> None:
    config = _validated(data)
    wire = _over_the_wire(config)
    assert encode_config(config) == encode_config(wire), "the transport is not stable"
    mismatches = routing_mismatches(data, wire)
    assert not mismatches, "\n".join([*mismatches, "the file:", to_yaml(data)])
    for type_id in data["ticket_types"]:
        first = compile_ticket_type(wire, type_id)
        assert compile_ticket_type(wire, type_id) == first, f"{type_id}: two compilations differ"
        assert compile_ticket_type(config, type_id) == first, f"{type_id}: the transport changed the ASL"


# --------------------------------------------------------------------------- default profile


@settings(max_examples=DEFAULT_EXAMPLES, **_SETTINGS)
@given(tenants())
def test_generated_tenants_validate_and_route_as_the_file_says(data: dict[str, Any]) -> None:
    check_generated(data)


@pytest.mark.parametrize("seed", SEEDS)
def test_seeded_tenants_validate_and_route_as_the_file_says(seed: int) -> None:
    data = random_tenant(random.Random(seed), f"seed-{seed}")
    assert random_tenant(random.Random(seed), f"seed-{seed}") == data, "the generator is not deterministic"
    check_generated(data)


def test_scrm_validate_accepts_generated_files() -> None:
    with tempfile.TemporaryDirectory() as folder:
        files = []
        for seed in range(5):
            path = Path(folder) / f"gen-{seed}.yaml"
            path.write_text(to_yaml(random_tenant(random.Random(seed), f"gen-{seed}")), encoding="utf-8")
            files.append(path)
        checks = check_tenant_files(files)
    assert [c.problems for c in checks] == [[] for _ in files]
    assert all(c.config is not None for c in checks)


def test_the_generator_puts_the_primary_action_where_sorting_moves_it() -> None:
    # Without this the suite could pass with a sorting transport by luck.
    moved = total = 0
    for seed in range(50):
        data = random_tenant(random.Random(seed), f"seed-{seed}")
        for spec in data["ticket_types"].values():
            for node in spec["nodes"].values():
                actions = node.get("actions", {})
                if len(set(actions.values())) > 1:
                    total += 1
                    moved += sorted(actions)[0] != next(iter(actions))
    assert total and moved / total > 0.5, (moved, total)


def test_the_check_catches_a_transport_that_sorts_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    # The bug of issue 14: config_to_json with sort_keys=True made the primary action alphabetical.
    def sorted_json(cfg: TenantConfig) -> str:
        data = cfg.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    monkeypatch.setattr(transport, "config_to_json", sorted_json)
    caught = 0
    for seed in range(10):
        data = random_tenant(random.Random(seed), f"seed-{seed}")
        primary_moves = any(
            sorted(node["actions"])[0] != next(iter(node["actions"]))
            for spec in data["ticket_types"].values()
            for node in spec["nodes"].values()
            if node["kind"] == "human" and len(set(node["actions"].values())) > 1
        )
        mismatches = routing_mismatches(data, _over_the_wire(_validated(data)))
        caught += bool(mismatches)
        if primary_moves:
            assert any("primary (first) action" in m for m in mismatches), seed
    assert caught == 10


def test_a_node_named_like_the_loop_cap_state_is_refused_or_routed() -> None:
    data = random_tenant(random.Random(3), "seed-3")
    spec = next(iter(data["ticket_types"].values()))
    old, new = spec["start"], "LoopLimitExceeded"

    def renamed(name: str) -> str:
        return new if name == old else name

    spec["start"] = new
    spec["nodes"] = {renamed(name): node for name, node in spec["nodes"].items()}
    for node in spec["nodes"].values():
        for key in ("next", "on_no_candidate"):
            if key in node:
                node[key] = renamed(node[key])
        if "actions" in node:
            node["actions"] = {label: renamed(target) for label, target in node["actions"].items()}
    for policy in data.get("sla_policies", {}).values():
        policy["targets"] = {renamed(name): budget for name, budget in policy["targets"].items()}
        policy["pause_on_nodes"] = [renamed(name) for name in policy.get("pause_on_nodes", [])]
    config, problems = validate_tenant_data(data)
    if config is None:  # refused, with a problem that says why: fine
        assert any(new in str(p) for p in problems)
        return
    assert routing_mismatches(data, _over_the_wire(config)) == []


# --------------------------------------------------------------------------- fuzz profile


@pytest.mark.fuzz
@settings(max_examples=FUZZ_EXAMPLES, **_SETTINGS)
@given(tenants())
def test_fuzz_generated_tenants_validate_and_route_as_the_file_says(data: dict[str, Any]) -> None:
    check_generated(data)


@pytest.mark.fuzz
def test_fuzz_seeded_tenants() -> None:
    for seed in range(1000, 1000 + max(1, int(300 * SCALE))):
        check_generated(random_tenant(random.Random(seed), f"seed-{seed}"))
