"""Seed the tenant's technicians into the registry at deploy time.

A CloudFormation custom resource (``AwsCustomResource``: one SDK call, no code of ours) invokes
``scrm-dispatch-seed`` with ``{"op": "seed_technicians", "tenant", "roster"}`` once the tenant's
configuration parameters and data-access roles exist. Its physical id carries the roster digest, so
a deploy that changes the tenant file's technicians seeds again; seeding never overwrites a record
the registry has changed (``TechnicianRepository.ensure_seeded``). A function error does not fail
the deploy (the invoke itself succeeds) but trips the function's error alarm, and the functions still
check the seed on first use, so a failed call cannot leave the registry empty.
"""

from __future__ import annotations

import json

from aws_cdk import Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra.constructs.catalogue import FUNCTIONS_BY_KEY, function_arn
from infra.constructs.nag import ack
from shared.repositories.technicians import roster_digest
from shared.tenant.models import TenantConfig

SEED_FUNCTION = FUNCTIONS_BY_KEY["dispatch-seed"].name


class TechnicianSeeding(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: TenantConfig) -> None:
        super().__init__(scope, construct_id)
        tenant_id = config.tenant.id
        digest = roster_digest(list(config.technicians))
        target = function_arn(self, SEED_FUNCTION)
        call = cr.AwsSdkCall(
            service="Lambda",
            action="invoke",
            parameters={
                "FunctionName": target,
                "Payload": json.dumps({"op": "seed_technicians", "tenant": tenant_id, "roster": digest}),
            },
            physical_resource_id=cr.PhysicalResourceId.of(f"technicians-{tenant_id}-{digest}"),
        )
        self.resource = cr.AwsCustomResource(
            self,
            "Seed",
            on_create=call,
            on_update=call,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[target])]
            ),
            install_latest_aws_sdk=False,
        )
        self.roster_digest = digest
        provider = Stack.of(self).node.try_find_child("AWS679f53fac002430cb0da5b7982bd2287")
        if provider is not None:  # the stack's one CDK custom-resource provider function
            Validations.of(provider).acknowledge(
                ack(
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AWSLambdaBasicExecutionRole]",
                    "the CDK custom-resource provider writes its own logs; it runs only at deploy time",
                )
            )
