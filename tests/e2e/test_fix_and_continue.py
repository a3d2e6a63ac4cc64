"""An incomplete ticket can be completed: a hand-off without a region waits for a person, who fills
its fields (PATCH /tickets/{id}/fields) and dispatches it; the parent keeps only its own fields."""

from __future__ import annotations

from infra.twin.client import TwinClient

CONSULT = {"customer_name": "补全", "customer_phone": "+8613900000400", "question": "装空调?"}


def test_a_hand_off_without_region_is_completed_and_dispatched(agent: TwinClient) -> None:
    created = agent.post("/tickets", {"type": "consult", "fields": CONSULT})
    assert created.status == 201, created.body
    ready = agent.wait_ready(created.body["id"], node="answer")
    body = {
        "action": "to_install",
        "fields": {"answer": "安排", "product_model": "KFR"},
        "version": ready["version"],
    }
    assert agent.post(f"/tickets/{ready['id']}/actions", body).status == 200

    # The parent keeps only its own fields: the hand-off's values (and the install type's defaults)
    # travel to the linked ticket
    parent = agent.wait_status(ready["id"], "closed")
    assert set(parent["fields"]) == {*CONSULT, "answer"}, parent["fields"]
    child_id = parent["children"][0]

    # The linked install lacks address and region: dispatch does not guess, a dispatcher gets it
    child = agent.wait_ready(child_id, node="manual_dispatch")
    assert child["fields"]["product_model"] == "KFR"
    assert set(child["incomplete"]["missing"]) == {"address", "region"}
    assert child["dispatch"]["explanation"]["missing"] == ["region"]

    # A person completes it; a bad value is refused per field, a required one cannot be cleared
    dispatcher = TwinClient(agent.base_url).as_user("acme-home", "u-zhao", ["dispatcher"])
    bad = dispatcher.request(
        "PATCH",
        f"/tickets/{child_id}/fields",
        {"fields": {"region": "XX", "nope": 1}, "version": child["version"]},
    )
    assert bad.status == 422, bad.body
    assert {d["field"] for d in bad.body["details"]} == {"region", "nope"}
    cleared = dispatcher.request(
        "PATCH",
        f"/tickets/{child_id}/fields",
        {"fields": {"customer_name": None}, "version": child["version"]},
    )
    assert cleared.status == 422, cleared.body
    fixed = dispatcher.request(
        "PATCH",
        f"/tickets/{child_id}/fields",
        {"fields": {"address": "朝阳区建国路1号", "region": "CN-BJ"}, "version": child["version"]},
    )
    assert fixed.status == 200, fixed.body
    assert fixed.body["incomplete"] is None and fixed.body["fields"]["region"] == "CN-BJ"
    history = agent.get(f"/tickets/{child_id}/history").body["events"]
    assert history[-1]["kind"] == "fields_changed" and history[-1]["actor"] == "u-zhao"
    stale = dispatcher.request(
        "PATCH", f"/tickets/{child_id}/fields", {"fields": {"address": "x"}, "version": child["version"]}
    )
    assert stale.status == 409

    # Then the dispatcher assigns a technician, and the ticket goes on as any other
    assigned = dispatcher.post(
        f"/tickets/{child_id}/actions",
        {"action": "assign", "fields": {"technician": "t-wang"}, "version": fixed.body["version"]},
    )
    assert assigned.status == 200, assigned.body
    on_site = agent.wait_ready(child_id, node="on_site")
    assert on_site["assignee"] == {"kind": "technician", "id": "t-wang"}
