"""The twin enforces the data-access roles on DynamoDB, as IAM would (moto enforces no IAM).

The functions sign their table requests with credentials of a data-access role, assumed with the
session tag ``tenant`` (``shared/tenant_scope.py``; roles from ``infra/constructs/tenant_data.py``,
deployed into moto IAM from the platform stack's template). For every DynamoDB request signed with an
access key that moto's STS issued by ``AssumeRole``, the twin reads that role's policies from moto IAM
and answers ``AccessDeniedException`` (HTTP 400, as DynamoDB does) unless they allow each action of
the request on its table or index with the request's ``dynamodb:LeadingKeys``:

- the partition key values the request names: ``Key``/``Item`` of item actions, the partition key
  in a Query's key condition (the index's partition key for a Query on an index);
- a transaction is authorized item by item (``Put`` -> ``dynamodb:PutItem`` ...), a batch as its
  action with all its keys;
- statements: ``Allow``/``Deny``, ``Action``/``NotAction``, ``Resource``/``NotResource`` with
  ``*``/``?`` wildcards, and conditions on ``dynamodb:LeadingKeys`` (``String*``, ``ForAllValues:``,
  ``ForAnyValue:``, ``...IfExists``, ``Null``). A condition the twin cannot evaluate denies (a test
  passing here must not fail in AWS);
- policy variables ``${aws:PrincipalTag/<key>}`` in ``Resource`` and condition values take the
  session's tag (ABAC: the roles fence ``TENANT#${aws:PrincipalTag/tenant}#*``). A statement naming a
  tag the session does not have applies to nothing, as in IAM; any other variable is not evaluated
  (denied).

Session tags: moto's STS accepts ``Tags`` on ``AssumeRole`` but keeps none, so the twin wraps moto's
``AssumeRole`` handler (:func:`enforce_tenant_roles`) and remembers the tags of each issued access key
(:data:`SESSION_TAGS`). There it also checks what the role's trust policy says about tags, as STS
would: the role must exist, some ``Allow`` statement must grant ``sts:AssumeRole`` (and
``sts:TagSession`` when tags are passed) with its ``aws:RequestTag/<key>`` and ``aws:TagKeys``
conditions met; else ``AccessDenied``. Conditions on the caller (``aws:PrincipalArn``) are not checked:
the twin runs every function with its own keys, not the function's role.

It sits at moto's DynamoDB request handler, like ``moto_fixes.py``, not in a botocore ``before-call``
hook: pynamodb signs with botocore clients of its own sessions, which never see the hooks of boto3's
default session, while the handler sees every request from any client exactly as it was signed.
Requests signed with other keys (the twin's own, tests' seeding) are served as before.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
from moto.dynamodb.responses import DynamoHandler
from moto.iam.models import iam_backends
from moto.sts.exceptions import STSClientError, STSValidationError
from moto.sts.models import sts_backends
from moto.sts.responses import TokenResponse

LEADING_KEYS = "dynamodb:LeadingKeys"
_CREDENTIAL = re.compile(r"Credential=([A-Z0-9]+)/")
_KEY_EQUALS = re.compile(r"(#?[\w.-]+)\s*=\s*(:[\w.-]+)")
_ITEM_ACTIONS = {
    "GetItem": "dynamodb:GetItem",
    "PutItem": "dynamodb:PutItem",
    "UpdateItem": "dynamodb:UpdateItem",
    "DeleteItem": "dynamodb:DeleteItem",
}
_TRANSACT_ACTIONS = {
    "Get": "dynamodb:GetItem",
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}

_installed = False
_lock = threading.Lock()
SIGNED_BY_ROLE: Counter[str] = Counter()
"""DynamoDB requests the twin checked, per assumed role ARN (allowed or not): the evidence that
the functions' requests were signed as a data-access role."""
SIGNED_FOR_TENANT: Counter[tuple[str, str]] = Counter()
"""The same, per (assumed role ARN, the session's ``tenant`` tag or ``""``): whom each request acted for."""
SESSION_TAGS: dict[str, dict[str, str]] = {}
"""Tags of each session moto's STS issued (by access key id): moto keeps none."""
TENANT_TAG = "tenant"
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_PRINCIPAL_TAG = "aws:PrincipalTag/"
_TAG_TEXT = re.compile(r"[\w\s.:/=+\-@]*")
"""What a session tag's key and value may hold (STS: letters, digits, spaces and ``_.:/=+-@``)."""


@dataclass(frozen=True)
class Access:
    """One action of a request on one resource, with the partition keys it names."""

    action: str
    resource: str
    leading_keys: tuple[str, ...]


