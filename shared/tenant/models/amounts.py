"""Amounts as the tenant file writes them: money (`"12.30"`), decimals (`"0.35"`) and
percentages of an SLA budget (`"50%"`)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import BeforeValidator, Field, PlainSerializer

from shared.tenant.models.base import _show

_MONEY = re.compile(r"-?\d+(?:\.\d{1,2})?")
_DECIMAL = re.compile(r"-?\d+(?:\.\d+)?")


def _float_hint(value: float) -> str:
    exact = Decimal(repr(value))
    if exact.is_finite() and exact.as_tuple().exponent >= -2:  # type: ignore[operator]
        return f'"{exact:.2f}"'
    return "a decimal string with at most 2 decimals"


def parse_money(value: object) -> Decimal:
    """Money from a decimal string with at most 2 decimals (`"12.30"`), an int or a `Decimal`.

    Floats are refused: YAML `12.3` is a binary float, so the file must quote it.
    """
    if isinstance(value, bool):
        raise ValueError(f'{value!r} is not a money amount; write a decimal string such as "12.30"')
    if isinstance(value, float):
        raise ValueError(
            f"{value!r} is a number, which is not exact enough for money; quote it as {_float_hint(value)}"
        )
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        if not value.is_finite() or value.as_tuple().exponent < -2:  # type: ignore[operator]
            raise ValueError(f'{value} is not a money amount; use at most 2 decimals, such as "12.30"')
        return value
    if isinstance(value, str) and _MONEY.fullmatch(value.strip()):
        return Decimal(value.strip())
    raise ValueError(
        f"{_show(value)} is not a money amount; write a decimal string with at most 2 decimals, "
        'such as "12.30"'
    )


def format_money(value: Decimal) -> str:
    """`Decimal("12.3")` → `"12.30"`: money as written in files and on the wire."""
    return f"{value:.2f}"


def _non_negative_money(value: object) -> Decimal:
    amount = parse_money(value)
    if amount < 0:
        raise ValueError(f"{format_money(amount)} is negative; money amounts here must be 0 or more")
    return amount


Money = Annotated[
    Decimal,
    BeforeValidator(_non_negative_money),
    PlainSerializer(format_money, return_type=str, when_used="json"),
]


def parse_decimal(value: object) -> Decimal:
    """A decimal from a string (`"0.35"`), an int, a `Decimal` or a float (read as written: `0.35`)."""
    if isinstance(value, bool):
        raise ValueError(f'{value!r} is not a number; write a decimal such as "0.35"')
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f'{value} is not a number; write a decimal such as "0.35"')
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        try:
            number = Decimal(repr(value))
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite():
            raise ValueError(f'{value!r} is not a number; write a decimal such as "0.35"')
        return number
    if isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):
        return Decimal(value.strip())
    raise ValueError(f'{_show(value)} is not a number; write a decimal such as "0.35"')


def _decimal_text(value: Decimal) -> str:
    return f"{value:f}"


_DECIMAL_IN = BeforeValidator(parse_decimal)
_DECIMAL_OUT = PlainSerializer(_decimal_text, return_type=str, when_used="json")

Number = Annotated[Decimal, _DECIMAL_IN, _DECIMAL_OUT]
PositiveDecimal = Annotated[Decimal, _DECIMAL_IN, Field(gt=0), _DECIMAL_OUT]
Coefficient = PositiveDecimal
Rating = Annotated[Decimal, _DECIMAL_IN, Field(ge=0, le=5), _DECIMAL_OUT]
Weight = Annotated[Decimal, _DECIMAL_IN, Field(ge=0, le=1), _DECIMAL_OUT]
Percent = Annotated[Decimal, _DECIMAL_IN, Field(ge=0, le=100), _DECIMAL_OUT]

_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%")


def parse_percent(value: object) -> Decimal:
    """`"50%"` → `Decimal("50")` (percent of an SLA budget; more than 100 is allowed)."""
    match = _PERCENT.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f'{_show(value)} is not a percentage; write it like "50%"')
    share = Decimal(match.group(1))
    if share <= 0:
        raise ValueError(f"{value!r} is zero; a reminder level must be above 0%")
    return share


def _percent_text(value: Decimal) -> str:
    return f"{value:f}%"


Share = Annotated[
    Decimal,
    BeforeValidator(parse_percent),
    PlainSerializer(_percent_text, return_type=str, when_used="json"),
]
