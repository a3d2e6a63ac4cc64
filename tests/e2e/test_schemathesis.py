"""Property-based API tests: schemathesis against the twin's own ``GET /openapi.json``.

Every documented operation is called with generated requests, valid and invalid ones, as an
acme-home admin. Whatever the input, no answer is a 5xx, and an answer whose status is
documented matches its documented schema. Webhook and form bodies are the platforms' own
formats (signed, sometimes XML), so for those routes only the no-5xx check runs.

The operations are listed from the committed document (``functions/ticket/openapi.json``, the
file the twin serves) so that each is its own test; the schema itself is loaded from the twin.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from infra.twin.client import TwinClient
from infra.twin.twin import LocalTwin

TENANT = "acme-home"
MAX_EXAMPLES = 25 * max(1, int(os.environ.get("SCRM_FUZZ_SCALE", "1")))
"""Examples per operation; ``SCRM_FUZZ_SCALE`` (``make fuzz``) multiplies it."""
TALLY: dict[str, Any] = {"requests": 0, "operations": set(), "statuses": Counter(), "server_errors": []}
"""What the run sent: written to ``.build/fuzz/schemathesis.json`` at the end of the module."""
PLATFORM_PREFIXES = ("/webhooks/", "/forms/")
"""Routes whose bodies are platform-specific: only the no-5xx check applies to them."""

DOCUMENT = Path(__file__).parents[2] / "functions" / "ticket" / "openapi.json"
CHANNELS = ("shopify-main", "woo-main", "youzan-shop", "wecom-service", "web-repair", "partner-api")
CONSULT = {"customer_name": "Fuzz", "customer_phone": "+8613900000000", "question": "?"}
OPERATIONS = sorted(
    (path, method)
    for path, ops in json.loads(DOCUMENT.read_text(encoding="utf-8"))["paths"].items()
    for method in ops
)
KNOWN_BODIES: dict[tuple[str, str], list[Any]] = {
    ("post", "/tickets"): [{"type": "consult", "fields": CONSULT}],
    # An explicit null once erased the value and every later read was a 500: now it is a 422.
    ("put", "/technicians/{technician_id}"): [{"capacity": None}],
}
KNOWN_BUGS: dict[tuple[str, str], Any] = {}


@pytest.fixture(scope="module", autouse=True)
def _tally() -> Iterator[None]:
    """The run's figures (requests, distinct operations, statuses, 5xx) for the record."""
    yield
    out = Path(__file__).parents[2] / ".build" / "fuzz" / "schemathesis.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    figures = {
        "requests": TALLY["requests"],
        "operations": len(TALLY["operations"]),
        "statuses": dict(sorted(TALLY["statuses"].items())),
        "server_errors": TALLY["server_errors"],
    }
    out.write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")


@pytest.fixture(scope="session")
def admin_token(anonymous: TwinClient) -> str:
    token = anonymous.as_user(TENANT, "u-fuzz-admin", ["admin"]).token
    assert token
    return token


@pytest.fixture(scope="session")
def known_ids(anonymous: TwinClient) -> dict[str, list[str]]:
    """Path parameter values that exist, so generated requests also get past the 404s."""
    agent = anonymous.as_user(TENANT, "u-fuzz-agent", ["agent"])
    created = agent.post("/tickets", {"type": "consult", "fields": CONSULT})
    assert created.status == 201, created.body
    return {
        "tenant": [TENANT],
        "channel": list(CHANNELS),
        "ticket_id": [created.body["id"]],
        "technician_id": ["t-li"],
    }


@pytest.fixture(scope="session")
def twin_schema(twin: LocalTwin) -> Any:
    loaded = schemathesis.openapi.from_url(f"{twin.url}/openapi.json", timeout=30)
    loaded.config.update(base_url=twin.url)
    return loaded


