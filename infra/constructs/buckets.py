"""Private buckets of the platform: SSE-S3, TLS only, no public access or ACLs, kept on stack delete."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy, Validations
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constructs.nag import ack


def private_bucket(
    scope: Construct,
    construct_id: str,
    *,
    versioned: bool,
    lifecycle_rules: Sequence[s3.LifecycleRule],
    no_access_log: str,
) -> s3.Bucket:
    """A private bucket. ``no_access_log``: why it needs no server access log (cdk-nag's S1)."""
    bucket = s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        enforce_ssl=True,
        versioned=versioned,
        lifecycle_rules=list(lifecycle_rules),
        removal_policy=RemovalPolicy.RETAIN,
    )
    Validations.of(bucket).acknowledge(ack("AwsSolutions-S1", no_access_log))
    return bucket
