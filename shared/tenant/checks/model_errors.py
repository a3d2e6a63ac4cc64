"""Pass 1 of validation: the pydantic errors of `TenantConfig`, as `Problem`s.

Each error gets the path of `data_path` and a message that says what to write
instead (`unknown key 'regoins' (did you mean 'regions'?); allowed keys here: ...`).
Covers every key of the file: whatever the models check (`shared.tenant.models`).
"""

from __future__ import annotations

import re
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from shared.tenant.checks.problems import Loc, Problem, data_path, describe
from shared.tenant.models import PLATFORMS, TenantConfig, did_you_mean

__all__ = ["validation_problems"]


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
            continue
        if origin in (Union, UnionType):
            members = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(members) == 1:
                annotation = members[0]
                continue
        return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _child_annotation(annotation: Any, element: str | int) -> Any:
    annotation = _unwrap(annotation)
    if _is_model(annotation):
        for name, info in annotation.model_fields.items():
            if element in (name, info.alias):
                return info.annotation
        return None
    origin = get_origin(annotation)
    if origin in (list, tuple):
        return get_args(annotation)[0]
    if origin is dict:
        return get_args(annotation)[1] if element != "[key]" else get_args(annotation)[0]
    if origin in (Union, UnionType):  # a discriminated union: the location names the tag
        for member in map(_unwrap, get_args(annotation)):
            tag = member.model_fields.get("platform") if _is_model(member) else None
            if tag is not None and element in get_args(tag.annotation):
                return member
    return None


def _allowed_keys(loc: Loc) -> list[str]:
    """The keys the model at `loc` (a location inside `TenantConfig`) accepts."""
    annotation: Any = TenantConfig
    for element in loc:
        annotation = _child_annotation(annotation, element)
        if annotation is None:
            return []
    annotation = _unwrap(annotation)
    if not _is_model(annotation):
        return []
    return [info.alias or name for name, info in annotation.model_fields.items()]


_EXPECTED = {
    "string_type": "text",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "list_type": "a list",
    "tuple_type": "a list",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "date_type": 'a date such as "2026-12-31"',
    "date_parsing": 'a date such as "2026-12-31"',
    "date_from_datetime_parsing": 'a date such as "2026-12-31"',
    "date_from_datetime_inexact": 'a date such as "2026-12-31"',
}


def _error_message(error: ErrorDetails) -> str:
    kind, loc, value = error["type"], error["loc"], error.get("input")
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    if kind == "missing":
        return f"required key {loc[-1]!r} is missing; add it"
    if kind == "extra_forbidden":
        key = str(loc[-1])
        allowed = _allowed_keys(loc[:-1])
        if not allowed:
            return f"unknown key {key!r}; remove it"
        return f"unknown key {key!r}{did_you_mean(key, allowed)}; allowed keys here: {', '.join(allowed)}"
    if kind in ("value_error", "assertion_error"):
        return re.sub(r"^(Value error|Assertion failed), ", "", error["msg"])
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        hint = did_you_mean(str(value), options)
        return f"{describe(value)} is not allowed{hint}; use one of: {', '.join(options)}"
    if kind == "union_tag_invalid":
        tag = str(ctx.get("tag"))
        return f"unknown platform {tag!r}{did_you_mean(tag, PLATFORMS)}; use one of: {', '.join(PLATFORMS)}"
    if kind == "union_tag_not_found":
        return f"required key 'platform' is missing; use one of: {', '.join(PLATFORMS)}"
    if kind == "string_type" and isinstance(value, bool | int | float):
        return f"expected text, but YAML read {describe(value)}; put the value in quotes"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {describe(value)}"
    if kind == "string_too_short":
        return "must not be empty; fill it in"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length', 1)} item(s); add some"
    message = re.sub(r"^Input should be", "must be", error["msg"])
    return f"{message} (got {describe(value)})"


def validation_problems(exc: ValidationError, raw: object, file: str) -> list[Problem]:
    return [
        Problem(file, data_path(raw, error["loc"]), _error_message(error))
        for error in exc.errors(include_url=False)
    ]
