"""cdk-nag acknowledgments: each finding a construct accepts is acknowledged where it occurs, with
the reason it is there (``Validations.of(construct).acknowledge``; the checks: ``infra/app.py``)."""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, Stack, Token


def ack(rule: str, reason: str) -> Acknowledgment:
    """Acknowledge a cdk-nag finding (``AwsSolutions-XX`` or ``AwsSolutions-XX[finding]``)."""
    return Acknowledgment(id=rule, reason=reason)


def iam_ack(finding: str, reason: str) -> Acknowledgment:
    """Acknowledge one ``AwsSolutions-IAM5`` wildcard finding with the reason it is needed."""
    return ack(f"AwsSolutions-IAM5[{finding}]", reason)


def rendered_arn(scope: Any, service: str, resource: str) -> str:
    """An ARN of the scope's account and region as cdk-nag renders it in a finding id: the
    pseudo-parameters of an environment-agnostic stack, the literal values of a stack deployed to
    a given account and region (a cell's, ``infra/app.py``)."""
    stack = Stack.of(scope)
    region = "<AWS::Region>" if Token.is_unresolved(stack.region) else stack.region
    account = "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account
    return f"arn:<AWS::Partition>:{service}:{region}:{account}:{resource}"


def cfn_id(construct: Any) -> str:
    """The logical id of a construct's CloudFormation resource, as cdk-nag renders a ``GetAtt``."""
    return str(Stack.of(construct).get_logical_id(construct.node.default_child))
