"""``scrm capacity``: what one cell (one AWS account and region, default quotas) holds.

The model divides the AWS default quotas of ``infra/quotas.py`` by what the platform MEASURABLY
uses; nothing in it is a figure typed in by hand:

- **Per ticket and per action**: every AWS call the product makes, counted by the twin's meter
  while install tickets go from a signed webhook to close (``benchmarks/lifecycle.run_calls``),
  plus state transitions, DynamoDB request units, Lambda invocations and their wall time, HTTP
  requests and schedules fired. A rate quota's ceiling is ``refill / calls per ticket``; the one
  that binds is the lowest. Lambda concurrency is Little's law on the measured wall time of the
  invocations (the twin's, which is slower than Lambda's: a conservative figure).
- **Per tenant**: the stacks of generated tenants synthesized with the CDK app (each a copy of an
  example tenant under a new id), counted by resource type: IAM roles, EventBridge rules,
  SSM parameters (and the channel secrets the tenant's file names), state machines, dashboards,
  alarms, schedules, stacks, and the statements each tenant adds to the platform's resource
  policies (Lambda functions, the event bus, buckets), rendered to JSON as AWS stores them.
  ``(quota - platform's own) / per tenant`` is the tenants a cell holds.
- **Cold reads**: what a container reads once per tenant and then caches (configuration,
  credentials, secrets), measured as the calls of each function's first invocation with its
  caches emptied, minus a warm ticket's. With every
  busy container serving every active tenant, ``containers x tenants x reads / cache lifetime``
  must stay under the API's rate: the active tenants a cell holds at a given ticket rate.
- **Hot keys**: the DynamoDB partitions (table or index key values) that two or more tickets of
  one tenant touched, with the request units each operation puts on them (the meter's units per
  partition, not the key schemes on paper; only the shard count of a write-sharded key family
  comes from the repository that shards it, since a few tickets cannot show an even spread).
  ``1,000 WCU / units per operation`` (3,000 RCU for reads) is the operation's ceiling per
  tenant; per-technician keys are listed, not binding.

``model()`` is pure (unit-tested with made-up figures); ``measure_calls()`` and
``measure_resources()`` run the twin and the CDK app.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from infra.quotas import QUOTAS, Quota, quota, rate_quota_of

TARGET_TICKETS_PER_SECOND = 100
"""The account-wide ticket rate at which the cold-read ceiling is stated (issue #16's goal)."""

OPERATIONS: dict[str, tuple[str, ...]] = {
    "deliveries": ("scrm-webhooks-api", "scrm-ticket-intake"),
    "dispatches": ("scrm-dispatch-assign",),
    "settlements": ("scrm-settlement-settle", "scrm-settlement-aggregates"),
}
"""Per-tenant operations of the hot-key figures, by the functions that do them; the first one
is invoked once per operation (the count the units are divided by). A settlement's revenue
aggregates, where a stream consumer writes them, are the settlement's too."""

_ACCOUNT = "123456789012"
_REGION = "us-east-1"


@dataclass(frozen=True)
class Ceiling:
    """One quota's ceiling: ``limit`` (the quota) over ``used`` (per ticket, action or tenant)."""

    quota: str
    what: str
    limit: float
    used: float
    platform: float
    ceiling: float
    unit: str
    source: str

    def as_dict(self) -> dict[str, Any]:
        found = asdict(self)
        found["ceiling"] = None if math.isinf(self.ceiling) else round(self.ceiling, 2)
        found["used"] = round(self.used, 4)
        return found


# ------------------------------------------------------------------ the pure model
def rate_ceilings(
    per_unit: Mapping[str, float], quotas: Iterable[Quota] = QUOTAS, concurrency: float | None = None
) -> list[Ceiling]:
    """Units per second each account-wide rate quota allows, given what one unit (a ticket, an
    action) uses of it; lowest first. ``per_unit["lambda:wall_ms"]`` (milliseconds of Lambda
    running per unit) makes the concurrency quota a ceiling too."""
    found: list[Ceiling] = []
    for q in quotas:
        if q.kind != "rate" or math.isinf(q.value):
            continue  # every rate quota here is account-wide (DynamoDB's is per table: the one table)
        used = sum(per_unit.get(api, 0.0) for api in q.calls)
        if used <= 0:
            continue
        found.append(Ceiling(q.key, q.name, q.value, used, 0.0, q.value / used, q.unit, q.source))
    wall_ms = per_unit.get("lambda:wall_ms", 0.0)
    if wall_ms > 0:
        q = quota("lambda:concurrent-executions")
        limit = concurrency if concurrency is not None else q.value
        seconds = wall_ms / 1000
        found.append(
            Ceiling(q.key, q.name, limit, seconds, 0.0, limit / seconds, "execution-seconds", q.source)
        )
    return sorted(found, key=lambda c: c.ceiling)


def tenant_ceilings(platform: Mapping[str, float], per_tenant: Mapping[str, float]) -> list[Ceiling]:
    """Tenants one account holds under each count or size quota: ``(limit - platform) / per tenant``
    (infinite when a tenant adds nothing); lowest first. Keys are quota keys."""
    found = []
    for key in sorted(set(platform) | set(per_tenant)):
        q = quota(key)
        base, each = platform.get(key, 0.0), per_tenant.get(key, 0.0)
        room = q.value - base
        ceiling = math.inf if each <= 0 else max(0.0, math.floor(room / each))
        if room <= 0:
            ceiling = 0.0
        found.append(Ceiling(key, q.name, q.value, each, base, ceiling, q.unit, q.source))
    return sorted(found, key=lambda c: (c.ceiling, c.quota))


def cold_read_ceilings(
    warm_up: Mapping[str, float],
    warm: Mapping[str, float],
    containers_in_warm_up: int,
    containers: float,
    cache_seconds: Mapping[str, float],
) -> list[Ceiling]:
    """Active tenants a cell holds before the per-container reads of each tenant's configuration,
    credentials and secrets exceed their API's rate: a container reads them once per tenant per
    cache lifetime, and ``containers`` busy containers each serve every active tenant. APIs that
    share a quota (SSM's reads) add up."""
    rates: dict[str, float] = {}
    parts: dict[str, list[str]] = {}
    for api, total in sorted(warm_up.items()):
        cold = total - warm.get(api, 0.0)
        q = rate_quota_of(api)
        if (
            cold <= 0
            or q is None
            or math.isinf(q.value)
            or api not in cache_seconds
            or containers_in_warm_up <= 0
        ):
            continue
        per_container_tenant = cold / containers_in_warm_up
        rates[q.key] = rates.get(q.key, 0.0) + containers * per_container_tenant / cache_seconds[api]
        parts.setdefault(q.key, []).append(
            f"{api} {per_container_tenant:.2f} per container and tenant, cached {cache_seconds[api]:.0f} s"
        )
    found = []
    for key, rate_per_tenant in rates.items():
        q = quota(key)
        found.append(
            Ceiling(
                key,
                f"cold reads ({'; '.join(parts[key])}; {containers:.0f} busy containers)",
                q.value,
                rate_per_tenant,
                0.0,
                math.floor(q.value / rate_per_tenant),
                "active tenants",
                q.source,
            )
        )
    return sorted(found, key=lambda c: c.ceiling)


_SHARD = re.compile(r"^(?P<family>.*#(?P<name>[A-Z][A-Z_]*)(?:#[^#]+)?)#(?P<shard>\d+)$")


def sharded(shared_partitions: Mapping[str, float], shards: Mapping[str, int]) -> dict[str, float]:
    """Write-sharded key families as one partition each: ``TENANT#t#TICKETS#0`` .. ``#7`` (or
    ``TENANT#t#REVENUE#<month>#00`` .. ``#07``) become
    ``TENANT#t#TICKETS#<shard>`` with the units of one shard (the family's total over ``shards[
    "TICKETS"]``: ids hash evenly over the shards, which a few measured tickets cannot show)."""
    found: dict[str, float] = {}
    for key, units in shared_partitions.items():
        kind, function, index, partition = key.split(" ", 3)
        match = _SHARD.match(partition)
        count = shards.get(match.group("name"), 0) if match else 0
        if match and count > 1:
            key = f"{kind} {function} {index} {match.group('family')}#<shard>"
            units = units / count
        found[key] = found.get(key, 0.0) + units
    return found


def hot_keys(
    shared_partitions: Mapping[str, float],
    invocations_per_ticket: Mapping[str, float],
    tenant: str,
    per_entity: Iterable[str] = (),
    shards: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """Per-tenant ceilings of each operation of :data:`OPERATIONS` on the partitions it shares.

    ``shared_partitions``: ``"<wru|rru> <function> <table|index> <key>"`` -> units per ticket, for
    partitions two or more tickets touched. Partitions whose key names one of ``per_entity``
    (technician ids) are one technician's: listed, not binding for the tenant. ``shards``: how
    many shards each write-sharded key family has (:func:`sharded`).
    """
    shared_partitions = sharded(shared_partitions, shards or {})
    entities = [e for e in per_entity if e]
    write_limit = quota("dynamodb:partition-write").value
    read_limit = quota("dynamodb:partition-read").value
    result: dict[str, Any] = {}
    names = {name for functions in OPERATIONS.values() for name in functions}
    all_ops = {**OPERATIONS, "tickets": tuple(sorted(names | {k.split(" ")[1] for k in shared_partitions}))}
    for operation, functions in all_ops.items():
        per_op = (
            1.0 if operation == "tickets" else invocations_per_ticket.get(functions[0], 0.0)
        )  # operations per ticket
        if per_op <= 0:
            continue
        units: Counter[str] = Counter()
        for key, value in shared_partitions.items():
            kind, function, index, partition = key.split(" ", 3)
            if function in functions:
                units[f"{kind} {index} {partition}"] += value / per_op  # type: ignore[assignment]
        rows: list[dict[str, Any]] = []
        for key, value in units.items():
            kind, index, partition = key.split(" ", 2)
            limit = write_limit if kind == "wru" else read_limit
            entity = any(re.search(rf"[#:]{re.escape(e)}(#|$)", partition) for e in entities)
            rows.append(
                {
                    "partition": partition.replace(tenant, "{tenant}"),
                    "index": index,
                    "units": kind,
                    "per_operation": round(value, 3),
                    "ceiling_per_second": round(limit / value, 1),
                    "scope": "one technician" if entity else "tenant",
                }
            )
        rows.sort(key=lambda r: r["ceiling_per_second"])
        binding = next((r for r in rows if r["scope"] == "tenant"), None)
        result[operation] = {
            "ceiling_per_second": binding["ceiling_per_second"] if binding else None,
            "binding": binding,
            "partitions": rows,
        }
    return result


def model(calls: Mapping[str, Any], resources: Mapping[str, Any]) -> dict[str, Any]:
    """The whole answer from the two measurements (:func:`measure_calls`, :func:`measure_resources`)."""
    per_ticket = calls["per_ticket"]
    per_action = calls["per_action"]
    tickets = rate_ceilings(per_ticket)
    actions = rate_ceilings(per_action)
    tenants = tenant_ceilings(resources["platform"], resources["per_tenant"])
    wall_s = per_ticket.get("lambda:wall_ms", 0.0) / 1000
    containers = max(1.0, TARGET_TICKETS_PER_SECOND * wall_s)
    cold = cold_read_ceilings(
        calls["warm_up"]["calls"],
        per_ticket,
        int(calls["warm_up"]["containers"]),
        containers,
        calls.get("cache_seconds", {}),
    )
    hot = hot_keys(
        calls.get("shared_partitions", {}),
        calls.get("invocations_per_ticket", {}),
        calls.get("tenant", ""),
        calls.get("technicians", ()),
        calls.get("shards", {}),
    )
    first = tickets[0] if tickets else None
    first_action = actions[0] if actions else None
    first_tenant = tenants[0] if tenants else None
    control = {k: v for k, v in per_ticket.items() if ":" in k and _is_call(k) and _plane(k) == "control"}
    return {
        "tickets_per_second": _headline(first),
        "actions_per_second": _headline(first_action),
        "tenants_per_account": _headline(first_tenant),
        "active_tenants_at_target_rate": _headline(cold[0] if cold else None)
        | {"target_tickets_per_second": TARGET_TICKETS_PER_SECOND, "busy_containers": round(containers, 1)},
        "hot_keys_per_tenant": {
            op: {"ceiling_per_second": v["ceiling_per_second"], "binding": v["binding"]}
            for op, v in hot.items()
        },
        "control_plane_calls_per_ticket": control,
        "ticket_ceilings": [c.as_dict() for c in tickets],
        "action_ceilings": [c.as_dict() for c in actions],
        "tenant_ceilings": [c.as_dict() for c in tenants],
        "cold_read_ceilings": [c.as_dict() for c in cold],
        "hot_keys": hot,
        "quotas": quota_table(),
        "measured": {
            "tickets": calls.get("tickets"),
            "outcomes": calls.get("outcomes"),
            "per_ticket": per_ticket,
            "per_create": calls.get("per_create"),
            "per_action": per_action,
            "actions_per_ticket": calls.get("actions_per_ticket"),
            "calls_by_function_per_ticket": calls.get("calls_by_function"),
            "cold_reads": calls.get("warm_up"),
            "generated_tenants": resources.get("tenants"),
            "per_tenant": resources["per_tenant"],
            "platform": resources["platform"],
            "resources_per_tenant_stack": resources.get("resources_per_tenant_stack"),
            "policies": resources.get("policies"),
        },
    }


def quota_table() -> list[dict[str, Any]]:
    """Every quota of ``infra/quotas.py`` the way the report shows it (what each figure divides)."""
    return [
        {
            "key": q.key,
            "name": q.name,
            "kind": q.kind,
            "value": None if math.isinf(q.value) else q.value,
            "unit": q.unit,
            "bucket": q.bucket,
            "scope": q.scope,
            "adjustable": q.adjustable,
            "source": q.source,
            "note": q.note,
        }
        for q in QUOTAS
    ]


def _headline(ceiling: Ceiling | None) -> dict[str, Any]:
    if ceiling is None:
        return {"value": None, "binding": None}
    return {
        "value": None if math.isinf(ceiling.ceiling) else round(ceiling.ceiling, 1),
        "binding": ceiling.quota,
        "what": ceiling.what,
        "source": ceiling.source,
    }


def _is_call(key: str) -> bool:
    from infra.quotas import MEASURES

    return key not in MEASURES and not key.startswith("lambda:wall")


def _plane(key: str) -> str:
    from infra.quotas import plane

    return plane(key)


# ------------------------------------------------------------------ measuring: calls (the twin)
def measure_calls(tenant_files: list[str], tickets: int = 3, progress: Any = None) -> dict[str, Any]:
    """Install tickets through the twin (``benchmarks/lifecycle.run_calls``) and the cache lifetimes
    the functions use, which the cold-read ceiling divides by."""
    from benchmarks.lifecycle import run_calls
    from shared.adapters.secrets import SECRET_CACHE_SECONDS
    from shared.tenant import load_tenant_file
    from shared.tenant.store import CACHE_SECONDS
    from shared.tenant_scope import REFRESH_MARGIN, SESSION_SECONDS

    found = run_calls(tenant_files, tickets, progress)
    found["cache_seconds"] = {
        "ssm:GetParametersByPath": float(CACHE_SECONDS),
        "ssm:GetParameters": float(CACHE_SECONDS),
        "s3:GetObject": float(CACHE_SECONDS),
        "ssm:GetParameter": float(SECRET_CACHE_SECONDS),
        "sts:AssumeRole": float(SESSION_SECONDS - REFRESH_MARGIN),
    }
    found["shards"] = shard_counts()
    tenant = next(f for f in tenant_files if Path(f).stem == found["tenant"])
    found["technicians"] = [t.id for t in load_tenant_file(tenant).technicians]
    return found


def shard_counts() -> dict[str, int]:
    """How many shards each write-sharded key family has, from the repositories that write them
    (a family the tree does not shard yet counts as one partition)."""
    import importlib

    found = {}
    for family, module, name in (
        ("TICKETS", "shared.repositories.tickets", "TICKET_LIST_SHARDS"),
        ("OPEN", "shared.repositories.tickets", "OPEN_INDEX_SHARDS"),
        ("DELIVERIES", "shared.repositories.deliveries", "DELIVERY_LIST_SHARDS"),
        ("REVENUE", "shared.domain.ledger", "REVENUE_SHARDS"),
    ):
        count = getattr(importlib.import_module(module), name, None)
        if isinstance(count, int) and count > 1:
            found[family] = count
    return found


# ------------------------------------------------------------------ measuring: resources (CDK synth)
def generated_tenant_files(count: int, examples: list[str], outdir: Path) -> list[str]:
    """``count`` tenant files, each an example tenant's (in turn) under the id ``cap-NNNN``."""
    import yaml

    files = []
    for n in range(count):
        source = Path(examples[n % len(examples)])
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
        tenant_id = f"cap-{n:04d}"
        data["tenant"]["id"] = tenant_id
        data["tenant"]["name"] = f"{data['tenant'].get('name', source.stem)} {n}"
        path = outdir / f"{tenant_id}.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        files.append(str(path))
    return files


def measure_resources(tenant_files: list[str]) -> dict[str, Any]:
    """Synthesize the platform and these tenants; what each tenant adds to account quotas."""
    from infra.app import build_app, load_tenants
    from infra.stacks import PLATFORM_STACK

    configs = {c.tenant.id: c for c in load_tenants(tenant_files)}
    with tempfile.TemporaryDirectory(prefix="scrm-capacity-") as outdir:
        assembly = build_app(tenant_files, outdir=outdir, bundle=False).synth()
        templates = {s.stack_name: json.loads(json.dumps(s.template)) for s in assembly.stacks}
    return count_resources(templates, PLATFORM_STACK, configs)


def count_resources(
    templates: Mapping[str, Mapping[str, Any]], platform_stack: str, configs: Mapping[str, Any]
) -> dict[str, Any]:
    """Per-tenant and platform figures from synthesized templates (pure: no CDK, no AWS)."""
    platform_template = templates[platform_stack]
    tenants = {name: t for name, t in templates.items() if name != platform_stack}
    platform_functions = _function_names(platform_template, platform_stack)
    statements: dict[str, list[dict[str, Any]]] = {}
    tenant_statements: Counter[str] = Counter()
    for name, template in templates.items():
        own = _function_names(template, name)
        for logical, resource in _of_type(template, "AWS::Lambda::Permission"):
            props = resource.get("Properties", {})
            target = _resolve(props.get("FunctionName"), name, own)
            function = target.rsplit(":function:", 1)[-1].split(":")[0]
            statement = _permission_statement(name, logical, props, function, own)
            statements.setdefault(function, []).append(statement)
            if name != platform_stack and function in platform_functions.values():
                tenant_statements[function] += 1

    def count(template: Mapping[str, Any], kind: str) -> int:
        return sum(1 for _ in _of_type(template, kind))

    def rules_on_default_bus(template: Mapping[str, Any]) -> int:
        return sum(
            1
            for _logical, r in _of_type(template, "AWS::Events::Rule")
            if r.get("Properties", {}).get("EventBusName") in (None, "default")
        )

    per: dict[str, list[float]] = {}
    for name, template in tenants.items():
        tenant_id = name.removeprefix("ScrmTenant-")
        secrets = _secret_count(configs.get(tenant_id))
        figures = {
            "iam:roles": count(template, "AWS::IAM::Role"),
            "events:rules-per-bus": rules_on_default_bus(template),
            "ssm:standard-parameters": count(template, "AWS::SSM::Parameter") + secrets,
            "cloudformation:stacks": 1,
            "states:state-machines": count(template, "AWS::StepFunctions::StateMachine"),
            "cloudwatch:dashboards": count(template, "AWS::CloudWatch::Dashboard"),
            "cloudwatch:alarms": count(template, "AWS::CloudWatch::Alarm"),
            "scheduler:schedules": count(template, "AWS::Scheduler::Schedule"),
        }
        for key, value in figures.items():
            per.setdefault(key, []).append(float(value))
    n = max(len(tenants), 1)
    per_tenant = {k: sum(v) / n for k, v in per.items()}
    platform = {
        "iam:roles": float(count(platform_template, "AWS::IAM::Role")),
        "events:rules-per-bus": float(rules_on_default_bus(platform_template)),
        "ssm:standard-parameters": float(count(platform_template, "AWS::SSM::Parameter")),
        "cloudformation:stacks": 1.0,
        "cloudwatch:dashboards": float(count(platform_template, "AWS::CloudWatch::Dashboard")),
        "cloudwatch:alarms": float(count(platform_template, "AWS::CloudWatch::Alarm")),
        "scheduler:schedules": float(count(platform_template, "AWS::Scheduler::Schedule")),
    }
    policies = _policy_sizes(statements, platform_functions, tenant_statements, n)
    policies.update(_document_policies(templates, platform_stack, n))
    for kind, figure in (
        ("lambda:resource-policy", "lambda"),
        ("events:bus-policy", "bus"),
        ("s3:bucket-policy", "bucket"),
    ):
        worst = _worst_policy(policies, figure, quota(kind).value)
        if worst is not None:
            platform[kind] = worst["platform_bytes"]
            per_tenant[kind] = worst["bytes_per_tenant"]
    sizes = [len(t.get("Resources") or {}) for t in tenants.values()]
    return {
        "tenants": len(tenants),
        "per_tenant": per_tenant,
        "per_tenant_max": {k: max(v) for k, v in per.items()},
        "platform": platform,
        "resources_per_tenant_stack": {
            "max": max(sizes, default=0),
            "mean": round(sum(sizes) / n, 1),
            "limit": quota("cloudformation:resources-per-stack").value,
        },
        "resource_types_per_tenant": _types_per_tenant(tenants),
        "lambda_permissions_added_by_tenants": dict(tenant_statements),
        "policies": policies,
    }


def _types_per_tenant(tenants: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    total: Counter[str] = Counter()
    for template in tenants.values():
        total.update(r.get("Type", "?") for r in (template.get("Resources") or {}).values())
    n = max(len(tenants), 1)
    return {k: round(v / n, 2) for k, v in sorted(total.items())}


def _worst_policy(policies: Mapping[str, Any], kind: str, limit: float) -> dict[str, Any] | None:
    """The policy of ``kind`` that the fewest tenants fill up (the one that binds)."""
    candidates = [p for p in policies.values() if p["kind"] == kind]
    if not candidates:
        return None

    def room(p: Mapping[str, Any]) -> float:
        return (
            math.inf if p["bytes_per_tenant"] <= 0 else (limit - p["platform_bytes"]) / p["bytes_per_tenant"]
        )

    return min(candidates, key=lambda p: (room(p), -p["bytes"]))


def _secret_count(cfg: Any) -> int:
    if cfg is None:
        return 0
    refs = set()
    for channel in cfg.channels:
        for attr in ("secret", "token", "aes_key"):
            ref = getattr(getattr(channel, attr, None), "ssm", None)
            if ref:
                refs.add(ref)
    return len(refs)


def _of_type(template: Mapping[str, Any], kind: str) -> Iterable[tuple[str, dict[str, Any]]]:
    for logical, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") == kind:
            yield logical, resource


def _function_names(template: Mapping[str, Any], stack: str) -> dict[str, str]:
    """Logical id -> function name of the stack's functions (their fixed name, or the name
    CloudFormation would generate: ``<stack>-<logical id>-<suffix>``)."""
    found = {}
    for logical, resource in _of_type(template, "AWS::Lambda::Function"):
        name = resource.get("Properties", {}).get("FunctionName")
        found[logical] = name if isinstance(name, str) else f"{stack}-{logical}"[:51] + "-ABCDEFGHIJKL"
    return found


_PSEUDO = {
    "AWS::AccountId": _ACCOUNT,
    "AWS::Region": _REGION,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "",
    "AWS::NoValue": "",
}


def _resolve(node: Any, stack: str, functions: Mapping[str, str]) -> str:
    """A template value as the string CloudFormation would make of it (names and ARNs of the
    stack's resources as CloudFormation generates them: same length, made-up suffix)."""
    if isinstance(node, str):
        return node
    if isinstance(node, (int, float)):
        return str(node)
    if isinstance(node, list):
        return ",".join(_resolve(n, stack, functions) for n in node)
    if not isinstance(node, dict) or len(node) != 1:
        return json.dumps(node)
    ((fn, arg),) = node.items()
    if fn == "Ref":
        if arg in _PSEUDO:
            return _PSEUDO[arg] or stack
        return functions.get(arg) or f"{stack}-{arg}"[:64] + "-ABCDEFGHIJKL"
    if fn == "Fn::GetAtt":
        logical = arg[0] if isinstance(arg, list) else str(arg).split(".")[0]
        if logical in functions:
            return f"arn:aws:lambda:{_REGION}:{_ACCOUNT}:function:{functions[logical]}"
        return f"arn:aws:service:{_REGION}:{_ACCOUNT}:resource/{stack}-{logical}-ABCDEFGHIJKL"
    if fn == "Fn::Join":
        sep, parts = arg
        return str(sep).join(_resolve(p, stack, functions) for p in parts)
    if fn == "Fn::Sub":
        text, values = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return _resolve(values[name], stack, functions)
            if name in _PSEUDO:
                return _PSEUDO[name] or stack
            return _resolve(
                {"Fn::GetAtt": name.split(".")} if "." in name else {"Ref": name}, stack, functions
            )

        return re.sub(r"\$\{([^}!]+)\}", sub, str(text))
    if fn == "Fn::Select":
        index, items = arg
        resolved = items if isinstance(items, list) else _resolve(items, stack, functions).split(",")
        return _resolve(resolved[int(index)], stack, functions)
    if fn == "Fn::Split":
        return _resolve(arg[1], stack, functions)
    return json.dumps(node)


def _permission_statement(
    stack: str, logical: str, props: Mapping[str, Any], function: str, functions: Mapping[str, str]
) -> dict[str, Any]:
    """The statement Lambda adds to a function's policy for one ``AWS::Lambda::Permission``."""
    principal = _resolve(props.get("Principal"), stack, functions)
    statement: dict[str, Any] = {
        "Sid": f"{stack}-{logical}"[:80] + "-ABCDEFGHIJKL",
        "Effect": "Allow",
        "Principal": {"Service": principal} if principal.endswith(".amazonaws.com") else {"AWS": principal},
        "Action": _resolve(props.get("Action"), stack, functions),
        "Resource": f"arn:aws:lambda:{_REGION}:{_ACCOUNT}:function:{function}",
    }
    condition: dict[str, Any] = {}
    if "SourceArn" in props:
        condition["ArnLike"] = {"AWS:SourceArn": _resolve(props["SourceArn"], stack, functions)}
    if "SourceAccount" in props:
        condition["StringEquals"] = {"AWS:SourceAccount": _resolve(props["SourceAccount"], stack, functions)}
    if condition:
        statement["Condition"] = condition
    return statement


def _policy_json(statements: list[dict[str, Any]]) -> int:
    document = {"Version": "2012-10-17", "Id": "default", "Statement": statements}
    return len(json.dumps(document, separators=(",", ":")).encode("utf-8"))


def _policy_sizes(
    statements: Mapping[str, list[dict[str, Any]]],
    platform_functions: Mapping[str, str],
    tenant_statements: Mapping[str, int],
    tenants: int,
) -> dict[str, Any]:
    found = {}
    for function in sorted(set(platform_functions.values())):
        all_statements = statements.get(function, [])
        own = len(all_statements) - tenant_statements.get(function, 0)
        size = _policy_json(all_statements) if all_statements else 0
        base = _policy_json(all_statements[:own]) if own else 0
        found[f"lambda {function}"] = {
            "kind": "lambda",
            "bytes": size,
            "platform_bytes": base,
            "bytes_per_tenant": round((size - base) / tenants, 1) if tenants else 0.0,
            "statements": len(all_statements),
        }
    return found


def _document_policies(
    templates: Mapping[str, Mapping[str, Any]], platform_stack: str, tenants: int
) -> dict[str, Any]:
    """The event bus and bucket policies (``AWS::Events::EventBusPolicy``, ``AWS::S3::BucketPolicy``)
    of every stack, by the bus or bucket they are on: size, and what the tenants' stacks add."""
    total: dict[str, dict[str, Any]] = {}
    for name, template in templates.items():
        functions = _function_names(template, name)
        for kind, figure, target_prop in (
            ("AWS::Events::EventBusPolicy", "bus", "EventBusName"),
            ("AWS::S3::BucketPolicy", "bucket", "Bucket"),
        ):
            for logical, resource in _of_type(template, kind):
                props = resource.get("Properties", {})
                target = _resolve(props.get(target_prop, "default"), name, functions)
                if kind == "AWS::S3::BucketPolicy":
                    document = props.get("PolicyDocument", {})
                    statements = list(document.get("Statement", []))
                else:
                    statements = [
                        props.get("Statement") or {k: v for k, v in props.items() if k != target_prop}
                    ]
                rendered = json.loads(_render_json(statements, name, functions))
                entry = total.setdefault(
                    f"{figure} {target}", {"kind": figure, "platform": [], "tenants": []}
                )
                entry["platform" if name == platform_stack else "tenants"].extend(rendered)
                del logical
    found = {}
    for key, entry in total.items():
        size = _policy_json(entry["platform"] + entry["tenants"])
        base = _policy_json(entry["platform"]) if entry["platform"] else 0
        found[key] = {
            "kind": entry["kind"],
            "bytes": size,
            "platform_bytes": base,
            "bytes_per_tenant": round((size - base) / tenants, 1) if tenants else 0.0,
            "statements": len(entry["platform"]) + len(entry["tenants"]),
        }
    return found


def _render_json(node: Any, stack: str, functions: Mapping[str, str]) -> str:
    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1 and next(iter(value)).startswith(("Ref", "Fn::")):
                return _resolve(value, stack, functions)
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return json.dumps(walk(node))


# ------------------------------------------------------------------ the command
def run(
    *, tenants: int = 20, tickets: int = 3, as_json: bool = False, examples: list[str] | None = None
) -> int:
    """``scrm capacity``: measure (twin, then CDK synth of ``tenants`` generated tenants), model, print."""
    import sys

    from infra.cli import _example_tenants

    files = examples or _example_tenants()
    say = (lambda line: print(line, file=sys.stderr, flush=True)) if not as_json else (lambda _line: None)
    say(f"measuring the calls of {tickets} install ticket(s) on the local twin ...")
    calls = measure_calls(files, tickets, say)
    say(f"synthesizing the platform and {tenants} generated tenants ...")
    with tempfile.TemporaryDirectory(prefix="scrm-tenants-") as folder:
        resources = measure_resources(generated_tenant_files(tenants, files, Path(folder)))
    report = model(calls, resources)
    print(json.dumps(report, indent=2, default=str) if as_json else render(report))
    return 0


def render(report: Mapping[str, Any]) -> str:
    """The human-readable table of ``scrm capacity``."""

    def num(value: Any) -> str:
        return "unbounded" if value is None else f"{value:,.1f}" if isinstance(value, float) else f"{value:,}"

    lines = ["scrm capacity: one cell (one AWS account and region, default quotas)", ""]
    target = report["active_tenants_at_target_rate"].get("target_tickets_per_second")
    for title, key, unit in (
        ("new tickets/s (each with its actions)", "tickets_per_second", "tickets/s"),
        ("actions/s", "actions_per_second", "actions/s"),
        ("tenants per account", "tenants_per_account", "tenants"),
        (
            f"tenants active at once at {target} tickets/s",
            "active_tenants_at_target_rate",
            "tenants",
        ),
    ):
        head = report[key]
        lines.append(f"  {title:<52} {num(head['value']):>12} {unit:<10} binds: {head['binding'] or '-'}")
    lines.append("")
    lines.append("  per-tenant hot keys (DynamoDB 1,000 WCU / 3,000 RCU per partition):")
    for op, figure in report["hot_keys_per_tenant"].items():
        binding = figure["binding"] or {}
        where = f"{binding.get('index', '')} {binding.get('partition', '')}".strip()
        lines.append(
            f"    {op + '/s':<50} {num(figure['ceiling_per_second']):>12}            binds: {where or '-'}"
        )
    control = report["control_plane_calls_per_ticket"]
    lines.append("")
    lines.append(
        "  control-plane calls per ticket: "
        + (", ".join(f"{k} {v:g}" for k, v in control.items()) if control else "none")
    )
    for title, key in (
        ("ticket rate ceilings (lowest 6)", "ticket_ceilings"),
        ("action rate ceilings (lowest 4)", "action_ceilings"),
        ("tenant ceilings (lowest 6)", "tenant_ceilings"),
    ):
        lines += ["", f"  {title}:"]
        rows = report[key][: 6 if "action" not in key else 4]
        for row in rows:
            lines.append(
                f"    {row['quota']:<38} {num(row['ceiling']):>12}  limit {row['limit']:,.0f} {row['unit']}, "
                f"uses {row['used']:g}" + (f" (+{row['platform']:g} platform)" if row["platform"] else "")
            )
    return "\n".join(lines)
