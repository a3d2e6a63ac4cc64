"""Dashboards show what the code emits; alarms exist with their thresholds and notify the ops topic."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.constructs.observability import (
    DEAD_LETTER_QUEUES,
    PLATFORM_WIDGETS,
    TENANT_WIDGETS,
    catalogue_metrics,
)
from shared import metrics as catalogue

ROOT = Path(__file__).resolve().parents[2]
SELECT = re.compile(
    r'^SELECT (\w+)\("(\w+)"\) FROM SCHEMA\("(\w+)", ([\w, ]+)\)(?: WHERE tenant = \'([\w-]+)\')?'
)


def of_type(raw: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in raw["Resources"].items() if v["Type"] == kind}


def _flatten(value: Any) -> str:
    """A CloudFormation string (maybe ``Fn::Join`` of parts and tokens) with tokens as ``TOKEN``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return str(sep).join(_flatten(p) for p in parts)
    return "TOKEN"


def dashboards(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        d["Properties"]["DashboardName"]: json.loads(_flatten(d["Properties"]["DashboardBody"]))
        for d in of_type(raw, "AWS::CloudWatch::Dashboard").values()
    }


def metric_entries(body: dict[str, Any]) -> Iterator[tuple[str, list[Any]]]:
    for widget in body["widgets"]:
        for entry in widget["properties"].get("metrics", []):
            yield widget["properties"].get("title", ""), entry


def insights_queries(body: dict[str, Any]) -> list[str]:
    return [
        e[0]["expression"]
        for _t, e in metric_entries(body)
        if isinstance(e[0], dict) and str(e[0].get("expression", "")).startswith("SELECT")
    ]


# ----------------------------------------------------------------------------- what the code emits
def _catalogue_aliases(tree: ast.Module) -> set[str]:
    aliases = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "shared":
            aliases |= {a.asname or a.name for a in node.names if a.name == "metrics"}
        if isinstance(node, ast.Import):
            aliases |= {a.asname for a in node.names if a.name == "shared.metrics" and a.asname}
    return aliases


def _calls(node: ast.AST, name: str) -> bool:
    return any(
        isinstance(n, ast.Call)
        and ((isinstance(n.func, ast.Name) and n.func.id == name) or getattr(n.func, "attr", None) == name)
        for n in ast.walk(node)
    )


