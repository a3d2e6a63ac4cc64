"""The ASL compiler: golden files, determinism, and the shape rules (one state per linear node)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from shared.tenant import load_tenant_file
from shared.tenant.models import TenantConfig
from shared.workflow.compiler import LOOP_FAIL_STATE, compile_definition, compile_ticket_type

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
UPDATE = os.environ.get("SCRM_UPDATE_GOLDEN") == "1"


@pytest.fixture(scope="module")
def configs(example_tenant_files: list[str]) -> list[TenantConfig]:
    return [load_tenant_file(f) for f in example_tenant_files]


def test_compiled_asl_matches_the_golden_files(configs: list[TenantConfig]) -> None:
    # A change here shows in review; regenerate with SCRM_UPDATE_GOLDEN=1 after checking the diff.
    for cfg in configs:
        for type_id in cfg.ticket_types:
            golden = GOLDEN / f"{cfg.tenant.id}.{type_id}.asl.json"
            compiled = compile_ticket_type(cfg, type_id)
            if UPDATE:
                golden.write_text(compiled, encoding="utf-8")
            assert golden.exists(), f"missing golden file {golden.name}; run with SCRM_UPDATE_GOLDEN=1"
            assert compiled == golden.read_text(encoding="utf-8"), f"{golden.name} differs"


def test_compilation_is_deterministic(configs: list[TenantConfig]) -> None:
    for cfg in configs:
        for type_id in cfg.ticket_types:
            assert compile_ticket_type(cfg, type_id) == compile_ticket_type(cfg, type_id)


def test_linear_nodes_cost_one_state_and_branches_one_choice(configs: list[TenantConfig]) -> None:
    acme = next(c for c in configs if c.tenant.id == "acme-home")
    states = compile_definition(acme.ticket_types["install"], "acme-home", "install")["States"]
    # waiting_parts has one action: its Task goes straight on, no Choice.
    assert states["waiting_parts"]["Next"] == "on_site"
    assert "waiting_parts?" not in states
    # on_site has three actions: one Choice on the action taken.
    choice = states["on_site?"]
    assert choice["Type"] == "Choice"
    targets = {c["StringEquals"]: c["Next"] for c in choice["Choices"]}
    assert targets | {"complete": choice["Default"]} == {
        "complete": "customer_confirm",
        "need_parts": "waiting_parts",
        "decline": "dispatching",
    }
    # dispatch with on_no_candidate branches on the outcome.
    assert states["dispatching?"]["Choices"][0] == {
        "Variable": "$.result.outcome",
        "StringEquals": "no_candidate",
        "Next": "manual_dispatch",
    }
    assert states["done"]["End"] is True


def test_every_task_is_capped_against_endless_loops(configs: list[TenantConfig]) -> None:
    for cfg in configs:
        for type_id, ticket_type in cfg.ticket_types.items():
            states = compile_definition(ticket_type, cfg.tenant.id, type_id)["States"]
            for name, state in states.items():
                if state["Type"] == "Task":
                    assert state["Catch"][0]["Next"] == LOOP_FAIL_STATE, f"{type_id}.{name}"
            assert states[LOOP_FAIL_STATE]["Type"] == "Fail"


def test_every_transition_target_is_a_state(configs: list[TenantConfig]) -> None:
    for cfg in configs:
        for type_id in cfg.ticket_types:
            definition = json.loads(compile_ticket_type(cfg, type_id))
            states = definition["States"]
            assert definition["StartAt"] in states
            for state in states.values():
                targets = [state.get("Next"), state.get("Default")]
                targets += [c["Next"] for c in state.get("Choices", [])]
                targets += [c["Next"] for c in state.get("Catch", [])]
                assert all(t in states for t in targets if t), f"{type_id}: {targets}"
