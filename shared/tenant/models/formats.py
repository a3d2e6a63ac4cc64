"""Strings with a format: ids and names, phone numbers, e-mail addresses, currencies,
time zones, JMESPath expressions and SSM parameter names."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import jmespath
from jmespath.exceptions import JMESPathError
from pydantic import AfterValidator, Field

from shared.tenant.models.base import did_you_mean


def _matching(pattern: str, what: str, rule: str) -> Callable[[str], str]:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid {what}; {rule}")
        return value

    return check


_IDENT_RULE = "use letters, digits, '-', '_' or '.', starting with a letter or digit (at most 64)"
Ident = Annotated[
    str, AfterValidator(_matching(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}", "id or code", _IDENT_RULE))
]
CellName = Annotated[
    str,
    AfterValidator(
        _matching(
            r"[a-z][a-z0-9-]{0,23}",
            "cell name",
            "use a lowercase letter then up to 23 lowercase letters, digits or '-' (it names a stack)",
        )
    ),
]
TenantId = Annotated[
    str,
    AfterValidator(
        _matching(r"[a-z0-9-]{3,32}", "tenant id", "use 3 to 32 lowercase letters, digits or '-'")
    ),
]
TypeName = Annotated[
    str,
    AfterValidator(
        _matching(
            r"[A-Za-z0-9][A-Za-z0-9_\-]{0,39}",
            "ticket type name",
            "use letters, digits, '-' or '_', starting with a letter or digit (at most 40)",
        )
    ),
]
NodeName = Annotated[
    str,
    AfterValidator(
        _matching(
            r"[A-Za-z][A-Za-z0-9_\-]{0,63}",
            "name",
            "use letters, digits, '-' or '_', starting with a letter (at most 64)",
        )
    ),
]
FieldName = Annotated[
    str,
    AfterValidator(
        _matching(
            r"[A-Za-z_][A-Za-z0-9_]{0,63}",
            "field name",
            "use letters, digits or '_', starting with a letter or '_' (at most 64)",
        )
    ),
]
Text = Annotated[str, Field(min_length=1)]
Phone = Annotated[
    str,
    AfterValidator(
        _matching(r"\+[1-9]\d{6,14}", "phone number", 'write it in E.164 form, such as "+8613800000001"')
    ),
]
Email = Annotated[
    str,
    AfterValidator(_matching(r"[^@\s]+@[^@\s]+\.[^@\s]+", "email address", "write it like name@example.com")),
]
WeComUserId = Annotated[
    str,
    AfterValidator(
        _matching(
            r"[A-Za-z0-9_.@\-]{1,64}",
            "WeCom UserId",
            "write the member's account (帐号) in the WeCom admin console: 1 to 64 letters, digits, "
            "'_', '-', '.' or '@'",
        )
    ),
]
"""A member of the tenant's WeCom corp (企业微信成员 UserId), the ``touser`` of an application message."""
Currency = Annotated[
    str,
    AfterValidator(_matching(r"[A-Z]{3}", "currency", "use an ISO 4217 code such as CNY, EUR or USD")),
]


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        hint = did_you_mean(name, available_timezones())
        raise ValueError(
            f"unknown time zone {name!r}{hint}; use an IANA name such as Asia/Shanghai or Europe/Berlin"
        ) from None
    return name


TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]


def _check_jmespath(expression: str) -> str:
    try:
        jmespath.compile(expression)
    except JMESPathError as exc:
        detail = str(exc).splitlines()[0].removesuffix(":").removesuffix(", for expression")
        raise ValueError(
            f"JMESPath expression {expression!r} does not compile ({detail}); "
            "check brackets and quotes (literals go in backticks, strings in single quotes)"
        ) from None
    return expression


JmesPath = Annotated[str, AfterValidator(_check_jmespath)]

_SSM_NAME = re.compile(r"/[A-Za-z0-9_.\-/]{1,1010}")


def _check_ssm_name(name: str) -> str:
    if not _SSM_NAME.fullmatch(name) or "//" in name:
        raise ValueError(
            f"{name!r} is not an SSM parameter name; write a path such as /scrm/<tenant>/<channel> "
            "(letters, digits, '_', '.', '-', '/')"
        )
    return name


SsmName = Annotated[str, AfterValidator(_check_ssm_name)]