def emitted_metrics() -> dict[str, set[str]]:
    """Catalogue metric name -> files, scanned from the source: the catalogue entries referenced in
    every function that calls ``emit_metric`` (in ``functions/``), not a hand-kept list."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "functions").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = _catalogue_aliases(tree)
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef) or not _calls(fn, "emit_metric"):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                    entry = getattr(catalogue, node.attr, None) if node.value.id in aliases else None
                    if isinstance(entry, catalogue.Metric):
                        found.setdefault(entry.name, set()).add(str(path.relative_to(ROOT)))
    return found


def test_code_emits_metrics_only_through_the_catalogue() -> None:
    # Given the handlers' source, When scanned for powertools metric calls
    raw_calls = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in (ROOT / "functions").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) in ("add_metric", "add_dimension")
    ]
    # Then no metric is emitted by a bare name (each emission names a catalogue entry)
    assert raw_calls == []
    emitted = emitted_metrics()
    assert set(emitted) == set(catalogue.BY_NAME), "catalogue entries nobody emits, or the reverse"


def test_emission_sites_pass_exactly_the_catalogue_dimensions() -> None:
    # Given every emit_metric(catalogue.X, value, dim=...) call with literal keywords
    checked = 0
    for path in (ROOT / "functions").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = _catalogue_aliases(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "emit_metric"):
                continue
            first = node.args[0]
            if not (isinstance(first, ast.Attribute) and getattr(first.value, "id", None) in aliases):
                continue
            if any(k.arg is None for k in node.keywords):  # **dims: checked at run time
                continue
            # Then the keywords are the entry's dimensions (emit_metric raises otherwise)
            entry = getattr(catalogue, first.attr)
            assert {k.arg for k in node.keywords} == set(entry.dimensions), f"{path}:{node.lineno}"
            checked += 1
    assert checked >= 10


@pytest.mark.parametrize("name", [m.name for m in catalogue.CATALOGUE])
def test_catalogue_entries_are_well_formed(name: str) -> None:
    metric = catalogue.BY_NAME[name]
    assert metric.dimensions[0] == "tenant"
    assert metric.unit in ("Count", "Milliseconds", "None")
    assert re.fullmatch(r"[A-Z][A-Za-z]+", metric.name)


def test_every_dashboard_metric_is_in_the_catalogue_and_emitted(
    platform_raw: dict[str, Any], tenant_raws: dict[str, dict[str, Any]]
) -> None:
    emitted = emitted_metrics()
    bodies = {
        **dashboards(platform_raw),
        **{k: v for r in tenant_raws.values() for k, v in dashboards(r).items()},
    }
    shown: set[str] = set()
    for name, body in bodies.items():
        for query in insights_queries(body):
            found = SELECT.match(query)
            assert found, f"{name}: not a catalogue query: {query}"
            _stat, metric_name, namespace, schema, _tenant = found.groups()
            # Then each metric a widget reads is a catalogue entry with exactly its dimension set ...
            assert namespace == catalogue.NAMESPACE
            assert metric_name in catalogue.BY_NAME, f"{name}: {metric_name} is not in the catalogue"
            dims = [d.strip() for d in schema.split(",")]
            assert dims == sorted(catalogue.BY_NAME[metric_name].dimensions), query
            # ... that the code emits
            assert metric_name in emitted, f"{name}: {metric_name} is shown but never emitted"
            shown.add(metric_name)
    assert catalogue_metrics(TENANT_WIDGETS) <= shown
    # The tenant dashboards show every business metric except the ops-only ones
    assert set(catalogue.BY_NAME) - catalogue_metrics(TENANT_WIDGETS) <= {
        "DeliveriesReplayed",
        "DeliveriesRedriven",
    }


def test_tenant_dashboards_read_only_their_tenant(tenant_raws: dict[str, dict[str, Any]]) -> None:
    for tenant_id, raw in tenant_raws.items():
        (body,) = dashboards(raw).values()
        queries = insights_queries(body)
        assert len(queries) == sum(
            1 for w in TENANT_WIDGETS for s in w.series if isinstance(s.metric, catalogue.Metric)
        )
        assert all(q.split(" WHERE ")[1].startswith(f"tenant = '{tenant_id}'") for q in queries)
        titles = [w["properties"].get("title") for w in body["widgets"]]
        assert titles == [w.title for w in TENANT_WIDGETS]
        executions = [e for t, e in metric_entries(body) if t == "Workflow executions"]
        assert len(executions) == 4 * len(_types(raw))


def _types(raw: dict[str, Any]) -> list[str]:
    return list(of_type(raw, "AWS::StepFunctions::StateMachine"))


def test_platform_dashboard_shows_functions_queues_executions_and_api(platform_raw: dict[str, Any]) -> None:
    (body,) = dashboards(platform_raw).values()
    functions = len(of_type(platform_raw, "AWS::Lambda::Function"))
    by_title: dict[str, list[list[Any]]] = {}
    for title, entry in metric_entries(body):
        by_title.setdefault(title, []).append(entry)
    for widget in PLATFORM_WIDGETS:
        assert widget.title in by_title
    # one line per function for errors, throttles and duration p95
    for title, name in (
        ("Lambda errors per function", "Errors"),
        ("Lambda throttles per function", "Throttles"),
        ("Lambda duration p95 per function", "Duration"),
    ):
        entries = by_title[title]
        assert len(entries) >= functions - 1 and all(e[:2] == ["AWS/Lambda", name] for e in entries)
    assert by_title["Lambda duration p95 per function"][0][-1]["stat"] == "p95"
    assert [e[1] for e in by_title["Intake queue"]] == [
        "ApproximateAgeOfOldestMessage",
        "NumberOfMessagesSent",
    ]
    # one line per dead-letter queue, each on a queue of the template
    dlq_lines = by_title["DLQ depth"]
    assert len(dlq_lines) == len(DEAD_LETTER_QUEUES) == len(_dead_letter_queues(platform_raw))
    assert all(e[:2] == ["AWS/SQS", "ApproximateNumberOfMessagesVisible"] for e in dlq_lines)
    assert {e[-1]["label"] for e in dlq_lines} == set(DEAD_LETTER_QUEUES)
    assert {e[-1]["stat"] for e in dlq_lines} == {"Maximum"}
    searches = [e[0]["expression"] for e in by_title["Executions failed or timed out"]]
    assert any("ExecutionsFailed" in s for s in searches) and any("ExecutionsTimedOut" in s for s in searches)
    assert [e[1] for e in by_title["HTTP API 4xx and 5xx"]] == ["4xx", "5xx"]
    assert {e[-1].get("stat", "Average") for e in by_title["HTTP API latency"]} == {"p95", "Average"}


def _alarms(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        a["Properties"]["AlarmName"]: a["Properties"] for a in of_type(raw, "AWS::CloudWatch::Alarm").values()
    }


def _metric(alarm: dict[str, Any]) -> dict[str, Any]:
    """Namespace, MetricName, Stat, Dimensions of an alarm (plain or ``Metrics`` with one MetricStat)."""
    if "MetricName" in alarm:
        return {k: alarm.get(k) for k in ("Namespace", "MetricName", "Dimensions")} | {
            "Stat": alarm["Statistic"]
        }
    (only,) = alarm["Metrics"]
    stat = only["MetricStat"]
    return {**stat["Metric"], "Stat": stat["Stat"]}


def _greater_than_zero(alarm: dict[str, Any]) -> bool:
    return alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"


def _dead_letter_queues(raw: dict[str, Any]) -> set[str]:
    """Logical ids of the template's dead-letter queues, found from their uses, not by name: the
    target of a queue's RedrivePolicy, a queue an IAM policy lets EventBridge Scheduler's role
    send to (the schedules' ``Target.DeadLetterConfig``, set at run time), the
    ``DeadLetterConfig`` of an EventBridge rule's target, or an event source mapping's on-failure
    destination."""
    queues = of_type(raw, "AWS::SQS::Queue")
    found = {
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in queues.values()
        if "RedrivePolicy" in q["Properties"]
    }
    found |= {
        target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
        for rule in of_type(raw, "AWS::Events::Rule").values()
        for target in rule["Properties"].get("Targets", [])
        if "DeadLetterConfig" in target
    }
    found |= {  # an event source mapping's on-failure destination (the stream of the aggregates)
        esm["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
        for esm in of_type(raw, "AWS::Lambda::EventSourceMapping").values()
        if "DestinationConfig" in esm["Properties"]
    }
    for policy in of_type(raw, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if "sqs:SendMessage" in json.dumps(statement["Action"]) and statement.get("Sid") == "DeadLetters":
                found |= {lid for lid in queues if lid in json.dumps(statement["Resource"])}
    return found


def _queue_of(alarm: dict[str, Any]) -> str:
    (dimension,) = _metric(alarm)["Dimensions"]
    assert dimension["Name"] == "QueueName"
    return str(dimension["Value"]["Fn::GetAtt"][0])


def test_every_dead_letter_queue_has_a_depth_alarm(platform_raw: dict[str, Any]) -> None:
    alarms = _alarms(platform_raw)
    dlqs = _dead_letter_queues(platform_raw)
    # Given the intake DLQ, the scheduler's (reminders, dispatch offers) DLQ, the stopped-executions
    # rule's DLQ, the revenue aggregates' stream on-failure queue, the domain events publisher's and
    # the outbound webhooks' (issue 17)
    assert len(dlqs) == len(DEAD_LETTER_QUEUES) == 6
    prefixes = ("IntakeDlq", "RemindersDlq", "RecoveryDlq", "RevenueAggregatesDlq", "EventsOutEventsDlq")
    for prefix in (*prefixes, "EventsOutWebhooksDlq"):
        assert any(lid.startswith(prefix) for lid in dlqs), prefix
    # Then each has exactly one alarm: the maximum of visible messages > 0, over 5 minutes
    by_queue: dict[str, list[str]] = {}
    for key in DEAD_LETTER_QUEUES:
        alarm = alarms[f"scrm-{key}-dlq-depth"]
        assert _greater_than_zero(alarm), key
        assert (_metric(alarm)["Namespace"], _metric(alarm)["MetricName"], _metric(alarm)["Stat"]) == (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            "Maximum",
        )
        period = alarm.get("Period") or alarm["Metrics"][0]["MetricStat"]["Period"]
        assert period == 300 and alarm["EvaluationPeriods"] == 1
        assert alarm["TreatMissingData"] == "notBreaching"
        assert key in alarm["AlarmDescription"]
        by_queue.setdefault(_queue_of(alarm), []).append(key)
    assert set(by_queue) == dlqs and all(len(keys) == 1 for keys in by_queue.values())
    assert by_queue[next(lid for lid in dlqs if lid.startswith("RemindersDlq"))] == ["reminders"]
    assert by_queue[next(lid for lid in dlqs if lid.startswith("RecoveryDlq"))] == ["recovery"]


def test_platform_alarms_and_thresholds(platform_raw: dict[str, Any]) -> None:
    alarms = _alarms(platform_raw)
    (topic_id,) = (k for k, v in of_type(platform_raw, "AWS::SNS::Topic").items() if "AlarmTopic" in k)
    # DLQ depth > 0 (the maximum of visible messages on each DLQ)
    for key in DEAD_LETTER_QUEUES:
        dlq = alarms[f"scrm-{key}-dlq-depth"]
        assert _greater_than_zero(dlq)
        assert (_metric(dlq)["MetricName"], _metric(dlq)["Stat"]) == (
            "ApproximateNumberOfMessagesVisible",
            "Maximum",
        )
        assert "Dlq" in json.dumps(_metric(dlq)["Dimensions"])
    # API 5xx > 0
    api = alarms["scrm-api-5xx"]
    assert _greater_than_zero(api)
    assert (_metric(api)["Namespace"], _metric(api)["MetricName"]) == ("AWS/ApiGateway", "5xx")
    # Errors > 0 of every function
    functions = of_type(platform_raw, "AWS::Lambda::Function").values()
    names = [f["Properties"].get("FunctionName", "") for f in functions]  # CDK's own handlers: no name
    for name in names:
        if name.startswith("scrm-"):
            errors = alarms[f"{name}-errors"]
            assert _greater_than_zero(errors) and _metric(errors)["MetricName"] == "Errors"
    # all to the ops topic
    for name, alarm in alarms.items():
        assert alarm["AlarmActions"] == [{"Ref": topic_id}], name


def test_tenant_alarms_on_failed_executions(tenant_raws: dict[str, dict[str, Any]]) -> None:
    for tenant_id, raw in tenant_raws.items():
        alarms = _alarms(raw)
        machines = of_type(raw, "AWS::StepFunctions::StateMachine")
        assert len(alarms) == len(machines)
        for name, alarm in alarms.items():
            assert name.startswith(f"scrm-{tenant_id}-") and name.endswith("-failed")
            assert _greater_than_zero(alarm) and _metric(alarm)["MetricName"] == "ExecutionsFailed"
            assert ":scrm-platform-alarms" in json.dumps(alarm["AlarmActions"])


# ----------------------------------------------------------------------------- the OpenTickets gauge
def test_one_platform_rule_measures_every_tenant_every_5_minutes(
    platform_raw: dict[str, Any], tenant_raws: dict[str, dict[str, Any]]
) -> None:
    # Given the platform stack, Then one enabled rule fires every 5 minutes ...
    gauge_rules = {
        rule_id: rule["Properties"]
        for rule_id, rule in of_type(platform_raw, "AWS::Events::Rule").items()
        if "ScheduleExpression" in rule["Properties"]
    }
    ((rule_id, props),) = gauge_rules.items()
    assert props["Name"] == "scrm-open-tickets"
    assert (props["ScheduleExpression"], props["State"]) == ("rate(5 minutes)", "ENABLED")
    # ... at scrm-ticket-gauges with {} (every deployed tenant), not retried past 5 minutes
    (target,) = props["Targets"]
    functions = of_type(platform_raw, "AWS::Lambda::Function")
    (gauges_id,) = [
        k for k, f in functions.items() if f["Properties"].get("FunctionName") == "scrm-ticket-gauges"
    ]
    assert target["Arn"] == {"Fn::GetAtt": [gauges_id, "Arn"]}
    assert json.loads(target["Input"]) == {}
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 300
    # And the function has ONE permission, for EventBridge and this rule only
    (permission,) = [
        p["Properties"]
        for p in of_type(platform_raw, "AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [gauges_id, "Arn"]}
    ]
    assert (permission["Action"], permission["Principal"]) == (
        "lambda:InvokeFunction",
        "events.amazonaws.com",
    )
    assert permission["SourceArn"] == {"Fn::GetAtt": [rule_id, "Arn"]}
    # And no tenant stack adds a rule or a permission (300 rules per bus; 20 KB of resource policy)
    for tenant_id, raw in tenant_raws.items():
        assert of_type(raw, "AWS::Events::Rule") == {}, tenant_id
        assert of_type(raw, "AWS::Lambda::Permission") == {}, tenant_id


def test_gauge_function_may_only_query_the_open_tickets_index(platform_raw: dict[str, Any]) -> None:
    functions = of_type(platform_raw, "AWS::Lambda::Function")
    (fn,) = [f for f in functions.values() if f["Properties"].get("FunctionName") == "scrm-ticket-gauges"]
    assert fn["Properties"]["Handler"] == "functions.ticket.gauges_handler.gauges"
    role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = [
        st
        for policy in of_type(platform_raw, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for st in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    # its only table access: the tenants' open-tickets roles (Query on gsi3, test_tenant_data_access.py)
    assert not [st for st in statements if "dynamodb:" in json.dumps(st["Action"])]
    (assume,) = [st for st in statements if "sts:AssumeRole" in json.dumps(st["Action"])]
    assert _flatten(assume["Resource"]).endswith(":role/scrm-tenant-open-tickets")
    assert not any(
        "sqs:" in json.dumps(st["Action"]) or "scheduler:" in json.dumps(st["Action"]) for st in statements
    )
