"""The whole tenant file (`TenantConfig`), one attribute per top-level key, in file order."""

from __future__ import annotations

from pydantic import Field

from shared.tenant.models.base import _Model
from shared.tenant.models.channels import Channel, channel_secrets
from shared.tenant.models.customers import CustomerRules
from shared.tenant.models.dispatch import DispatchConfig
from shared.tenant.models.formats import Ident, TypeName
from shared.tenant.models.notifications import WeComApp
from shared.tenant.models.people import BUILTIN_ROLES, Technician, User
from shared.tenant.models.settlement import Catalog
from shared.tenant.models.sla import Calendar, SlaPolicy
from shared.tenant.models.subscriptions import Subscription
from shared.tenant.models.tenant import Region, TenantInfo
from shared.tenant.models.workflow import TicketType

WECOM_APP = "wecom_app"
"""What :meth:`TenantConfig.secret_refs` names as the user of the WeCom application's secret."""


class TenantConfig(_Model):
    """One tenant file. Cross-references are checked by `shared.tenant.validate`."""

    tenant: TenantInfo
    regions: list[Region]
    calendars: dict[Ident, Calendar] = {}
    users: list[User] = []
    technicians: list[Technician] = []
    catalog: Catalog
    sla_policies: dict[Ident, SlaPolicy] = {}
    dispatch: DispatchConfig = Field(default_factory=DispatchConfig)
    ticket_types: dict[TypeName, TicketType]
    channels: list[Channel] = []
    wecom_app: WeComApp | None = None
    """WeCom application messages to staff (channel ``wecom`` of SLA levels and notices)."""
    subscriptions: list[Subscription] = []
    customers: CustomerRules = Field(default_factory=CustomerRules)

    def region(self, code: str) -> Region | None:
        return next((region for region in self.regions if region.code == code), None)

    def user(self, user_id: str) -> User | None:
        return next((user for user in self.users if user.id == user_id), None)

    def technician(self, technician_id: str) -> Technician | None:
        return next((tech for tech in self.technicians if tech.id == technician_id), None)

    def channel(self, channel_id: str) -> Channel | None:
        return next((channel for channel in self.channels if channel.id == channel_id), None)

    def roles(self) -> set[str]:
        """Built-in roles and every role a user holds."""
        return set(BUILTIN_ROLES).union(*(user.roles for user in self.users))

    def secret_refs(self) -> dict[str, str]:
        """SSM name → the channel that uses it (a subscription's: ``subscriptions.<id>``; the WeCom
        application's: ``wecom_app``)."""
        refs = {ref.ssm: channel.id for channel in self.channels for ref in channel_secrets(channel).values()}
        refs.update({s.secret.ssm: f"subscriptions.{s.id}" for s in self.subscriptions})
        if self.wecom_app is not None:
            refs[self.wecom_app.secret.ssm] = WECOM_APP
        return refs
