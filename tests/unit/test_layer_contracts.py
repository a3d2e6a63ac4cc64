"""The layer contracts of pyproject.toml ``[tool.importlinter]`` refuse a wrong import.

The contracts are checked on a small package tree written into ``tmp_path``: the same root packages
(``functions``, ``shared``, ``infra``, ``benchmarks``) with one module per role, so that the test
does not depend on the real code, which may be moving. A clean tree keeps every contract; each case
then adds one wrong import (at the top of a module, inside a function body, or under
``TYPE_CHECKING``) and the contract it breaks must say so, naming the importer and the imported.

import-linter runs in one subprocess for all the cases (a few seconds in all), each case in its own
scratch directory at the front of the import path, so the real packages (imported by other tests in
this process) cannot stand in for the scratch ones.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

# One module per role. The handlers and the composition root use AWS and the repositories (they
# may); the use case sees ports only; a second service has a handler and a use case of its own.
CLEAN_TREE = {
    "shared/__init__.py": "",
    "shared/clock.py": "",
    "shared/domain/__init__.py": "",
    "shared/domain/ticket.py": "from shared import clock\n",
    "shared/ports.py": "from shared.domain import ticket\n",
    "shared/repositories/__init__.py": "",
    "shared/repositories/tickets.py": "import pynamodb\n\nfrom shared.domain import ticket\n",
    "shared/adapters/__init__.py": "",
    "shared/adapters/engine.py": "import boto3\nimport botocore\n\nfrom shared import ports\n",
    "functions/__init__.py": "",
    "functions/ticket/__init__.py": "",
    "functions/ticket/service.py": "from shared import ports\nfrom shared.domain import ticket\n",
    "functions/ticket/wiring.py": (
        "from functions.ticket import service\n"
        "from shared.adapters import engine\n"
        "\n\ndef deps():\n"
        "    from shared.repositories import tickets\n\n"
        "    return service, engine, tickets\n"
    ),
    "functions/ticket/handler.py": "import boto3\n\nfrom functions.ticket import service, wiring\n",
    "functions/ticket/tasks.py": (
        "from functions.ticket import wiring\nfrom shared.repositories import tickets\n"
    ),
    "functions/dispatch/__init__.py": "",
    "functions/dispatch/notify.py": "from shared.domain import ticket\n",
    "functions/dispatch/handler.py": "from functions.dispatch import notify\n",
    "infra/__init__.py": "",
    "infra/app.py": "from functions.dispatch import handler\nfrom functions.ticket import handler as api\n",
    "benchmarks/__init__.py": "",
    "benchmarks/run.py": "from functions.ticket import service\nfrom infra import app\n",
}

LAZY = "\n\ndef later():\n    {}\n"
TYPING_ONLY = "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    {}\n"

# (contract id, module that gets the wrong import, the import, "importer -> imported" in the report)
WRONG_IMPORTS = [
    ("domain-pure", "shared/domain/ticket.py", "import boto3", "shared.domain.ticket -> boto3"),
    (
        "domain-pure",
        "shared/domain/ticket.py",
        LAZY.format("from shared.repositories import tickets"),
        "shared.domain.ticket -> shared.repositories.tickets",
    ),
    (
        "ports-pure",
        "shared/ports.py",
        TYPING_ONLY.format("from shared.adapters import engine"),
        "shared.ports -> shared.adapters.engine",
    ),
    (
        "use-cases-see-ports",
        "functions/ticket/service.py",
        LAZY.format("from shared.repositories import tickets"),
        "functions.ticket.service -> shared.repositories.tickets",
    ),
    (
        "use-cases-see-ports",
        "functions/dispatch/notify.py",
        TYPING_ONLY.format("from shared.adapters import engine"),
        "functions.dispatch.notify -> shared.adapters.engine",
    ),
    (
        "use-cases-no-aws",
        "functions/ticket/service.py",
        "import botocore",
        "functions.ticket.service -> botocore",
    ),
    (
        "entry-points-imported-by-infra-only",
        "functions/ticket/service.py",
        LAZY.format("from functions.ticket import wiring"),
        "functions.ticket.service -> functions.ticket.wiring",
    ),
    (
        "handlers-independent",
        "functions/ticket/handler.py",
        "from functions.dispatch import handler",
        "functions.ticket.handler -> functions.dispatch.handler",
    ),
    (
        "services-independent",
        "functions/ticket/service.py",
        "from functions.dispatch import notify",
        "functions.ticket.service -> functions.dispatch.notify",
    ),
    (
        "runtime-layers",
        "shared/clock.py",
        LAZY.format("from functions.ticket import service"),
        "shared.clock -> functions.ticket.service",
    ),
    (
        "runtime-layers",
        "functions/ticket/service.py",
        "from infra import app",
        "functions.ticket.service -> infra.app",
    ),
    ("runtime-layers", "shared/clock.py", "import benchmarks.run", "shared.clock -> benchmarks.run"),
]


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def _scratch_config(config: dict[str, Any]) -> str:
    """The real contracts, except that an ``ignore_imports`` line the scratch tree does not contain
    (the real tree's legitimate exceptions) is not an error here."""
    lines = ["[tool.importlinter]"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in config.items() if key != "contracts"]
    for contract in config["contracts"]:
        if "ignore_imports" in contract:
            contract = {**contract, "unmatched_ignore_imports_alerting": "none"}
        lines += ["", "[[tool.importlinter.contracts]]"]
        lines += [f"{key} = {_toml_value(value)}" for key, value in contract.items()]
    return "\n".join(lines) + "\n"


# Runs in the subprocess: argv[1] is a JSON list of {"dir", "contracts"}; prints a JSON list of
# {"exit", "report"}. Each case's directory is the working directory and the front of sys.path
# while import-linter builds its graph (it finds the root packages with importlib, never imports them).
RUNNER = """
import importlib, json, os, sys
from importlinter import cli
from importlinter.application import output

results = []
for case in json.loads(sys.argv[1]):
    os.chdir(case["dir"])
    importlib.invalidate_caches()
    with output.console.capture() as captured:
        code = cli.lint_imports(limit_to_contracts=tuple(case["contracts"]), no_cache=True, no_logo=True)
    results.append({"exit": code, "report": captured.get()})
    sys.path.remove(os.getcwd())  # put there by lint_imports
print(json.dumps(results))
"""


def _lint_each(cases: list[tuple[Path, tuple[str, ...]]]) -> list[dict[str, Any]]:
    """import-linter's exit code and report for each (directory, contract ids: all when empty)."""
    payload = json.dumps([{"dir": str(d), "contracts": list(ids)} for d, ids in cases])
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, payload],
        cwd=cases[0][0],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    answers: list[dict[str, Any]] = json.loads(result.stdout.strip().splitlines()[-1])
    return answers


