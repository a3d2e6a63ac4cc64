"""Two tenants side by side in one twin: each runs its own workflow and sees only its own tickets."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.utilities import parameters

from infra.twin.client import TwinClient
from infra.twin.twin import LocalTwin
from tests.e2e.steps import act

COMPLAINT = {
    "customer_name": "Frau Klein",
    "customer_phone": "+4915100000099",
    "description": "Fenster streifig",
}


def test_second_tenant_runs_its_own_workflow_with_a_reopen_loop(anonymous: TwinClient) -> None:
    anna = anonymous.as_user("bright-clean", "u-anna", ["agent"])
    jonas = anonymous.as_user("bright-clean", "u-jonas", ["supervisor", "dispatcher"])
    ticket_id = anna.post("/tickets", {"type": "complaint", "fields": COMPLAINT}).body["id"]

    ready = anna.wait_ready(ticket_id, node="answer")
    act(anna, ticket_id, "answered", {"answer": "Sorry"}, ready["version"])
    at_close = jonas.wait_ready(ticket_id, node="close")
    # The agent may not act on the supervisor's node.
    assert act(anna, ticket_id, "close", {"resolution": "resolved"}, at_close["version"]).status == 403
    # The supervisor sends it back once (a loop to an earlier node), then closes it.
    act(jonas, ticket_id, "reopen", {"resolution": "rejected"}, at_close["version"])
    again = anna.wait_ready(ticket_id, node="answer")
    act(anna, ticket_id, "answered", {"answer": "Redo"}, again["version"])
    at_close = jonas.wait_ready(ticket_id, node="close")
    act(jonas, ticket_id, "close", {"resolution": "resolved"}, at_close["version"])
    closed = jonas.wait_status(ticket_id, "closed")
    assert closed["node"] == "closed" and closed["fields"]["resolution"] == "resolved"
    nodes = [
        e["node"] for e in jonas.get(f"/tickets/{ticket_id}/history").body["events"] if e["kind"] == "entered"
    ]
    assert nodes == ["answer", "close", "answer", "close"]


def test_a_tenant_never_sees_another_tenants_ticket(anonymous: TwinClient, agent: TwinClient) -> None:
    anna = anonymous.as_user("bright-clean", "u-anna", ["agent"])
    theirs = anna.post("/tickets", {"type": "complaint", "fields": COMPLAINT}).body["id"]
    assert agent.get(f"/tickets/{theirs}").status == 404
    assert agent.get(f"/tickets/{theirs}/history").status == 404
    assert theirs not in {t["id"] for t in agent.get("/tickets?limit=100").body["items"]}
    # acme-home has no 'complaint' type.
    wrong = agent.post("/tickets", {"type": "complaint", "fields": COMPLAINT})
    assert wrong.status == 422 and wrong.body["details"][0]["field"] == "type"


def test_tokens_for_undeployed_tenants_are_refused(anonymous: TwinClient) -> None:
    assert anonymous.post("/_local/token", {"tenant": "nobody", "sub": "x", "roles": []}).status == 404


def test_a_technician_sees_only_tickets_dispatched_to_them(anonymous: TwinClient, agent: TwinClient) -> None:
    ticket_id = agent.post(
        "/tickets",
        {
            "type": "consult",
            "fields": {"customer_name": "陈", "customer_phone": "+8613900000000", "question": "?"},
        },
    ).body["id"]
    technician = anonymous.as_user("acme-home", "t-wang", ["technician"])
    assert technician.get(f"/tickets/{ticket_id}").status == 404
    assert technician.get(f"/tickets/{ticket_id}/history").status == 404
    assert technician.get("/tickets?assignee=t-li").status == 403
    mine = technician.get("/tickets")
    assert mine.status == 200 and all(t["assignee"]["id"] == "t-wang" for t in mine.body["items"])


def test_expired_and_wrong_tenant_tokens_get_401(twin: Any, anonymous: TwinClient) -> None:
    expired = TwinClient(anonymous.base_url, twin.issuer.issue("acme-home", "u-lin", ["agent"], lifetime=-10))
    assert expired.get("/tickets").status == 401
    assert "expired" in expired.get("/tickets").body["message"]
    stranger = TwinClient(anonymous.base_url, twin.issuer.issue("not-deployed", "u-lin", ["agent"]))
    assert stranger.get("/tickets").status == 401


def test_cleaning_runs_through_manual_dispatch_a_redo_loop_and_settlement(anonymous: TwinClient) -> None:
    # Given bright-clean's cleaning type; at the twin's start (02:00 in Berlin) nobody is on duty,
    # so the dispatch node routes to manual dispatch.
    anna = anonymous.as_user("bright-clean", "u-anna", ["agent"])
    jonas = anonymous.as_user("bright-clean", "u-jonas", ["supervisor", "dispatcher"])
    fields = {
        "customer_name": "Frau Klein",
        "customer_phone": "+4915100000099",
        "address": "Torstr. 1",
        "region": "DE-BE",
        "area_m2": 80,
    }
    created = anna.post("/tickets", {"type": "cleaning", "fields": fields})
    assert created.status == 201, created.body
    ticket_id = created.body["id"]
    manual = jonas.wait_ready(ticket_id, node="manual_dispatch")
    assert act(jonas, ticket_id, "assign", {"technician": "t-sofia"}, manual["version"]).status == 200
    sofia = anonymous.as_user("bright-clean", "t-sofia", ["technician"])
    work = {"photos": ["p/1.jpg"], "service_items": [{"code": "SVC-DEEP-CLEAN", "quantity": 80}]}
    for review_action in ("redo", "approve"):
        on_site = sofia.wait_ready(ticket_id, node="on_site")
        assert on_site["assignee"] == {"kind": "technician", "id": "t-sofia"}
        done = act(sofia, ticket_id, "done", work, on_site["version"])
        assert done.status == 200, done.body
        review = anna.wait_ready(ticket_id, node="review")
        assert (
            anna.post(
                f"/tickets/{ticket_id}/actions",
                {"action": review_action, "fields": {}, "version": review["version"]},
            ).status
            == 200
        )
    closed = anna.wait_status(ticket_id, "closed")
    settlement = closed["settlement"]
    # dealer in a city region: tier CITY, 80 m² × 3.50 × 1.10 = 308.00, dealer share 80 % = 246.40
    assert settlement["tier"] == "CITY"
    assert settlement["total"] == "308.00"
    entered = [
        e["node"] for e in anna.get(f"/tickets/{ticket_id}/history").body["events"] if e["kind"] == "entered"
    ]
    assert entered == ["manual_dispatch", "on_site", "review", "on_site", "review"]


def test_the_deploy_seeds_each_tenants_technicians(twin: LocalTwin) -> None:
    import os

    import boto3

    from shared.repositories.technicians import roster_digest
    from shared.tenant import load_tenant_file

    for path in twin.tenant_files:
        cfg = load_tenant_file(path)
        digest = roster_digest(list(cfg.technicians))
        # the tenant stack's one custom resource was created: its provider answered CloudFormation
        # after writing the config object and having scrm-dispatch-seed seed the deployed roster
        (created,) = [
            a
            for a in twin.custom_resource_answers
            if a["request"]["ResourceProperties"]["Tenant"] == cfg.tenant.id
            and a["request"]["RequestType"] == "Create"
        ]
        assert created["request"]["ResourceType"] == "Custom::ScrmTenant"
        assert created["request"]["ResourceProperties"]["Roster"] == digest
        assert created["answer"]["Status"] == "SUCCESS", created["answer"]
        assert created["answer"]["PhysicalResourceId"] == f"tenants/{cfg.tenant.id}/config.json.gz"
        assert created["answer"]["Data"]["Seeded"] == str(len(cfg.technicians))
        # and the registry holds that roster's seed marker and every technician of the file
        table = boto3.client("dynamodb", region_name="us-east-1")
        name = os.environ["TABLE_NAME"]
        marker = {"pk": {"S": f"TENANT#{cfg.tenant.id}#TECHSEED"}, "sk": {"S": digest}}
        assert "Item" in table.get_item(TableName=name, Key=marker, ConsistentRead=True)
        for tech in cfg.technicians:
            key = {"pk": {"S": f"TENANT#{cfg.tenant.id}#TECH#{tech.id}"}, "sk": {"S": "TECH"}}
            assert "Item" in table.get_item(TableName=name, Key=key, ConsistentRead=True), tech.id


def _tenant_resource(twin: LocalTwin, tenant: str) -> tuple[str, Any]:
    return next(
        (d.name, r)
        for d in twin.deployments
        for r in d.custom_resources
        if r.type == "Custom::ScrmTenant" and r.properties["Tenant"] == tenant
    )


def test_a_redeploy_the_provider_refuses_fails_and_changes_nothing(twin: LocalTwin) -> None:
    from shared.tenant.store import live_version

    stack, resource = _tenant_resource(twin, "bright-clean")
    before = {t: live_version("bright-clean", t) for t in resource.properties["Live"]}
    # When a redeploy names a version of another tenant's machine for one of its ticket types
    wrong = {**resource.properties["Live"], "complaint": before["cleaning"]}
    changed = {**resource.properties, "Live": wrong}
    with pytest.raises(RuntimeError, match=r"Live\[complaint\]"):
        twin.send_custom_resource(stack, resource.logical_id, "Update", changed)
    # Then the answer was FAILED (the stack would roll back) and the deployed object is untouched
    assert twin.custom_resource_answers[-1]["answer"]["Status"] == "FAILED"
    assert resource.properties["Live"] != wrong
    parameters.clear_caches()
    assert {t: live_version("bright-clean", t) for t in before} == before


def test_a_deleted_tenant_stack_leaves_an_unknown_tenant(twin: LocalTwin, anonymous: TwinClient) -> None:
    stack, resource = _tenant_resource(twin, "bright-clean")
    anna = anonymous.as_user("bright-clean", "u-anna", ["agent"])
    try:
        # When the tenant's stack is deleted (its custom resource gets a Delete)
        answer = twin.send_custom_resource(stack, resource.logical_id, "Delete")
        assert answer["Status"] == "SUCCESS"
        parameters.clear_caches()  # the functions' cached copies expire (5 minutes in AWS)
        # Then every request naming it is a 404, before any data is touched
        refused = anna.get("/tickets?limit=1")
        assert refused.status == 404, refused.body
    finally:
        # (the session's twin goes on with bright-clean: deploy it again)
        twin.send_custom_resource(stack, resource.logical_id, "Create")
        parameters.clear_caches()
    assert anna.get("/tickets?limit=1").status == 200
