"""Tenant configuration: the platform's config bucket, and each tenant stack's one custom resource.

How a configuration reaches the functions (docs/design.md, ``shared/tenant/transport.py``):

- the platform stack holds ONE versioned bucket (:class:`TenantConfigBucket`) and ONE provider
  function, ``scrm-ticket-onboard``, that writes ``tenants/<id>/config.json.gz`` into it;
- a tenant stack holds ONE ``Custom::ScrmTenant`` resource (:class:`TenantConfiguration`) whose
  service token is that function's ARN, built from its fixed name. CloudFormation invokes it with
  the deployer's permissions, so a tenant adds no Lambda function, role, permission or parameter.
  Its properties are the validated configuration (base64 of gzip'd canonical JSON), the ``live``
  map (``Ref`` of each ``AWS::StepFunctions::StateMachineVersion``: CloudFormation resolves the
  version ARN this deploy published, so no function ever asks the alias) and the roster digest the
  provider asks ``scrm-dispatch-seed`` to seed.

An unchanged tenant file gives byte-identical properties (the encoding is deterministic), so a
redeploy without changes sends no request at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from aws_cdk import CustomResource, Duration, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.constructs.buckets import private_bucket
from infra.constructs.catalogue import FUNCTIONS_BY_KEY, function_arn
from infra.constructs.nag import cfn_id, iam_ack

if TYPE_CHECKING:
    from shared.tenant.models import TenantConfig

RESOURCE_TYPE = "Custom::ScrmTenant"
PROVIDER = FUNCTIONS_BY_KEY["ticket-onboard"].name
SERVICE_TIMEOUT = Duration.minutes(5)
"""How long CloudFormation waits for the provider's answer (default: one hour). The provider answers
on every path within its own 30 s timeout; only a timed-out invocation would make it wait."""
OLD_VERSIONS_KEPT_DAYS = 90
"""Earlier versions of a tenant's object (every deploy writes one) are kept this long for audit."""


class TenantConfigBucket(Construct):
    """The tenants' configuration objects: versioned, SSE-S3, TLS only, no public access."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.bucket = private_bucket(
            self,
            "Bucket",
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-old-config-versions",
                    noncurrent_version_expiration=Duration.days(OLD_VERSIONS_KEPT_DAYS),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            no_access_log=(
                "written only by scrm-ticket-onboard at deploy time (its logs and CloudTrail say who "
                "deployed what) and versioned, so every earlier configuration stays readable; an "
                "access-log bucket would only duplicate that"
            ),
        )

    @property
    def bucket_name(self) -> str:
        return self.bucket.bucket_name

    def grant_read(self, role: iam.Role) -> None:
        """GET every tenant's object; ListBucket too, so that a missing object is a 404 (an unknown
        tenant), not a 403, and the fan-out jobs can list the deployed tenants."""
        role.add_to_policy(
            iam.PolicyStatement(sid="TenantConfigRead", actions=["s3:GetObject"], resources=[self._objects()])
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="TenantConfigList", actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn]
            )
        )
        Validations.of(role).acknowledge(
            iam_ack(
                f"Resource::<{cfn_id(self.bucket)}.Arn>/tenants/*",
                "reads each tenant's configuration object, tenants/<id>/config.json.gz; tenants are "
                "onboarded after the platform is deployed",
            )
        )

    def grant_onboard(self, role: iam.Role, seed_function_arn: str) -> None:
        """The provider: write and delete tenants' objects, invoke the seed function."""
        role.add_to_policy(
            iam.PolicyStatement(
                sid="TenantConfigWrite",
                actions=["s3:PutObject", "s3:DeleteObject"],
                resources=[self._objects()],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="SeedTechnicians", actions=["lambda:InvokeFunction"], resources=[seed_function_arn]
            )
        )

    def _objects(self) -> str:
        return self.bucket.arn_for_objects("tenants/*")


class TenantConfiguration(Construct):
    """The tenant's ``Custom::ScrmTenant`` resource (its config object, technicians seeded) and its
    SNS notification topic."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: TenantConfig, live: Mapping[str, str]
    ) -> None:
        from shared.repositories.technicians import roster_digest
        from shared.tenant.transport import config_key, encode_config

        super().__init__(scope, construct_id)
        tenant_id = config.tenant.id
        self.key = config_key(tenant_id)
        self.roster_digest = roster_digest(list(config.technicians))
        self.resource = CustomResource(
            self,
            "Tenant",
            service_token=function_arn(self, PROVIDER),
            resource_type=RESOURCE_TYPE,
            service_timeout=SERVICE_TIMEOUT,
            properties={
                "Tenant": tenant_id,
                "Config": encode_config(config),
                "Live": {type_id: live[type_id] for type_id in config.ticket_types},
                "Roster": self.roster_digest,
            },
        )
        self.topic = sns.Topic(
            self,
            "Notifications",
            topic_name=f"scrm-{tenant_id}-notifications",
            display_name=f"scrm {tenant_id}"[:100],
            enforce_ssl=True,
            master_key=kms.Alias.from_alias_name(self, "SnsKey", "alias/aws/sns"),
        )
