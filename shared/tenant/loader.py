"""Read tenant files (YAML or JSON, by suffix) and their secrets files.

- `load_tenant_file(path)` / `load_tenant_files(paths)`: the configuration, or a
  `TenantConfigError` carrying every problem (file, path, message);
- `check_tenant_files(paths)` / `validate_tenant_files(paths)`: every problem of
  several files, including rules across files (tenant ids) and the demo secrets
  file beside each tenant file (`<stem>.secrets.yaml`), for `scrm validate`.

Keys given twice in one mapping are problems too: YAML and JSON parsers would
silently keep the last one.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from shared.tenant.models import TenantConfig
from shared.tenant.validate import (
    Problem,
    TenantConfigError,
    data_path,
    find_duplicate_tenant_ids,
    validate_secrets,
    validate_tenant_data,
)

__all__ = [
    "FileCheck",
    "check_tenant_files",
    "is_secrets_file",
    "load_secrets_file",
    "load_tenant_file",
    "load_tenant_files",
    "read_document",
    "secrets_file_for",
    "validate_tenant_files",
]

YAML_SUFFIXES = (".yaml", ".yml")
SUFFIXES = (*YAML_SUFFIXES, ".json")
_SECRETS_SUFFIXES = tuple(f".secrets{suffix}" for suffix in SUFFIXES)

# --------------------------------------------------------------------------- parsing


class _YamlLoader(yaml.SafeLoader):
    """`SafeLoader` that notes the keys given more than once in a mapping."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.repeated: dict[int, list[Any]] = {}


