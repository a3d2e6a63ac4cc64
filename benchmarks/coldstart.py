"""``scrm bench coldstart``: each handler's import-and-init time against a boto3 baseline.

Every sample is a fresh interpreter in the environment a Lambda runtime gives the function
(``LAMBDA_TASK_ROOT``, the function's name and powertools service, X-Ray tracing on and the runtime
settings of every function, ``RUNTIME_ENV``, as the stack sets them): the handler module is
imported, which is what Lambda does at init (the module-level work: powertools, resolvers, models).
The baseline is ``import boto3; boto3.client("dynamodb")`` in the same environment. Samples are
taken in rounds, one of the baseline and one of every handler per round, so a change of load on the
machine moves them alike; each figure is the median of ROUNDS rounds, and the ratio (goal ≤ 1.5x)
is a handler's median over the baseline's. The same is given for the CPU time of the import
(``cpu_ms``, ``cpu_ratio``): on a machine shared with other work it moves much less than wall time,
which is what Lambda waits for.

Work that init leaves to the first event is reported apart, not hidden: ``deferred_ms`` is, in
the same interpreter right after the import, starting the tracer (X-Ray SDK import, botocore
patch: ``shared.observability.LazyTracer``), importing and building the validator of the tenant
configuration (``shared.tenant.models``, ``defer_build``), importing what a handler leaves to the
requests that need it (``FIRST_EVENT``: repositories, the form validation of web forms) and building
the functions' API models, which are ``defer_build`` (``BUILD_DEFERRED_MODELS``). A cold
invocation pays it once, on its first event (the first of its kind, for ``FIRST_EVENT``).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROUNDS = 11
ROOT = Path(__file__).resolve().parents[1]
BASELINE = "import boto3; boto3.client('dynamodb')"
DEFERRED = (
    "from shared.observability import tracer; tracer.start(); "
    "from shared.tenant.models import TenantConfig; TenantConfig.model_rebuild(force=True)"
)
BUILD_DEFERRED_MODELS = (
    "import sys, pydantic; "
    "[model.model_rebuild() for module in list(sys.modules.values()) "
    "if getattr(module, '__name__', '').startswith('functions.') "
    "for model in list(vars(module).values()) if isinstance(model, type) "
    "and issubclass(model, pydantic.BaseModel) and model.__module__ == module.__name__ "
    "and not model.__pydantic_complete__]"
)
"""The functions' API models that the import left unbuilt (``defer_build``): a request builds its route's."""
FIRST_EVENT = {
    "scrm-dispatch-api": ("shared.repositories.technicians", "shared.repositories.tickets"),
    "scrm-webhooks-api": (
        "shared.repositories.deliveries",  # every delivery and form
        "shared.adapters.queues",
        "shared.adapters.bodies",
        "shared.adapters.secrets",  # every webhook (its channel's secrets)
        "functions.ticket.service",  # web forms: their ticket type's form validation
        "shared.workflow.forms",
    ),
    "scrm-webhooks-ops": ("shared.repositories.deliveries", "shared.adapters.queues"),
}
"""Modules a handler imports on its first request instead of at init (besides the tenant models)."""
ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "x",
    "AWS_SECRET_ACCESS_KEY": "x",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "LAMBDA_TASK_ROOT": str(ROOT),
    "TABLE_NAME": "scrm",
    "PYTHONDONTWRITEBYTECODE": "",
}
UNSET = ("POWERTOOLS_TRACE_DISABLED", "POWERTOOLS_DEV", "AWS_SAM_LOCAL", "AWS_CHALICE_CLI_MODE")


def _env(function: str) -> dict[str, str]:
    from infra.constructs.functions import RUNTIME_ENV  # what the stack sets on every function

    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    service = function.removeprefix("scrm-").split("-", 1)[0]
    return {
        **env,
        **ENV,
        **RUNTIME_ENV,
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "POWERTOOLS_SERVICE_NAME": service,
    }


def _sample(function: str, code: str, after: str = "pass") -> tuple[float, float, float]:
    """(init ms, init CPU ms, deferred ms) of one fresh interpreter: ``code``, then ``after``, timed."""
    probe = (
        f"import time; t, c = time.perf_counter(), time.process_time(); {code}; "
        f"t1, c1 = time.perf_counter(), time.process_time(); {after}; "
        "print(t1 - t, c1 - c, time.perf_counter() - t1)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=_env(function),
        cwd=ROOT,
        check=True,
    )
    init, cpu, deferred = (float(x) * 1000 for x in out.stdout.strip().splitlines()[-1].split())
    return init, cpu, deferred


def handlers() -> list[tuple[str, str]]:
    from infra.constructs.functions import FUNCTIONS

    return [(spec.name, spec.handler) for spec in FUNCTIONS]


def measure(rounds: int = ROUNDS, progress: bool = False) -> dict[str, Any]:
    targets = [("baseline", "scrm-baseline", BASELINE, "pass")]
    for name, handler in handlers():
        module, _, attr = handler.rpartition(".")
        first = [f"import {first_module}" for first_module in FIRST_EVENT.get(name, ())]
        after = "; ".join([DEFERRED, *first, BUILD_DEFERRED_MODELS])
        targets.append((name, name, f"import {module} as m; m.{attr}", after))
    for _key, function, code, after in targets:
        _sample(function, code, after)  # warm the file system cache and write the .pyc files
    samples: dict[str, list[tuple[float, float, float]]] = {key: [] for key, *_ in targets}
    for round_no in range(rounds):
        if progress:
            print(f"  round {round_no + 1}/{rounds}", file=sys.stderr, flush=True)
        for key, function, code, after in targets:
            samples[key].append(_sample(function, code, after))

    def median(key: str, column: int) -> float:
        return statistics.median(sample[column] for sample in samples[key])

    baseline, baseline_cpu = median("baseline", 0), median("baseline", 1)
    rows = []
    for name, handler in handlers():
        init, cpu = median(name, 0), median(name, 1)
        rows.append(
            {
                "function": name,
                "handler": handler,
                "init_ms": round(init, 1),
                "ratio": round(init / baseline, 2),
                "cpu_ms": round(cpu, 1),
                "cpu_ratio": round(cpu / baseline_cpu, 2),
                "deferred_ms": round(median(name, 2), 1),
            }
        )
    return {
        "baseline_ms": round(baseline, 1),
        "baseline_cpu_ms": round(baseline_cpu, 1),
        "baseline": BASELINE,
        "rounds": rounds,
        "goal_ratio": 1.5,
        "handlers": rows,
    }


def main(as_json: bool, rounds: int = ROUNDS) -> int:
    result = measure(rounds, progress=True)
    if as_json:
        print(json.dumps({"benchmark": "coldstart", **result}, indent=2))
        return 0
    print(
        f"baseline ({result['baseline']}): {result['baseline_ms']} ms, CPU {result['baseline_cpu_ms']} ms "
        f"(medians of {rounds} rounds)"
    )
    print(
        f"{'function':<24} {'init ms':>8} {'x baseline':>10} {'CPU ms':>8} {'x CPU':>6} {'deferred ms':>11}"
    )
    for row in result["handlers"]:
        print(
            f"{row['function']:<24} {row['init_ms']:>8} {row['ratio']:>10} {row['cpu_ms']:>8} "
            f"{row['cpu_ratio']:>6} {row['deferred_ms']:>11}"
        )
    print("init: import of the handler module (Lambda init), goal <= 1.5x the baseline;")
    print(
        "deferred: tracer start, tenant-model build and first-request imports, paid once by the first event"
    )
    return 0
