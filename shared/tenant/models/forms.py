"""The field definitions (`FieldDef`) of `ticket_types.*.fields` and of a human node's `form`."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import JsonValue, model_validator

from shared.tenant.models.amounts import Number
from shared.tenant.models.base import _Model
from shared.tenant.models.formats import FieldName

FieldType = Literal[
    "text",
    "number",
    "money",
    "select",
    "multiselect",
    "date",
    "datetime",
    "phone",
    "email",
    "region",
    "geo",
    "photos",
    "technician",
    "service_items",
    "parts",
]
FIELD_TYPES: tuple[str, ...] = get_args(FieldType)


class FieldDef(_Model):
    name: FieldName
    type: FieldType
    required: bool = False
    options: list[str] | None = None
    """The choices of `select` and `multiselect`."""
    min: Number | None = None
    """Smallest value (`number`, `money`) or count (`photos`, `multiselect`, lists) or length (`text`)."""
    max: Number | None = None
    max_quantity: Number | None = None
    """`service_items` / `parts`: the largest quantity of one line (default 10000)."""
    default: JsonValue = None
    label: str | None = None

    @model_validator(mode="after")
    def _check(self) -> FieldDef:
        choosing = self.type in ("select", "multiselect")
        if choosing and not self.options:
            raise ValueError(f"a {self.type} field needs 'options', the list of choices")
        if not choosing and self.options is not None:
            raise ValueError(f"'options' only applies to select and multiselect, not {self.type}")
        if self.options is not None and len(set(self.options)) != len(self.options):
            raise ValueError("'options' lists a choice twice; list each choice once")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"'min' ({self.min}) is larger than 'max' ({self.max})")
        if self.type == "select" and self.default is not None and self.default not in (self.options or []):
            raise ValueError(f"default {self.default!r} is not one of the options {self.options}")
        return self