def _construct_mapping(loader: _YamlLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    keys = [
        loader.construct_object(key, deep=True)
        for key, _ in node.value
        if key.tag != "tag:yaml.org,2002:merge"  # `<<: *base` then overriding a key is fine
    ]
    mapping = loader.construct_mapping(node, deep=True)
    counts = Counter(key for key in keys if isinstance(key, Hashable))
    repeated = [key for key, count in counts.items() if count > 1]
    if repeated:
        loader.repeated[id(mapping)] = repeated
    return mapping


_YamlLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _parse_yaml(text: str) -> tuple[Any, dict[int, list[Any]]]:
    loader = _YamlLoader(text)
    try:
        return loader.get_single_data(), loader.repeated
    finally:
        loader.dispose()


def _parse_json(text: str) -> tuple[Any, dict[int, list[Any]]]:
    repeated: dict[int, list[Any]] = {}

    def build(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        mapping = dict(pairs)
        counts = Counter(key for key, _ in pairs)
        if len(mapping) != len(pairs):
            repeated[id(mapping)] = [key for key, count in counts.items() if count > 1]
        return mapping

    return json.loads(text, object_pairs_hook=build), repeated


def _repeated_key_problems(data: Any, repeated: dict[int, list[Any]], file: str) -> list[Problem]:
    problems: list[Problem] = []

    def walk(node: Any, loc: tuple[Any, ...]) -> None:
        if isinstance(node, dict):
            for key in repeated.get(id(node), []):
                problems.append(
                    Problem(
                        file,
                        data_path(data, (*loc, key)),
                        f"key {key!r} appears more than once in this mapping and only the last one "
                        "counts; rename one of them or merge them",
                    )
                )
            for key, value in node.items():
                walk(value, (*loc, key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, (*loc, index))

    walk(data, ())
    return list(dict.fromkeys(problems))


def read_document(path: str | Path) -> tuple[Any, list[Problem]]:
    """The parsed content of a YAML or JSON file and the problems met reading it.

    The content is `None` when the file cannot be read or parsed.
    """
    file = str(path)
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        return None, [
            Problem(file, "", f"unsupported file type {suffix or '(none)'!r}; use .yaml, .yml or .json")
        ]
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [Problem(file, "", "file not found; check the path")]
    except UnicodeDecodeError:
        return None, [Problem(file, "", "the file is not UTF-8 text; save it as UTF-8")]
    except OSError as exc:
        return None, [Problem(file, "", f"cannot read the file: {exc.strerror or exc}")]
    try:
        data, repeated = _parse_yaml(text) if suffix in YAML_SUFFIXES else _parse_json(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        detail = " ".join(part for part in (exc.context, exc.problem) if part)
        return None, [Problem(file, "", f"YAML syntax error{where}: {detail}; check indentation and quotes")]
    except yaml.YAMLError as exc:
        return None, [Problem(file, "", f"YAML syntax error: {exc}")]
    except json.JSONDecodeError as exc:
        return None, [
            Problem(file, "", f"JSON syntax error at line {exc.lineno}, column {exc.colno}: {exc.msg}")
        ]
    if data is None:
        return None, [Problem(file, "", "the file is empty; write the configuration into it")]
    return data, _repeated_key_problems(data, repeated, file)


# --------------------------------------------------------------------------- secrets files


def is_secrets_file(path: str | Path) -> bool:
    """`acme-home.secrets.yaml` (demo secret values), as opposed to a tenant file."""
    return Path(path).name.lower().endswith(_SECRETS_SUFFIXES)


def secrets_file_for(tenant_file: str | Path) -> Path:
    """The demo secrets file the local twin reads beside a tenant file."""
    path = Path(tenant_file)
    return path.with_name(f"{path.stem}.secrets.yaml")


def load_secrets_file(path: str | Path) -> dict[str, str]:
    """Secret reference (SSM name) → value; `TenantConfigError` if the file is not such a mapping."""
    data, problems = read_document(path)
    if data is not None:
        problems += validate_secrets(data, file=str(path))
    if any(problem.is_error for problem in problems):
        raise TenantConfigError(problems)
    return {str(key): str(value) for key, value in data.items()}


# --------------------------------------------------------------------------- tenant files


@dataclass
class FileCheck:
    """What `scrm validate` learned about one file."""

    file: str
    kind: Literal["tenant", "secrets"]
    config: TenantConfig | None = None
    problems: list[Problem] = field(default_factory=list)
    data: Any = None

    @property
    def errors(self) -> list[Problem]:
        return [problem for problem in self.problems if problem.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [problem for problem in self.problems if not problem.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors


def _check_tenant(path: str, *, with_secrets: bool) -> FileCheck:
    data, problems = read_document(path)
    check = FileCheck(path, "tenant", data=data, problems=list(problems))
    if data is None:
        return check
    config, found = validate_tenant_data(data, file=path)
    check.problems += found
    check.config = config if not problems else None  # keys given twice make the file unusable
    secrets = secrets_file_for(path)
    if with_secrets and config is not None and secrets.exists():
        secrets_data, secrets_problems = read_document(secrets)
        check.problems += secrets_problems
        if secrets_data is not None:
            check.problems += validate_secrets(
                secrets_data, file=str(secrets), config=config, tenant_file=path
            )
    return check


def _check_secrets(path: str) -> FileCheck:
    data, problems = read_document(path)
    if data is not None:
        problems += validate_secrets(data, file=path)
    return FileCheck(path, "secrets", problems=problems, data=data)


def _expand(paths: Iterable[str | Path]) -> list[str]:
    """Paths as given, directories replaced by their YAML/JSON files, each file once."""
    files: list[str] = []
    for path in paths:
        if Path(path).is_dir():
            files += sorted(str(p) for p in Path(path).iterdir() if p.suffix.lower() in SUFFIXES)
        else:
            files.append(str(path))
    unique: dict[Path, str] = {}
    for file in files:
        unique.setdefault(Path(file).resolve(), file)
    return list(unique.values())


def _with_cross_file_rules(checks: list[FileCheck]) -> list[FileCheck]:
    tenants = [check for check in checks if check.kind == "tenant" and check.data is not None]
    by_file = {check.file: check for check in tenants}
    for problem in find_duplicate_tenant_ids([(check.file, check.data) for check in tenants]):
        by_file[problem.file].problems.append(problem)
        by_file[problem.file].config = None
    return checks


def check_tenant_files(paths: Sequence[str | Path], *, with_secrets: bool = True) -> list[FileCheck]:
    """Check tenant files (and `*.secrets.yaml` files) one by one and against each other.

    A tenant file's own secrets file is checked with it (when `with_secrets`), so a
    secrets file whose tenant file is in `paths` is not checked a second time.
    """
    files = _expand(paths)
    tenant_files = {Path(file).resolve() for file in files if not is_secrets_file(file)}
    checks = []
    for file in files:
        if not is_secrets_file(file):
            checks.append(_check_tenant(file, with_secrets=with_secrets))
            continue
        stem = Path(file).name[: -len(".secrets" + Path(file).suffix)]
        owners = {Path(file).with_name(stem + suffix).resolve() for suffix in SUFFIXES}
        if not (with_secrets and owners & tenant_files):
            checks.append(_check_secrets(file))
    return _with_cross_file_rules(checks)


def validate_tenant_files(paths: Sequence[str | Path]) -> list[Problem]:
    """Every problem (errors and warnings) of these files, in file order."""
    return [problem for check in check_tenant_files(paths) for problem in check.problems]


def load_tenant_files(paths: Sequence[str | Path]) -> list[TenantConfig]:
    """The configuration of each tenant file; `TenantConfigError` with every problem if any file is bad."""
    checks = check_tenant_files(paths, with_secrets=False)
    problems = [problem for check in checks for problem in check.problems]
    if any(problem.is_error for problem in problems):
        raise TenantConfigError(problems)
    return [check.config for check in checks if check.config is not None]


def load_tenant_file(path: str | Path) -> TenantConfig:
    """The configuration in a tenant file; `TenantConfigError` with every problem if it is bad."""
    data, problems = read_document(path)
    config = None
    if data is not None:
        config, found = validate_tenant_data(data, file=str(path))
        problems += found
    if config is None or any(problem.is_error for problem in problems):
        raise TenantConfigError(problems)
    return config
