"""Put a tenant's configuration object where ``scrm-ticket-onboard`` would (moto-backed tests).

Integration tests that call an entry point need the tenant deployed: its object in the config bucket
(``shared/tenant/transport.py``), with a live version per ticket type.
"""

from __future__ import annotations

from collections.abc import Mapping

import boto3
from aws_lambda_powertools.utilities import parameters

from shared.settings import settings
from shared.tenant.models import TenantConfig
from shared.tenant.transport import config_key, config_to_json, encode_object
from shared.workflow.compiler import state_machine_name


def deploy_config(cfg: TenantConfig, live: Mapping[str, str] | None = None) -> str:
    """Write ``cfg`` (and ``live``, by default version 1 of each type's machine) into the config
    bucket, creating the bucket if needed, and drop the functions' cached copies; the object key."""
    env = settings()
    s3 = boto3.client("s3", region_name=env.region)
    buckets = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if env.config_bucket not in buckets:
        s3.create_bucket(Bucket=env.config_bucket)
        s3.put_bucket_versioning(Bucket=env.config_bucket, VersioningConfiguration={"Status": "Enabled"})
    versions = (
        dict(live)
        if live is not None
        else {
            t: f"{env.state_machine_arn_prefix}{state_machine_name(cfg.tenant.id, t)}:1"
            for t in cfg.ticket_types
        }
    )
    key = config_key(cfg.tenant.id)
    s3.put_object(Bucket=env.config_bucket, Key=key, Body=encode_object(config_to_json(cfg), versions))
    parameters.clear_caches()
    return key
