"""The ASL compiler: golden files, determinism, the shape rules (one state per node, Catch routing)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from shared.tenant import load_tenant_file
from shared.tenant.models import Node, TenantConfig, TicketType
from shared.workflow.compiler import (
    CATCH_ROUTING,
    LOOP_FAIL_STATE,
    RESUME_ERROR_PREFIX,
    RESUME_STATE,
    SETTLEMENT_RETRY_ERRORS,
    compile_definition,
    compile_ticket_type,
    outgoing,
    resume_error,
    route_error,
)
from shared.workflow.resume import answer_task, hand_over, resume, resumption
from shared.workflow.routing import primary_label, resume_target, success_labels
from tests.fakes import FakeEngine

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


def _route_catches(state: dict) -> dict[str, list[str]]:
    """Target -> route errors of a Task's Catch entries (the loop cap's and resumes left out)."""
    return {
        c["Next"]: c["ErrorEquals"]
        for c in state["Catch"]
        if c["Next"] != LOOP_FAIL_STATE and not c["ErrorEquals"][0].startswith(RESUME_ERROR_PREFIX)
    }


def test_every_node_costs_one_state_and_there_is_no_choice_state_at_all(
    configs: list[TenantConfig],
) -> None:
    # One state per node and the loop cap's Fail state: no entry Choice (Resume?), no Choice after a
    # dispatch node (each would be one more billed transition on every ticket's happy path); only a
    # decision node is one, its own state (it reads the facts the steps before it left).
    for cfg in configs:
        for type_id, ticket_type in cfg.ticket_types.items():
            definition = compile_definition(ticket_type, cfg.tenant.id, type_id)
            states = definition["States"]
            assert definition["StartAt"] == ticket_type.start, type_id
            assert RESUME_STATE not in states
            decisions = [n for n, node in ticket_type.nodes.items() if node.kind == "decision"]
            assert [n for n, s in states.items() if s["Type"] == "Choice"] == decisions, type_id
            # a decision's helpers are named after it with a dot (never a node name)
            helpers = [n for n in states if "." in n]
            assert all(n.split(".", 1)[0] in ticket_type.nodes for n in helpers), helpers
            assert [n for n in states if n not in helpers] == [*ticket_type.nodes, LOOP_FAIL_STATE]
            for name, state in states.items():
                if state["Type"] != "Task" or name in helpers:
                    continue
                payload = state["Parameters"].get("Payload", state["Parameters"])
                node = ticket_type.nodes[name]
                branching = len(set(outgoing(node).values())) > 1
                # human nodes and branching system nodes route by Catch; the others never route
                expected = CATCH_ROUTING if node.kind == "human" or branching else None
                assert payload.get("routing") == expected, name
                assert state["Resource"].endswith(".waitForTaskToken") == (expected is not None), name


def test_other_ways_out_are_catch_entries_on_route_errors(configs: list[TenantConfig]) -> None:
    acme = next(c for c in configs if c.tenant.id == "acme-home")
    states = compile_definition(acme.ticket_types["install"], "acme-home", "install")["States"]
    # waiting_parts has one action: its Task goes straight on, nothing but the loop cap to catch.
    assert states["waiting_parts"]["Next"] == "on_site"
    assert _route_catches(states["waiting_parts"]) == {}
    # on_site: the primary action (complete) on success, one Catch per other target.
    assert states["on_site"]["Next"] == "customer_confirm"
    assert _route_catches(states["on_site"]) == {
        "waiting_parts": [route_error("need_parts")],
        "dispatching": [route_error("decline")],
    }
    assert states["on_site"]["Catch"][1] == {
        "ErrorEquals": ["Scrm.Route.need_parts"],
        "ResultPath": "$.result",
        "Next": "waiting_parts",
    }
    # dispatch with on_no_candidate: a callback Task whose function answers with SendTaskFailure on
    # no candidate (no Choice state; no Lambda error to trip the errors alarm), Catch to its route
    dispatching = states["dispatching"]
    assert dispatching["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert dispatching["Parameters"]["FunctionName"] == "${DispatchAssignArn}"
    assert dispatching["Parameters"]["Payload"]["success"] == ["done"]
    assert dispatching["Next"] == "on_site"
    assert dispatching["Catch"][1] == {
        "ErrorEquals": ["Scrm.Route.no_candidate"],
        "ResultPath": "$.result",
        "Next": "manual_dispatch",
    }
    assert "dispatching?" not in states
    assert states["done"]["End"] is True and "Next" not in states["done"]


def test_labels_sharing_a_target_share_one_catch_and_the_primary_target_is_success() -> None:
    node = Node.model_validate(
        {
            "kind": "human",
            "assignee": {"role": "agent"},
            "actions": {"ok": "a", "also_ok": "a", "redo": "b", "undo": "b", "stop": "c"},
        }
    )
    ticket_type = TicketType.model_validate(
        {
            "name": "t",
            "start": "n",
            "nodes": {
                "n": node.model_dump(exclude_none=True),
                "a": {"kind": "end"},
                "b": {"kind": "end"},
                "c": {"kind": "end"},
            },
        }
    )
    state = compile_definition(ticket_type, "t", "t")["States"]["n"]
    assert state["Next"] == "a"
    assert _route_catches(state) == {
        "b": ["Scrm.Route.redo", "Scrm.Route.undo"],
        "c": ["Scrm.Route.stop"],
    }
    assert success_labels(node) == ["ok", "also_ok"]
    assert primary_label(node) == "ok"
    # The payload says so, and the park task stores it: the resumer never re-derives it.
    assert state["Parameters"]["Payload"]["primary"] == "ok"
    assert state["Parameters"]["Payload"]["success"] == ["ok", "also_ok"]
    assert resumption(node, "n", "also_ok", CATCH_ROUTING, ["ok", "also_ok"]).error is None
    assert resumption(node, "n", "undo", CATCH_ROUTING, ["ok", "also_ok"]).error == "Scrm.Route.undo"


def test_the_primary_action_is_the_files_first_whatever_it_is_called() -> None:
    # Given a node whose primary action sorts last alphabetically
    node = Node.model_validate(
        {"kind": "human", "assignee": {"role": "agent"}, "actions": {"zhuan": "b", "abandon": "c"}}
    )
    ticket_type = TicketType.model_validate(
        {
            "name": "t",
            "start": "n",
            "nodes": {"n": node.model_dump(exclude_none=True), "b": {"kind": "end"}, "c": {"kind": "end"}},
        }
    )
    state = compile_definition(ticket_type, "t", "t")["States"]["n"]
    # Then it is the Task's Next, the payload's primary, and taken by succeeding; abandon is a Catch
    assert state["Next"] == "b"
    assert state["Parameters"]["Payload"]["primary"] == "zhuan"
    assert _route_catches(state) == {"c": ["Scrm.Route.abandon"]}
    assert resumption(node, "n", "zhuan", CATCH_ROUTING, ["zhuan"]).error is None
    assert resumption(node, "n", "abandon", CATCH_ROUTING, ["zhuan"]).error == "Scrm.Route.abandon"


def test_a_retried_execution_is_handed_on_by_the_start_nodes_catch(configs: list[TenantConfig]) -> None:
    for cfg in configs:
        for type_id, ticket_type in cfg.ticket_types.items():
            definition = compile_definition(ticket_type, cfg.tenant.id, type_id)
            states = definition["States"]
            start = states[ticket_type.start]
            assert definition["StartAt"] == ticket_type.start
            payload = start["Parameters"].get("Payload", start["Parameters"])
            assert (payload["resume_at.$"], payload["type.$"]) == ("$.resume_at", "$.type")
            resumes = [c for c in start["Catch"] if c["ErrorEquals"][0].startswith(RESUME_ERROR_PREFIX)]
            # one Catch per other node, in file order, consuming $.resume_at (taken once)
            assert [c["Next"] for c in resumes] == [n for n in ticket_type.nodes if n != ticket_type.start]
            assert all(c["ErrorEquals"] == [resume_error(c["Next"])] for c in resumes)
            assert all(c["ResultPath"] == "$.resume_at" for c in resumes)
            # no other Task sees resume_at or catches a resume
            for name, state in states.items():
                if name == ticket_type.start or state["Type"] != "Task":
                    continue
                payload = state["Parameters"].get("Payload", state["Parameters"])
                assert "resume_at.$" not in payload, name
                assert not any(c["ErrorEquals"][0].startswith(RESUME_ERROR_PREFIX) for c in state["Catch"])


def test_the_resume_target_is_taken_once_and_only_to_a_node_of_the_type(configs: list[TenantConfig]) -> None:
    install = next(c for c in configs if c.tenant.id == "acme-home").ticket_types["install"]
    event = {"node": "dispatching", "resume_at": "on_site"}
    assert resume_target(event, install) == "on_site"
    assert resume_target({**event, "resume_at": None}, install) is None  # a first start
    assert resume_target({**event, "resume_at": "dispatching"}, install) is None  # retried at the start
    assert resume_target({**event, "resume_at": "gone_node"}, install) is None  # removed since
    # the Catch wrote its error over $.resume_at: a later visit of the start node runs it
    consumed = {"Error": resume_error("on_site"), "Cause": "{}"}
    assert resume_target({**event, "resume_at": consumed}, install) is None


def test_a_callback_system_task_answers_by_its_outcome() -> None:
    engine = FakeEngine()
    answer_task(engine, "t1", "done", {"outcome": "done", "technician": "t-1"}, ["done"])
    answer_task(engine, "t2", "no_candidate", {"outcome": "no_candidate"}, ["done"])
    hand_over(engine, "t3", "dispatching", "on_site")
    assert engine.resumed == [("t1", {"outcome": "done", "technician": "t-1"})]
    assert engine.failed == [
        ("t2", "Scrm.Route.no_candidate", {"outcome": "no_candidate"}),
        ("t3", "Scrm.Resume.on_site", {"resumed_at": "on_site", "from": "dispatching"}),
    ]


def test_route_errors_are_never_retried(configs: list[TenantConfig]) -> None:
    for cfg in configs:
        for type_id, ticket_type in cfg.ticket_types.items():
            for state in compile_definition(ticket_type, cfg.tenant.id, type_id)["States"].values():
                for retry in state.get("Retry", []):
                    assert all(
                        e.startswith("Lambda.") or e in SETTLEMENT_RETRY_ERRORS for e in retry["ErrorEquals"]
                    ), retry


def test_a_settlement_task_retries_conflicts_with_backoff_and_jitter(configs: list[TenantConfig]) -> None:
    # Given every settlement node of the example tenants
    settlements = [
        (cfg, type_id, name)
        for cfg in configs
        for type_id, ticket_type in cfg.ticket_types.items()
        for name, node in ticket_type.nodes.items()
        if node.kind == "settlement"
    ]
    assert settlements
    for cfg, type_id, name in settlements:
        states = compile_definition(cfg.ticket_types[type_id], cfg.tenant.id, type_id)["States"]
        # Then its Task retries Scrm.Conflict and Scrm.Unavailable first, growing the pause, jittered
        first = states[name]["Retry"][0]
        assert first["ErrorEquals"] == ["Scrm.Conflict", "Scrm.Unavailable"]
        assert first["BackoffRate"] > 1 and first["JitterStrategy"] == "FULL" and first["MaxAttempts"] >= 6
        # And no Task of another kind retries them (a human node's conflict is the caller's 409)
        kinds = {n: node.kind for n, node in cfg.ticket_types[type_id].nodes.items()}
        others = [s for n, s in states.items() if kinds.get(n, "settlement") != "settlement"]
        assert all("Scrm.Conflict" not in r["ErrorEquals"] for s in others for r in s.get("Retry", []))


def test_resuming_decides_by_the_parked_routing(configs: list[TenantConfig]) -> None:
    acme = next(c for c in configs if c.tenant.id == "acme-home")
    on_site = acme.ticket_types["install"].nodes["on_site"]
    # An execution on an older, Choice-shaped version (no routing stored): success with the action.
    for action in ("complete", "need_parts", "decline"):
        old = resumption(on_site, "on_site", action, None)
        assert old == (None, {"action": action, "node": "on_site"})
    # Catch routing: the primary action succeeds, the others fail with their route error.
    assert resumption(on_site, "on_site", "complete", CATCH_ROUTING).error is None
    assert resumption(on_site, "on_site", "decline", CATCH_ROUTING) == (
        "Scrm.Route.decline",
        {"action": "decline", "node": "on_site"},
    )
    engine = FakeEngine()
    resume(engine, "t1", on_site, "on_site", "need_parts", CATCH_ROUTING)
    resume(engine, "t2", on_site, "on_site", "need_parts", None)
    resume(engine, "t3", on_site, "on_site", "complete", CATCH_ROUTING)
    assert engine.failed == [("t1", "Scrm.Route.need_parts", {"action": "need_parts", "node": "on_site"})]
    assert engine.resumed == [
        ("t2", {"action": "need_parts", "node": "on_site"}),
        ("t3", {"action": "complete", "node": "on_site"}),
    ]


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


def test_the_write_floor_counts_delivery_ticket_nodes_and_actions(configs: list[TenantConfig]) -> None:
    from benchmarks.lifecycle import floor_writes, shortest_path

    acme = next(c for c in configs if c.tenant.id == "acme-home")
    install = acme.ticket_types["install"]
    path = shortest_path(install)
    assert path == ["dispatching", "on_site", "customer_confirm", "settle", "done"]
    # delivery + ticket, 5 nodes entered, 2 human actions (complete, confirm)
    assert floor_writes(install, path) == 2 + 5 + 2