class Unevaluable(Exception):
    """A policy the twin cannot evaluate: it denies rather than guess."""


# ------------------------------------------------------------------ the request


def _value(attribute: Any) -> str:
    if isinstance(attribute, dict) and len(attribute) == 1:
        return str(next(iter(attribute.values())))
    return json.dumps(attribute, sort_keys=True)


def _query_partition_key(body: dict[str, Any], key_name: str) -> str | None:
    legacy = (body.get("KeyConditions") or {}).get(key_name)
    if legacy:
        return _value(legacy["AttributeValueList"][0])
    names = body.get("ExpressionAttributeNames") or {}
    values = body.get("ExpressionAttributeValues") or {}
    for name, placeholder in _KEY_EQUALS.findall(body.get("KeyConditionExpression") or ""):
        if names.get(name, name) == key_name and placeholder in values:
            return _value(values[placeholder])
    return None


def accesses(operation: str, body: dict[str, Any], tables: Any) -> list[Access]:
    """What ``operation`` asks for, as IAM authorizes it. ``tables(name)`` gives moto's table."""

    def item(action: str, request: dict[str, Any], key: str) -> Access:
        table = tables(request["TableName"])
        return Access(action, table.table_arn, (_value(request[key][table.hash_key_attr]),))

    if operation in _ITEM_ACTIONS:
        return [item(_ITEM_ACTIONS[operation], body, "Item" if operation == "PutItem" else "Key")]
    if operation == "Query":
        table = tables(body["TableName"])
        resource, key_name = table.table_arn, table.hash_key_attr
        if body.get("IndexName"):
            index = next(i for i in table.global_indexes + table.indexes if i.name == body["IndexName"])
            resource = f"{table.table_arn}/index/{index.name}"
            key_name = next(k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH")
        found = _query_partition_key(body, key_name)
        if found is None:
            raise Unevaluable(f"no partition key ({key_name}) in the key condition of the Query")
        return [Access("dynamodb:Query", resource, (found,))]
    if operation in ("TransactWriteItems", "TransactGetItems"):
        each = [next(iter(entry.items())) for entry in body.get("TransactItems") or []]
        return [item(_TRANSACT_ACTIONS[k], request, "Item" if k == "Put" else "Key") for k, request in each]
    if operation == "BatchGetItem":
        gets: list[Access] = []
        for name, request in (body.get("RequestItems") or {}).items():
            table = tables(name)
            keys = tuple(_value(k[table.hash_key_attr]) for k in request.get("Keys") or [])
            gets.append(Access("dynamodb:BatchGetItem", table.table_arn, keys))
        return gets
    if operation == "BatchWriteItem":
        writes: list[Access] = []
        for name, requests in (body.get("RequestItems") or {}).items():
            table = tables(name)
            named = [
                r.get("PutRequest", {}).get("Item") or r.get("DeleteRequest", {}).get("Key") for r in requests
            ]
            keys = tuple(_value(k[table.hash_key_attr]) for k in named)
            writes.append(Access("dynamodb:BatchWriteItem", table.table_arn, keys))
        return writes
    # Scan, PartiQL, table operations...: no partition key; the action itself must be allowed.
    table_name = body.get("TableName")
    resource = tables(table_name).table_arn if table_name else "*"
    return [Access(f"dynamodb:{operation}", resource, ())]


# ------------------------------------------------------------------ the policy


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _glob(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    # IAM's wildcards match any character, line breaks included (re.DOTALL).
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.fullmatch(regex, value, flags) is not None


def _matches_one(operator: str, expected: list[str], value: str) -> bool:
    if operator in ("StringEquals", "ArnEquals"):
        return value in expected
    if operator == "StringEqualsIgnoreCase":
        return value.lower() in {e.lower() for e in expected}
    if operator in ("StringLike", "ArnLike"):
        return any(_glob(e, value) for e in expected)
    raise Unevaluable(f"condition operator {operator}")


def _condition(operator: str, expected: list[str], values: tuple[str, ...] | None) -> bool:
    qualifier, _, base = operator.rpartition(":")
    if base == "Null":
        return (values is None) == (str(expected[0]).lower() == "true")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    negated = "Not" in base
    base = base.replace("Not", "")

    def holds(value: str) -> bool:
        return _matches_one(base, expected, value) != negated

    if qualifier == "ForAllValues":
        return all(holds(v) for v in values or ())  # true for no value at all, as in IAM
    if qualifier == "ForAnyValue":
        return any(holds(v) for v in values or ())
    if qualifier:
        raise Unevaluable(f"condition qualifier {qualifier}")
    if not values:
        return if_exists or negated
    return holds(values[0]) if len(values) == 1 else any(holds(v) for v in values)


class _MissingTag(Exception):
    """A policy variable names a tag the session does not have: the statement applies to nothing."""


def _resolve(value: Any, tags: dict[str, str]) -> Any:
    """``value`` with its ``${aws:PrincipalTag/<key>}`` variables replaced by the session's tags."""
    if isinstance(value, list):
        return [_resolve(v, tags) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, tags) for k, v in value.items()}
    if not isinstance(value, str) or "${" not in value:
        return value

    def variable(found: re.Match[str]) -> str:
        name = found.group(1)
        if not name.startswith(_PRINCIPAL_TAG):
            raise Unevaluable(f"policy variable ${{{name}}}")
        key = name.removeprefix(_PRINCIPAL_TAG)
        if key not in tags:
            raise _MissingTag(key)
        return tags[key]

    return _VARIABLE.sub(variable, value)


def _statement_applies(statement: dict[str, Any], access: Access, tags: dict[str, str] | None = None) -> bool:
    try:
        statement = _resolve(statement, tags or {})
    except _MissingTag:
        return False
    if "Action" in statement:
        if not any(_glob(a, access.action, ignore_case=True) for a in _listed(statement["Action"])):
            return False
    elif any(_glob(a, access.action, ignore_case=True) for a in _listed(statement.get("NotAction", []))):
        return False
    if "Resource" in statement:
        if not any(_glob(r, access.resource) for r in _listed(statement["Resource"])):
            return False
    elif any(_glob(r, access.resource) for r in _listed(statement.get("NotResource", []))):
        return False
    context = {LEADING_KEYS: access.leading_keys if access.leading_keys else None}
    for operator, block in (statement.get("Condition") or {}).items():
        for key, expected in block.items():
            if key not in context:
                raise Unevaluable(f"condition key {key}")
            if not _condition(operator, [str(e) for e in _listed(expected)], context[key]):
                return False
    return True


def allowed(documents: Iterable[dict[str, Any]], access: Access, tags: dict[str, str] | None = None) -> bool:
    """IAM's answer for one access by a session with ``tags``: an explicit Deny wins, else some Allow
    must apply."""
    allow = False
    for document in documents:
        for statement in _listed(document.get("Statement", [])):
            if _statement_applies(statement, access, tags):
                if statement.get("Effect") == "Deny":
                    return False
                allow = True
    return allow


def role_policies(account: str, role_arn: str) -> list[dict[str, Any]]:
    """The role's inline and attached policies, as deployed into moto IAM (none if it does not exist)."""
    backend = iam_backends[account]["aws"]
    try:
        role = backend.get_role_by_arn(role_arn)
    except Exception:  # moto raises its own not-found error types
        return []
    attached = [
        v.document
        for p in role.managed_policies.values()
        for v in p.versions
        if v.version_id == p.default_version_id
    ]
    return [_document(d) for d in [*role.policies.values(), *attached]]


def _document(policy: Any) -> dict[str, Any]:
    """A policy as moto keeps it: a dict (deployed by CloudFormation) or JSON, maybe URL-encoded."""
    if isinstance(policy, dict):
        return policy
    text = str(policy)
    return dict(json.loads(unquote(text) if text.startswith("%") else text))


# ------------------------------------------------------------------ the hook


def _access_key(headers: Any) -> str | None:
    found = _CREDENTIAL.search(str(headers.get("Authorization") or headers.get("authorization") or ""))
    return found.group(1) if found else None


def check(handler: DynamoHandler) -> None:
    """Raise ``AccessDeniedException`` when the request's assumed role may not make it."""
    key = _access_key(handler.headers)
    if key is None:
        return
    account = handler.current_account
    assumed = sts_backends[account]["aws"].get_assumed_role_from_access_key(key)
    if assumed is None:
        return  # not a role session: the twin's own and the tests' keys
    tags = SESSION_TAGS.get(key, {})
    with _lock:
        SIGNED_BY_ROLE[assumed.role_arn] += 1
        SIGNED_FOR_TENANT[(assumed.role_arn, tags.get(TENANT_TAG, ""))] += 1
    operation = str(handler.headers.get("X-Amz-Target", "")).rsplit(".", 1)[-1]
    raw = handler.body
    body = json.loads(raw) if isinstance(raw, str | bytes) and raw else dict(raw or {})
    documents = role_policies(account, assumed.role_arn)
    try:
        requested = accesses(operation, body, handler.dynamodb_backend.get_table)
        denied = next((a for a in requested if not allowed(documents, a, tags)), None)
        reason = "no identity-based policy allows the {action} action"
    except Unevaluable as exc:
        denied = Access(f"dynamodb:{operation}", str(body.get("TableName", "*")), ())
        reason = f"the local twin cannot evaluate {exc} and denies it"
    if denied is not None:
        keys = ", ".join(denied.leading_keys) or "none"
        tagged = ", ".join(f"{k}={v}" for k, v in sorted(tags.items())) or "none"
        raise DynamodbException(
            ERROR_TYPE_PREFIX + "AccessDeniedException",
            f"User: {assumed.arn} is not authorized to perform: {denied.action} on resource: "
            f"{denied.resource} because {reason.format(action=denied.action)} (partition keys: {keys}; "
            f"session tags: {tagged})",
        )


# ------------------------------------------------------------------ AssumeRole


def _trust_document(account: str, role_arn: str) -> dict[str, Any] | None:
    """The role's trust policy as deployed into moto IAM, or None when there is no such role."""
    try:
        role = iam_backends[account]["aws"].get_role_by_arn(role_arn)
    except Exception:  # moto raises its own not-found error types
        return None
    return _document(role.assume_role_policy_document)


def _trust_allows(document: dict[str, Any], action: str, tags: dict[str, str]) -> bool:
    """Whether a trust statement allows ``action`` with these request tags (tag conditions only)."""
    context: dict[str, tuple[str, ...] | None] = {"aws:TagKeys": tuple(tags) or None}
    for statement in _listed(document.get("Statement", [])):
        if statement.get("Effect") != "Allow":
            continue
        if not any(_glob(a, action, ignore_case=True) for a in _listed(statement.get("Action", []))):
            continue
        met = True
        for operator, block in (statement.get("Condition") or {}).items():
            for key, expected in block.items():
                values: tuple[str, ...] | None
                if key.startswith("aws:RequestTag/"):
                    found = tags.get(key.removeprefix("aws:RequestTag/"))
                    values = (found,) if found is not None else None
                elif key in context:
                    values = context[key]
                else:
                    continue  # about the caller (aws:PrincipalArn): not known to the twin
                met = met and _condition(operator, [str(e) for e in _listed(expected)], values)
        if met:
            return True
    return False


def authorize_assume_role(account: str, role_arn: str, tags: dict[str, str]) -> None:
    """Raise ``AccessDenied`` as STS would when the role's trust policy refuses these session tags
    (and ``ValidationError`` for a tag STS would not take: a ``*`` or ``?`` in a tenant tag would
    otherwise become a wildcard of the LeadingKeys fence here)."""
    bad = [f"{k}={v}" for k, v in tags.items() if not (_TAG_TEXT.fullmatch(k) and _TAG_TEXT.fullmatch(v))]
    if bad:
        raise STSValidationError(f"session tags with characters STS does not allow: {', '.join(bad)}")
    document = _trust_document(account, role_arn)
    actions = ["sts:AssumeRole", *(["sts:TagSession"] if tags else [])]
    refused = (
        [f"no role {role_arn}"]
        if document is None
        else [a for a in actions if not _trust_allows(document, a, tags)]
    )
    if refused:
        raise STSClientError(
            "AccessDenied",
            f"not authorized to perform: {', '.join(refused)} on resource: {role_arn} "
            f"(session tags: {tags or 'none'})",
        )


def _remember_session_tags(original: Any) -> Any:
    @functools.wraps(original)
    def assume_role(self: TokenResponse) -> Any:
        tags = {str(t["Key"]): str(t["Value"]) for t in self._get_param("Tags") or []}
        authorize_assume_role(self.current_account, str(self._get_param("RoleArn")), tags)
        answer = original(self)
        with _lock:
            SESSION_TAGS[answer.result["Credentials"].access_key_id] = tags
        return answer

    return assume_role


def enforce_tenant_roles() -> None:
    """Check every DynamoDB request signed by an assumed role against that role's policies, and keep
    the session tags of every AssumeRole (once)."""
    global _installed
    with _lock:
        if _installed:
            return
        original = DynamoHandler.call_action

        @functools.wraps(original)
        def call_action(self: DynamoHandler) -> Any:
            check(self)
            return original(self)

        DynamoHandler.call_action = call_action  # type: ignore[method-assign]
        # STS's model lists no AccessDenied shape (a common error): moto warns as it answers one
        warnings.filterwarnings("ignore", message=r"Exception\(STSClientError\) with code AccessDenied")
        TokenResponse.assume_role = _remember_session_tags(TokenResponse.assume_role)  # type: ignore[method-assign]
        _installed = True
