"""Benchmarks (`scrm bench NAME`): reproducible speed and cost measurements."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "tenants"


def _examples() -> list[str]:
    return sorted(str(p) for p in EXAMPLES.glob("*.yaml") if not p.name.endswith(".secrets.yaml"))


def _progress(line: str) -> None:
    print(f"  {line}", file=sys.stderr, flush=True)


def run_benchmark(name: str, *, as_json: bool = False, tickets: int = 10) -> int:
    if name == "lifecycle":
        return _lifecycle(as_json, tickets)
    if name == "coldstart":
        from benchmarks.coldstart import main as coldstart

        return coldstart(as_json)
    if name == "ingest":
        from benchmarks.ingest import main as ingest

        return ingest(as_json, deliveries=tickets)
    if name == "dispatch":
        from benchmarks.dispatch import main as dispatch

        return dispatch(as_json)
    if name == "templates":
        from benchmarks.templates import main as templates

        return templates(as_json)
    print(f"benchmark '{name}' is not built yet (see the open issues)", file=sys.stderr)
    return 2


def _lifecycle(as_json: bool, tickets: int) -> int:
    from benchmarks.lifecycle import run, run_install

    files = _examples()
    _progress(f"{tickets} install tickets, signed webhook to settlement, on the twin ...")
    install = run_install(files, tickets, progress=_progress)
    _progress("one ticket of every type along its shortest path ...")
    types = run(files)
    if as_json:
        print(
            json.dumps(
                {"benchmark": "lifecycle", "install": install, "types": types}, ensure_ascii=False, indent=2
            )
        )
        return 0
    _print_install(install)
    print()
    print(f"{'tenant/type':<24} {'outcome':<26} {'floor':>5} {'transitions':>11}")
    for r in types:
        label = f"{r.get('tenant', '')}/{r['type']}"
        if "transitions" not in r:
            print(f"{label:<24} {r['outcome']}")
            continue
        print(f"{label:<24} {r['outcome']:<26} {r['floor']:>5} {r['transitions']:>11}")
    print(
        "floor = states on the shortest path to an end (one per node, a decision's Choice included); "
        "transitions = states entered (Step Functions history)"
    )
    return 0


def _print_install(r: dict[str, Any]) -> None:
    per = r["per_ticket"]
    print(f"install tickets: {r['tickets']} in {r['seconds']}s, outcomes {r['outcomes']}")
    print(
        f"  per ticket: {per['transitions']:.1f} state transitions (floor {r['floor_states']} states: "
        f"{' -> '.join(r['floor_path'])})"
    )
    print(
        f"              {sum(per['lambda_calls'].values()):.1f} Lambda invocations, "
        f"{sum(per['lambda_cpu_ms'].values()):.1f} ms handler CPU, "
        f"{per['rru']:.1f} RRU, {per['wru']:.1f} WRU"
    )
    print(
        f"              {per['write_requests']:.1f} DynamoDB write requests "
        f"(floor {r['floor_write_requests']}: delivery, ticket, one per node entered, one per action)"
    )
    counts = per["counts"]
    interesting = [
        "apigw:request",
        "sqs:SendMessage",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessageBatch",
        "scheduler:CreateSchedule",
        "scheduler:Invocation",
        "sns:Publish",
        "ses:SendEmail",
    ]
    print("              " + ", ".join(f"{k} {counts.get(k, 0):.1f}" for k in interesting))
    print("  Lambda per function (calls, handler CPU ms):")
    for name, calls in sorted(per["lambda_calls"].items()):
        print(f"    {name:<24} {calls:>5.1f} {per['lambda_cpu_ms'].get(name, 0):>9.1f}")
    print("  USD per 1000 tickets (us-east-1 list prices):")
    for k, v in r["usd_per_1000_tickets"].items():
        print(f"    {k:<24} {v:>9.4f}")
