"""Benchmarks (`scrm bench NAME`): reproducible speed and cost measurements."""

from __future__ import annotations

import json
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "tenants"


def _examples() -> list[str]:
    return sorted(str(p) for p in EXAMPLES.glob("*.yaml") if not p.name.endswith(".secrets.yaml"))


def run_benchmark(name: str, *, as_json: bool = False) -> int:
    if name != "lifecycle":
        print(f"benchmark '{name}' is not built yet (see the open issues)", file=sys.stderr)
        return 2
    from benchmarks.lifecycle import run

    results = run(_examples())
    if as_json:
        print(json.dumps({"benchmark": "lifecycle", "results": results}, ensure_ascii=False, indent=2))
        return 0
    print(f"{'tenant/type':<24} {'outcome':<26} {'floor':>5} {'transitions':>11} {'USD/ticket':>11}")
    for r in results:
        label = f"{r.get('tenant', '')}/{r['type']}"
        if "transitions" not in r:
            print(f"{label:<24} {r['outcome']}")
            continue
        print(
            f"{label:<24} {r['outcome']:<26} {r['floor']:>5} {r['transitions']:>11} "
            f"{r['cost_per_ticket_usd']:>11.6f}"
        )
    print(
        "floor = nodes on the shortest path to an end; transitions = states entered (Step Functions history)"
    )
    return 0
