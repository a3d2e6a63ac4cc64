"""A tenant's validated configuration in SSM (docs/design.md) and its notification topic."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.constructs.catalogue import CONFIG_PATH_PREFIX

if TYPE_CHECKING:
    from shared.tenant.models import TenantConfig


class TenantConfiguration(Construct):
    """``/scrm/tenants/<id>/config/NNN`` String parameters (standard tier) + an SNS topic."""

    def __init__(self, scope: Construct, construct_id: str, *, config: TenantConfig) -> None:
        from shared.tenant.transport import config_path, encode_config

        super().__init__(scope, construct_id)
        tenant_id = config.tenant.id
        self.path = config_path(tenant_id, CONFIG_PATH_PREFIX)
        self.parameters: dict[str, ssm.CfnParameter] = {}
        for name, value in encode_config(config, CONFIG_PATH_PREFIX).items():
            chunk = name.rsplit("/", 1)[-1]
            self.parameters[name] = ssm.CfnParameter(
                self,
                f"Chunk{chunk}",
                name=name,
                type="String",
                tier="Standard",
                value=value,
                description=f"scrm configuration of tenant {tenant_id}, chunk {chunk} (gzip+base64)",
            )
        self.topic = sns.Topic(
            self,
            "Notifications",
            topic_name=f"scrm-{tenant_id}-notifications",
            display_name=f"scrm {tenant_id}"[:100],
            enforce_ssl=True,
            master_key=kms.Alias.from_alias_name(self, "SnsKey", "alias/aws/sns"),
        )
