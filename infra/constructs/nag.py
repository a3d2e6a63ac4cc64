"""cdk-nag acknowledgments: each finding a construct accepts is acknowledged where it occurs, with
the reason it is there (``Validations.of(construct).acknowledge``; the checks: ``infra/app.py``)."""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, Stack


def ack(rule: str, reason: str) -> Acknowledgment:
    """Acknowledge a cdk-nag finding (``AwsSolutions-XX`` or ``AwsSolutions-XX[finding]``)."""
    return Acknowledgment(id=rule, reason=reason)


def iam_ack(finding: str, reason: str) -> Acknowledgment:
    """Acknowledge one ``AwsSolutions-IAM5`` wildcard finding with the reason it is needed."""
    return ack(f"AwsSolutions-IAM5[{finding}]", reason)


def rendered_arn(service: str, resource: str) -> str:
    """An ARN of this account and region as cdk-nag renders it in a finding id."""
    return f"arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>:{resource}"


def cfn_id(construct: Any) -> str:
    """The logical id of a construct's CloudFormation resource, as cdk-nag renders a ``GetAtt``."""
    return str(Stack.of(construct).get_logical_id(construct.node.default_child))
