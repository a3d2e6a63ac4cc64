"""API input and output models of the technician registry (separate from the stored records).

The domain's technician (``shared.domain.technician``) and the repository behind it are not imported
here: the API imports these models at its cold start, the others on its first request.
Every model is ``defer_build``: its validator and serializer are built when a request first uses
it (powertools builds a route's models when the route is first resolved), not at the cold start.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from shared.domain.technician import TechnicianRecord


class GeoIn(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class TechnicianUpdate(BaseModel):
    """``PUT /technicians/{id}``: the fields given are changed, the others kept."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    status: Literal["active", "off"] | None = None
    skills: dict[str, Annotated[int, Field(ge=1, le=10)]] | None = Field(
        default=None, description="skill → level (1 or more); replaces the technician's skills"
    )
    regions: list[str] | None = Field(default=None, min_length=1, description="region codes they cover")
    capacity: int | None = Field(default=None, ge=1, le=1000, description="open tickets at once")
    location: GeoIn | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> TechnicianUpdate:
        # Leaving a field out keeps it; null would erase a value every dispatch needs.
        nulled = [n for n in ("status", "skills", "regions", "capacity") if n in self.model_fields_set]
        nulled = [n for n in nulled if getattr(self, n) is None]
        if nulled:
            raise ValueError(f"{', '.join(nulled)} cannot be null; leave a field out to keep it")
        return self

    def changes(self) -> dict[str, object]:
        given = self.model_dump(exclude_unset=True)
        if "location" in given and self.location is not None:
            given["location"] = self.location.model_dump()
        return given


class TechnicianOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    id: str
    name: str
    status: Literal["active", "off"]
    skills: dict[str, int]
    regions: list[str]
    capacity: int
    load: int = Field(description="open tickets the technician holds now")
    location: dict[str, float] | None
    rating: str
    calendar: str | None
    partner_type: str
    supervisor: str | None
    assignments_7d: int = Field(description="tickets assigned to them in the last 7 days")
    updated_at: datetime | None = None
    updated_by: str | None = None


class TechnicianPage(BaseModel):
    model_config = ConfigDict(defer_build=True)

    items: list[TechnicianOut]


def technician_out(record: TechnicianRecord, at: datetime, window: timedelta | None = None) -> TechnicianOut:
    """The API view of a stored technician; ``window``: of ``assignments_7d`` (the fairness window)."""
    if window is None:
        from shared.domain.technician import FAIRNESS_WINDOW

        window = FAIRNESS_WINDOW
    return TechnicianOut(
        id=record.id,
        name=record.name,
        status=record.status,
        skills=record.skills,
        regions=record.regions,
        capacity=record.capacity,
        load=record.load,
        location=record.location,
        rating=f"{record.rating:f}",
        calendar=record.calendar,
        partner_type=record.partner_type,
        supervisor=record.supervisor,
        assignments_7d=record.assignments_since(at - window),
        updated_at=record.updated_at,
        updated_by=record.updated_by,
    )
