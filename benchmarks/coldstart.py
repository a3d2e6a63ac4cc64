"""``scrm bench coldstart``: each handler's import-and-init time against a boto3 baseline.

Every sample is a fresh interpreter (what a Lambda cold start pays before the first event):
the handler module is imported (its module-level work: powertools, resolvers, models), and
the baseline is ``import boto3; boto3.client("dynamodb")``. Median of REPEATS runs, same
machine, same environment; the ratio is what the goal (≤ 1.5x) is about.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from typing import Any

REPEATS = 7
BASELINE = "import boto3; boto3.client('dynamodb')"
ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "x",
    "AWS_SECRET_ACCESS_KEY": "x",
    "TABLE_NAME": "scrm",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "PYTHONDONTWRITEBYTECODE": "",
}


def _sample(code: str) -> float:
    probe = f"import time; t = time.perf_counter(); {code}; print(time.perf_counter() - t)"
    env = {**os.environ, **ENV}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.strip().splitlines()[-1]) * 1000


def _median(code: str) -> float:
    _sample(code)  # warm the file system cache and .pyc files
    return statistics.median(_sample(code) for _ in range(REPEATS))


def handlers() -> list[tuple[str, str]]:
    from infra.constructs.functions import FUNCTIONS

    return [(spec.name, spec.handler) for spec in FUNCTIONS]


def measure() -> dict[str, Any]:
    baseline = _median(BASELINE)
    rows = []
    for name, handler in handlers():
        module, _, attr = handler.rpartition(".")
        ms = _median(f"import {module} as m; m.{attr}")
        rows.append(
            {"function": name, "handler": handler, "init_ms": round(ms, 1), "ratio": round(ms / baseline, 2)}
        )
    return {"baseline_ms": round(baseline, 1), "baseline": BASELINE, "repeats": REPEATS, "handlers": rows}


def main(as_json: bool) -> int:
    result = measure()
    if as_json:
        print(json.dumps({"benchmark": "coldstart", **result}, indent=2))
        return 0
    print(f"baseline ({result['baseline']}): {result['baseline_ms']} ms (median of {REPEATS})")
    print(f"{'function':<24} {'init ms':>8} {'x baseline':>10}")
    for row in result["handlers"]:
        print(f"{row['function']:<24} {row['init_ms']:>8} {row['ratio']:>10}")
    return 0
