"""A ticket never loses its execution: 200 creates racing their own park task on the twin."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from infra.twin.client import TwinClient

CONSULT = {"customer_name": "赛跑", "customer_phone": "+8613900000200", "question": "race?"}


def test_200_creates_racing_their_park_all_keep_execution_and_version(agent: TwinClient) -> None:
    def create(n: int) -> dict[str, Any]:
        answer = agent.post("/tickets", {"type": "consult", "fields": {**CONSULT, "question": f"race {n}"}})
        assert answer.status == 201, answer.body
        return dict(answer.body)

    with ThreadPoolExecutor(max_workers=8) as pool:
        created = list(pool.map(create, range(200)))

    # Every answer already names its execution and version (recorded by the start or by the park)
    assert all(t["execution_arn"] and t["workflow_version"] for t in created), [
        t["id"] for t in created if not (t["execution_arn"] and t["workflow_version"])
    ]
    # And once parked, every ticket still has them, and its execution is named after it
    deadline = time.monotonic() + 120
    pending = {t["id"] for t in created}
    seen: dict[str, dict[str, Any]] = {}
    while pending and time.monotonic() < deadline:
        for ticket_id in list(pending):
            body = agent.get(f"/tickets/{ticket_id}").body
            if body["ready"]:
                seen[ticket_id] = body
                pending.discard(ticket_id)
        time.sleep(0.1)
    assert not pending, f"{len(pending)} tickets never parked"
    for ticket_id, body in seen.items():
        assert body["execution_arn"].endswith(f":{ticket_id}"), body
        assert body["workflow_version"], body
