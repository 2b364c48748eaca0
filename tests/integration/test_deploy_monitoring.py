"""The monitoring files of ``deploy/`` with the real tools: Prometheus rules and their unit tests
(promtool), the Alertmanager configuration and routes (amtool), and the Grafana dashboard's
PromQL (parsed by promtool; every series named is one the worker exports)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from callpulse.config import Config
from callpulse.live import CALLS, LiveCore, Record
from callpulse.queue import QueueParams
from streams.exporter import WorkerCollector, WorkerStats

from .stack import ROOT

pytestmark = pytest.mark.integration

DEPLOY = ROOT / "deploy"
RULES = DEPLOY / "prometheus" / "callpulse-rules.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "callpulse.json"
ALERTMANAGER = DEPLOY / "alertmanager" / "alertmanager.yml"
# Series Prometheus makes itself, not the worker.
BUILTIN = {"up"}


def run(*args: str | Path, stdout_only: bool = False) -> str:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout if stdout_only else result.stdout + result.stderr


def exported_names() -> set[str]:
    """Every series name the worker's collector exports (a worker with one queue and every
    optional series present)."""
    core = LiveCore(Config(), QueueParams())
    value = json.dumps({"v": 1, "id": "e1", "type": "ringing", "ts": 1_763_978_400_000,
                        "source": "pbx", "call_id": "c1", "queue": "q"}).encode()
    core.fold([Record(CALLS, 0, 0, b"q", value)], 1_763_978_400_000)
    views = {k: core.queue_view(*k, 1_763_978_401_000) for k in core.queues}
    stats = WorkerStats(processed=1, rejected={"not_json": 1}, lag_s=1.0,
                        next_offsets={("calls", 0): 1})
    names = set()
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    for family in WorkerCollector(core, views, stats, highwater=lambda tp: 5).collect():
        names.update(family.name + s for s in suffixes[family.type])
    return names


def recorded_names() -> set[str]:
    rules = yaml.safe_load(RULES.read_text())
    return {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}


def series_names(expr: str) -> set[str]:
    """Series names in a PromQL expression: ours all begin with ``callpulse``."""
    return set(re.findall(r"\b(callpulse[_:][a-zA-Z0-9_:]*)", expr)) | \
        {name for name in BUILTIN if re.search(rf"\b{name}\s*[{{\[]", expr)}


def test_the_rules_load_and_their_unit_tests_pass() -> None:
    assert "SUCCESS" in run("promtool", "check", "rules", RULES)
    tests = sorted((DEPLOY / "prometheus" / "tests").glob("*.yml"))
    assert len(tests) >= 2
    out = run("promtool", "test", "rules", *tests)
    assert out.count("SUCCESS") == len(tests)


def test_every_alert_is_tested_firing_and_has_severity_summary_and_runbook() -> None:
    rules = yaml.safe_load(RULES.read_text())
    alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
    tests = "\n".join(p.read_text() for p in (DEPLOY / "prometheus" / "tests").glob("*.yml"))
    runbook = (ROOT / "docs" / "runbook.md").read_text().lower()
    for alert in alerts:
        name = alert["alert"]
        assert alert["labels"]["severity"] in ("page", "ticket", "info"), name
        assert alert["annotations"]["summary"], name
        anchor = alert["annotations"]["runbook_url"].split("#", 1)[1]
        assert anchor == name.lower() and f"## {name.lower()}" in runbook, name
        # each is expected both firing (exp_labels) and not firing (exp_alerts: [])
        assert re.search(rf"alertname: {name}\n\s+exp_alerts:\n\s+- exp_labels", tests), name
        assert re.search(rf"alertname: {name}\n\s+exp_alerts: \[\]", tests), name
        names = series_names(alert["expr"])
        assert names <= exported_names() | recorded_names() | BUILTIN, (name, names)


def test_alertmanager_routes_pages_and_tickets_apart_and_groups_by_queue() -> None:
    assert "SUCCESS" in run("amtool", "check-config", ALERTMANAGER)

    def receiver(*labels: str) -> str:
        return run("amtool", "config", "routes", "test", f"--config.file={ALERTMANAGER}",
                   *labels, stdout_only=True).strip()

    assert receiver("severity=page", "alertname=CallpulseWaitTimeSpike", "queue=sales") == "page"
    assert receiver("severity=ticket", "alertname=CallpulseAbandonRateHigh") == "ticket"
    assert receiver("severity=page", "alertname=CallpulseSourceStale", "source=pbx") == "page"
    # an inhibitor only: it reaches nobody
    assert receiver("severity=info", "alertname=CallpulseSourceSilent", "source=pbx") == "none"
    assert [r for r in yaml.safe_load(ALERTMANAGER.read_text())["receivers"]
            if r["name"] == "none"] == [{"name": "none"}]
    config = yaml.safe_load(ALERTMANAGER.read_text())
    assert config["route"]["group_by"] == ["tenant", "queue"]
    inhibit = config["inhibit_rules"][0]
    assert "CallpulseSourceSilent" in inhibit["source_matchers"][0]
    assert "CallpulseWorker" not in inhibit["source_matchers"][0]  # other queues stay right
    rules = yaml.safe_load(RULES.read_text())
    queue_alerts = {r["alert"] for r in rules["groups"][1]["rules"]}
    assert all(name in inhibit["target_matchers"][0] for name in queue_alerts)


def dashboard_exprs() -> list[str]:
    dash = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dash["panels"] for t in p["targets"]] + \
        [v["definition"] for v in dash["templating"]["list"] if v["type"] == "query"]


def test_the_dashboard_parses_and_uses_only_exported_series(tmp_path: Path) -> None:
    dash = json.loads(DASHBOARD.read_text())
    assert {v["name"] for v in dash["templating"]["list"]} >= {"tenant", "queue"}
    titles = " ".join(p["title"].lower() for p in dash["panels"])
    for topic in ("service level", "wait quantiles", "waiting", "longest wait", "abandon",
                  "callbacks", "agents by state", "staffing gap", "events/s", "rejected", "lag"):
        assert topic in titles, topic
    exprs = dashboard_exprs()
    queries: list[str] = []
    for expr in exprs:
        match = re.fullmatch(r"label_values\((.*), *\w+\)", expr)
        # Grafana's variables as Prometheus would see them once substituted.
        queries.append((match.group(1) if match else expr)
                       .replace("$__rate_interval", "1m").replace("$tenant", ".*")
                       .replace("$queue", ".*"))
    # promtool parses PromQL when it checks rules: each query becomes a recording rule.
    rules: dict[str, Any] = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:q{i}", "expr": q} for i, q in enumerate(queries)]}]}
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump(rules))
    assert f"SUCCESS: {len(queries)} rules found" in run("promtool", "check", "rules", path)
    known = exported_names() | recorded_names() | BUILTIN
    for expr in exprs:
        assert series_names(expr) <= known, (expr, series_names(expr) - known)


def test_the_prometheus_configuration_loads(tmp_path: Path) -> None:
    config = (DEPLOY / "prometheus" / "prometheus.yml").read_text()
    path = tmp_path / "prometheus.yml"
    path.write_text(config.replace("/etc/prometheus/rules/callpulse-rules.yml", str(RULES)))
    assert "SUCCESS" in run("promtool", "check", "config", path)
    scrape = yaml.safe_load(config)["scrape_configs"][0]
    assert scrape["job_name"] == "callpulse-worker"  # the job the rules name