def _write_tree(base: Path, tree: dict[str, str]) -> None:
    for name, text in tree.items():
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _scratch(base: Path, config: dict[str, Any], module: str | None = None, statement: str = "") -> Path:
    """The clean tree under ``base``, with ``statement`` appended to ``module`` when given."""
    tree = dict(CLEAN_TREE)
    if module is not None:
        tree[module] = tree[module] + "\n" + statement + "\n"
    _write_tree(base, tree)
    (base / "pyproject.toml").write_text(_scratch_config(config), encoding="utf-8")
    return base


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        return dict(tomllib.load(fh)["tool"]["importlinter"])


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory, config: dict[str, Any]) -> list[dict[str, Any]]:
    """Index 0: the clean tree, every contract; index i + 1: WRONG_IMPORTS[i], its contract only."""
    cases: list[tuple[Path, tuple[str, ...]]] = [(_scratch(tmp_path_factory.mktemp("clean"), config), ())]
    for i, (contract, module, statement, _reported) in enumerate(WRONG_IMPORTS):
        cases.append((_scratch(tmp_path_factory.mktemp(f"wrong{i}"), config, module, statement), (contract,)))
    return _lint_each(cases)


def test_every_contract_is_exercised(config: dict[str, Any]) -> None:
    # Given the contracts of pyproject.toml, each has an id and a wrong import below that breaks it
    ids = [c.get("id") for c in config["contracts"]]
    assert None not in ids, "every contract needs an id (lint-imports --contract <id>)"
    assert set(ids) == {case[0] for case in WRONG_IMPORTS}


def test_the_clean_scratch_tree_keeps_every_contract(reports: list[dict[str, Any]]) -> None:
    # Handlers and the composition root use AWS and repositories; use cases see ports only
    clean = reports[0]
    assert clean["exit"] == 0, clean["report"]
    assert "BROKEN" not in clean["report"] and "KEPT" in clean["report"]


@pytest.mark.parametrize(
    ("index", "reported"),
    [(i + 1, r) for i, (_c, _m, _s, r) in enumerate(WRONG_IMPORTS)],
    ids=[f"{c}:{r}" for c, _m, _s, r in WRONG_IMPORTS],
)
def test_a_wrong_import_breaks_its_contract(reports: list[dict[str, Any]], index: int, reported: str) -> None:
    # Given the clean tree with one wrong import, when only its contract is checked (the case's
    # contract id), then that contract is reported broken, naming the import
    answer = reports[index]
    assert answer["exit"] == 1, answer["report"]
    assert "BROKEN" in answer["report"] and reported in answer["report"], answer["report"]


def test_the_real_tree_keeps_every_contract() -> None:
    [answer] = _lint_each([(ROOT, ())])
    assert answer["exit"] == 0, answer["report"]
