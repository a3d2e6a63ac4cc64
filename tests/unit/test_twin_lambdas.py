"""The twin's in-process Lambda: one container per function, each invocation in its own environment.

The handlers are this module's functions (``LocalLambdas`` imports them by name, as it imports the
deployed handlers), run by a ``LocalLambdas`` hosting two fake functions that differ in their
environment the way the deployed ones do (``TENANT_DATA_ACCESS``, ``POWERTOOLS_SERVICE_NAME``).
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from infra.twin.lambdas import FunctionSpec, LocalLambdas
from shared.settings import function_environment, settings

WRITER, READER = "fake-writer", "fake-reader"
ROLES = "arn:aws:iam::123456789012:role/scrm-tenant-{tenant}-{access}"
COMMON = {"TABLE_NAME": "scrm", "TENANT_ROLE_ARN": ROLES}
VARIABLES = ("TABLE_NAME", "TENANT_ROLE_ARN", "TENANT_DATA_ACCESS", "POWERTOOLS_SERVICE_NAME", "SENDER_EMAIL")

_lock = threading.Lock()
_running: Counter[str] = Counter()
_most: Counter[str] = Counter()
_overlap = threading.Event()  # set when the two functions ran at the same time
_release = threading.Event()
_order: list[int] = []
_twin: dict[str, LocalLambdas] = {}


def report(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """What the function sees as its settings, read before and after a pause (another thread runs)."""
    name = context.function_name
    with _lock:
        _running[name] += 1
        _most[name] = max(_most[name], _running[name])
        if all(_running[n] for n in (WRITER, READER)):
            _overlap.set()
    try:
        before = settings()
        time.sleep(event.get("sleep", 0.005))
        after = settings()
        return {
            "n": event["n"],
            "access": (before.tenant_data_access, after.tenant_data_access),
            "function": after.aws_lambda_function_name,
            "sender": after.sender_email,
        }
    finally:
        with _lock:
            _running[name] -= 1


def hold(event: dict[str, Any], context: Any) -> int:
    """Keeps the container until released; every later event records its turn."""
    if event.get("hold"):
        assert _release.wait(10), "never released"
    else:
        _order.append(event["n"])
    return int(event.get("n", -1))


def recurse(event: dict[str, Any], context: Any) -> int:
    """Invokes its own function synchronously, on its own thread, ``depth`` times."""
    depth = int(event["depth"])
    if depth == 0:
        return 0
    return 1 + int(_twin["lambdas"].invoke(context.function_name, {"depth": depth - 1}))


def spec(name: str, handler: str, **env: str) -> FunctionSpec:
    return FunctionSpec(name, f"{__name__}.{handler}", {**COMMON, **env}, timeout=30, memory=512)


@pytest.fixture
def lines() -> list[str]:
    return []


@pytest.fixture
def lambdas(lines: list[str]) -> Iterator[LocalLambdas]:
    saved = {key: os.environ.pop(key) for key in VARIABLES if key in os.environ}
    hosted = LocalLambdas(lines.append)
    hosted.add(spec(WRITER, "report", TENANT_DATA_ACCESS="data", POWERTOOLS_SERVICE_NAME="writer"))
    hosted.add(
        spec(
            READER,
            "report",
            TENANT_DATA_ACCESS="read",
            POWERTOOLS_SERVICE_NAME="reader",
            SENDER_EMAIL="no-reply@example.test",
        )
    )
    hosted.add(spec("fake-hold", "hold"))
    hosted.add(spec("fake-recurse", "recurse"))
    hosted._install_environment()
    _running.clear()
    _most.clear()
    _overlap.clear()
    _release.clear()
    _order.clear()
    _twin["lambdas"] = hosted
    settings.cache_clear()
    yield hosted
    _release.set()
    for key in VARIABLES:  # the process environment as it was
        os.environ.pop(key, None)
    os.environ.update(saved)
    settings.cache_clear()


def test_each_invocation_sees_its_own_functions_environment(lambdas: LocalLambdas) -> None:
    calls = [(WRITER if n % 2 else READER, n) for n in range(64)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda c: (c, lambdas.invoke(c[0], {"n": c[1]})), calls))

    for (name, n), answer in answers:
        access = "data" if name == WRITER else "read"
        assert answer["n"] == n
        assert answer["access"] == (access, access)
        assert answer["function"] == name
        assert answer["sender"] == (None if name == WRITER else "no-reply@example.test")
    assert _overlap.is_set(), "the two functions never ran at the same time"
    assert _most[WRITER] == 1 and _most[READER] == 1, f"one function ran events at once: {_most}"
    assert lambdas.invocations == {WRITER: 32, READER: 32}


def test_only_what_the_functions_agree_on_goes_into_the_process(
    lambdas: LocalLambdas, lines: list[str]
) -> None:
    assert os.environ["TABLE_NAME"] == "scrm"
    assert "TENANT_DATA_ACCESS" not in os.environ and "POWERTOOLS_SERVICE_NAME" not in os.environ
    assert os.environ["SENDER_EMAIL"] == "no-reply@example.test"  # one value where set: the twin reads it
    assert any("TENANT_DATA_ACCESS" in line and "per invocation" in line for line in lines), lines
    # outside an invocation: the process environment, as before
    assert settings().tenant_data_access == "data" and settings().aws_lambda_function_name == "scrm"


def test_the_environment_nests_and_comes_back() -> None:
    outside = settings()
    with function_environment({"TENANT_DATA_ACCESS": "read", "AWS_LAMBDA_FUNCTION_NAME": "a"}):
        assert settings().tenant_data_access == "read"
        first = settings()
        with function_environment({"TENANT_DATA_ACCESS": "open-tickets"}):
            assert settings().tenant_data_access == "open-tickets"
        assert settings() is first  # cached per distinct environment
    assert settings() is outside


def test_waiting_invocations_are_served_one_at_a_time_in_arrival_order(lambdas: LocalLambdas) -> None:
    container = lambdas.containers["fake-hold"]
    holder = threading.Thread(target=lambdas.invoke, args=("fake-hold", {"hold": True}))
    holder.start()
    deadline = time.monotonic() + 5
    while lambdas.invocations.get("fake-hold", 0) == 0 and time.monotonic() < deadline:
        time.sleep(0.001)
    threads = []
    for n in range(6):
        thread = threading.Thread(target=lambdas.invoke, args=("fake-hold", {"n": n}))
        thread.start()
        threads.append(thread)
        while container.waited < n + 1 and time.monotonic() < deadline:
            time.sleep(0.001)  # queued before the next one arrives
    assert container.waited == 6 and _order == []
    _release.set()
    for thread in [holder, *threads]:
        thread.join(10)
    assert _order == [0, 1, 2, 3, 4, 5]


def test_a_function_that_invokes_itself_on_its_thread_runs_and_is_logged_once(
    lambdas: LocalLambdas, lines: list[str]
) -> None:
    assert lambdas.invoke("fake-recurse", {"depth": 3}) == 3
    assert lambdas.invoke("fake-recurse", {"depth": 2}) == 2
    assert sum("fake-recurse invoked itself" in line for line in lines) == 1, lines
    # and the container is free again for another thread
    done = threading.Thread(target=lambdas.invoke, args=("fake-recurse", {"depth": 1}))
    done.start()
    done.join(5)
    assert not done.is_alive()
