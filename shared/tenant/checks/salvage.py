"""What of a broken file still validates, so that the checks between sections can run on it.

`salvage_sections` re-validates each top-level key on its own, leaving out the items
(and the keys of items) that fail; `parsed_items` does the same for one raw list.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from shared.tenant.checks.problems import item_label
from shared.tenant.models import (
    Calendar,
    Catalog,
    Channel,
    CustomerRules,
    DispatchConfig,
    Region,
    SlaPolicy,
    Technician,
    TenantConfig,
    TenantInfo,
    TicketType,
    User,
    WeComApp,
)
from shared.tenant.models.subscriptions import Subscription

__all__ = ["Sections", "parsed_items", "salvage_sections"]

T = TypeVar("T")


@dataclass
class Sections:
    """The parts of a file that validate, for the checks between sections (`None`: unusable)."""

    tenant: TenantInfo | None = None
    regions: list[Region] = field(default_factory=list)
    calendars: dict[str, Calendar] = field(default_factory=dict)
    users: list[User] = field(default_factory=list)
    technicians: list[Technician] = field(default_factory=list)
    catalog: Catalog | None = None
    sla_policies: dict[str, SlaPolicy] = field(default_factory=dict)
    dispatch: DispatchConfig | None = None
    ticket_types: dict[str, TicketType] = field(default_factory=dict)
    channels: list[Channel] = field(default_factory=list)
    wecom_app: WeComApp | None = None
    customers: CustomerRules | None = None
    subscriptions: list[Subscription] = field(default_factory=list)

    @classmethod
    def of(cls, cfg: TenantConfig) -> Sections:
        return cls(**{name: getattr(cfg, name) for name in TenantConfig.model_fields})


_ADAPTERS: dict[str, TypeAdapter[Any]] = {}


def _section_adapter(name: str) -> TypeAdapter[Any]:
    if name not in _ADAPTERS:
        annotation: Any = TenantConfig.model_fields[name].annotation
        _ADAPTERS[name] = TypeAdapter(annotation)
    return _ADAPTERS[name]


def _prune(box: list[Any], errors: list[ErrorDetails]) -> bool:
    """Remove, for each error, the deepest part of `box[0]` its location still reaches."""
    targets: dict[tuple[int, str | int], tuple[Any, str | int]] = {}
    for error in errors:
        parent: Any = None
        key: str | int | None = None
        node: Any = box
        for element in (0, *error["loc"]):
            in_list = isinstance(node, list) and isinstance(element, int) and 0 <= element < len(node)
            if in_list or (isinstance(node, dict) and element in node):
                parent, key, node = node, element, node[element]
            elif isinstance(node, dict) and node.get("platform") == element:
                continue
            else:
                break
        if parent is None or parent is box or key is None:
            return False  # the section itself is broken
        targets[(id(parent), key)] = (parent, key)
    dict_targets = [(p, k) for p, k in targets.values() if isinstance(p, dict)]
    list_targets = [(p, k) for p, k in targets.values() if isinstance(p, list)]
    for parent, key in dict_targets:
        parent.pop(key, None)
    for parent, key in sorted(list_targets, key=lambda target: target[1], reverse=True):
        assert isinstance(key, int)
        if key < len(parent):
            del parent[key]
    return bool(targets)


def _salvage(adapter: TypeAdapter[Any], value: object) -> Any:
    """Validate `value`, leaving out whatever fails; `None` if nothing usable is left."""
    box = [copy.deepcopy(value)]
    for _ in range(1000):
        try:
            return adapter.validate_python(box[0])
        except ValidationError as exc:
            if not _prune(box, exc.errors(include_url=False)):
                return None
    return None


def salvage_sections(raw: Mapping[str, Any]) -> Sections:
    sections = Sections()
    for name, info in TenantConfig.model_fields.items():
        key = info.alias or name
        if key in raw:
            value = _salvage(_section_adapter(name), raw[key])
            if value is not None:
                setattr(sections, name, value)
    return sections


def parsed_items(items: object, model: type[T]) -> Iterator[tuple[str, T]]:
    """`(label, item)` for each item of a raw list that validates as `model` alone."""
    adapter: TypeAdapter[T] = TypeAdapter(model)
    for index, item in enumerate(items if isinstance(items, list) else []):
        try:
            yield item_label(item, index), adapter.validate_python(item)
        except ValidationError:
            continue
