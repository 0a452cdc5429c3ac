"""Prometheus' configuration and alert rules (each rule has a unit test, run by promtool), and the
Grafana dashboard they go with."""

import json
import shutil
import subprocess

import pytest

from tests.support import ROOT

PROMETHEUS = ROOT / "deploy" / "prometheus"


def promtool(*args: str, cwd=PROMETHEUS) -> subprocess.CompletedProcess:
    if shutil.which("promtool") is None:
        pytest.fail("promtool is missing: `make tools` installs it (Debian package prometheus)")
    return subprocess.run(["promtool", *args], cwd=cwd, capture_output=True, text=True)


def test_every_alert_rule_passes_its_unit_test():
    result = promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_unit_test():
    rules = (PROMETHEUS / "alerts.yml").read_text()
    tests = (PROMETHEUS / "alerts_test.yml").read_text()
    alerts = {line.split(":", 1)[1].strip() for line in rules.splitlines() if line.strip().startswith("- alert:")}
    assert alerts >= {"OutboxBacklog", "RelayNotRunning", "ConsumerLagGrowing", "NewDeadLetter",
                      "LedgerReconcileMismatch", "PaymentsStuckPending"}
    untested = {a for a in alerts - {"TargetDown"} if f"alertname: {a}" not in tests}
    assert not untested, untested


def test_the_configuration_the_dev_stack_renders_is_valid(tmp_path):
    config = (PROMETHEUS / "prometheus.yml").read_text().replace("@WEB@", "127.0.0.1:8001").replace(
        "@PUSHPIN@", "127.0.0.1:25564")
    (tmp_path / "prometheus.yml").write_text(config)
    shutil.copy(PROMETHEUS / "alerts.yml", tmp_path / "alerts.yml")
    result = promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dashboard_is_provisioned_with_its_datasource():
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/prepaid.json").read_text())
    datasource = (ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text()
    assert "uid: prometheus" in datasource
    assert all(p["datasource"]["uid"] == "prometheus" for p in dashboard["panels"])
    titles = " ".join(p["title"] for p in dashboard["panels"]).lower()
    for topic in ("operations", "latency", "backlog", "lag", "dead letters", "sse", "payments"):
        assert topic in titles, topic
