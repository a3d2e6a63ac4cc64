"""`tenant` (`TenantInfo`: id, name, time zone, currency, locale, cell) and `regions` (`Region`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import ConfigDict, Field

from shared.tenant.models.amounts import Coefficient
from shared.tenant.models.base import _Model
from shared.tenant.models.formats import CellName, Currency, Ident, TenantId, Text, TimeZoneName

Locale = Literal["zh-CN", "en"]
CHINESE_TIMEZONES = frozenset(
    {
        "Asia/Shanghai",
        "Asia/Chongqing",
        "Asia/Harbin",
        "Asia/Urumqi",
        "Asia/Hong_Kong",
        "Asia/Macau",
        "Asia/Taipei",
    }
)


class TenantInfo(_Model):
    id: TenantId
    name: Text
    timezone: TimeZoneName
    currency: Currency
    locale: Locale | None = None
    """Language of messages to people (SMS, email): `zh-CN` or `en`. Default: `zh-CN` for a tenant
    in a Chinese time zone, else `en`. A user or technician may have their own `locale`."""

    cell: CellName | None = None
    """The cell (an AWS account and region with its own platform stack) that hosts the tenant:
    `scrm synth` puts the tenant's stack with that cell's platform. Default: the first cell,
    `main`. Cells and their accounts are listed in `cdk.json` (`scrm:cells`, docs/scale.md)."""

    @property
    def default_locale(self) -> str:
        if self.locale is not None:
            return self.locale
        return "zh-CN" if self.timezone in CHINESE_TIMEZONES else "en"


class Region(_Model):
    model_config = ConfigDict(populate_by_name=True)

    code: Ident
    name: Text
    region_class: Ident = Field(alias="class")
    coefficient: Coefficient = Decimal("1.00")