@pytest.fixture
def technicians_restored(anonymous: TwinClient) -> Iterator[None]:
    """Fuzzing ``PUT /technicians/{id}`` changes a shared technician: put every field back after."""
    admin = anonymous.as_user(TENANT, "u-fuzz-admin", ["admin"])
    before = admin.get("/technicians")
    assert before.status == 200, before.body
    yield
    for record in before.body["items"]:
        restore = {key: record[key] for key in ("status", "skills", "regions", "capacity", "location")}
        answer = admin.request("PUT", f"/technicians/{record['id']}", restore)
        assert answer.status == 200, answer.body


@pytest.mark.usefixtures("technicians_restored")
@pytest.mark.parametrize(
    ("path", "method"),
    [pytest.param(p, m, id=f"{m.upper()} {p}", marks=KNOWN_BUGS.get((m, p), ())) for p, m in OPERATIONS],
)
def test_no_input_gets_a_5xx_and_answers_match_the_schema(
    twin_schema: Any, admin_token: str, known_ids: dict[str, list[str]], path: str, method: str
) -> None:
    operation = twin_schema[path][method]
    checks: list[Any] = [not_a_server_error]
    if not path.startswith(PLATFORM_PREFIXES):
        checks.append(response_schema_conformance)
    headers = {"authorization": f"Bearer {admin_token}"}
    # Generated path parameters rarely name anything that exists: besides them, the same
    # operation runs with known tenants, channels, tickets and technicians, each on its own budget.
    names = re.findall(r"{(\w+)}", path)
    sources: list[dict[str, str] | None] = [None]
    if all(n in known_ids for n in names):
        sources += [
            dict(zip(names, v, strict=True)) for v in itertools.product(*(known_ids[n] for n in names))
        ]
    runs = [
        (pinned, mode) for pinned in sources for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    ]
    strategies = [(operation.as_strategy(mode, path_parameters=pinned), mode) for pinned, mode in runs]
    # Bodies that generation rarely hits: a valid ticket (its fields are free-form), a known bug.
    strategies += [
        (
            operation.as_strategy(GenerationMode.POSITIVE, path_parameters=sources[-1], body=body),
            GenerationMode.POSITIVE,
        )
        for body in KNOWN_BODIES.get((method, path), [])
    ]
    budget = max(2, MAX_EXAMPLES // len(strategies))
    for strategy, mode in strategies:
        try:
            fuzz(strategy, budget, headers, checks)
        except Unsatisfiable:
            # No documented body and free-form (or pinned) path parameters: nothing can be made invalid.
            if mode is not GenerationMode.NEGATIVE:
                raise


def fuzz(cases: Any, examples: int, headers: dict[str, str], checks: list[Any]) -> None:
    @given(case=cases)
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def call(case: schemathesis.Case) -> None:
        response = case.call(headers=headers, timeout=30)
        TALLY["requests"] += 1
        TALLY["operations"].add(f"{case.method} {case.path}")
        TALLY["statuses"][str(response.status_code)] += 1
        if response.status_code >= 500:
            TALLY["server_errors"].append(f"{case.method} {case.path}: {response.status_code}")
        case.validate_response(response, checks=checks)

    call()


def test_stateful_sequences_never_get_a_5xx(twin_schema: Any, admin_token: str) -> None:
    """Chains of calls through the document's links (a created ticket, then its reads, actions,
    cancel, field changes and retry): whatever the order, no answer is a 5xx."""
    machine = twin_schema.as_state_machine()

    class Authorized(machine):  # type: ignore[misc, valid-type]
        def before_call(self, case: schemathesis.Case) -> None:
            # the document's bearer scheme makes generation fill in tokens of its own: use a real one
            case.headers = {**(case.headers or {}), "authorization": f"Bearer {admin_token}"}

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"timeout": 30}

        def validate_response(self, response: Any, case: schemathesis.Case, **kwargs: Any) -> None:
            TALLY["requests"] += 1
            TALLY["operations"].add(f"{case.method} {case.path}")
            TALLY["statuses"][str(response.status_code)] += 1
            if response.status_code >= 500:
                TALLY["server_errors"].append(f"stateful {case.method} {case.path}: {response.status_code}")
            case.validate_response(response, checks=[not_a_server_error])

    Authorized.run(
        settings=settings(
            max_examples=MAX_EXAMPLES,
            stateful_step_count=6,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
