"""docker-compose.yml is valid and has every service of the platform on its port."""

import shutil
import subprocess

import pytest
import yaml

from tests.support import ROOT


def test_compose_file_is_valid():
    if shutil.which("docker-compose") is None:
        pytest.fail("docker-compose is missing: `make tools` installs it (Debian package docker-compose)")
    result = subprocess.run(["docker-compose", "-f", "docker-compose.yml", "config", "-q"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_compose_has_every_service_and_port():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "kafka", "kafka-ui", "front", "pushpin", "web", "worker", "beat", "consumer"} <= set(
        services)
    assert "29092:29092" in services["kafka"]["ports"]
    assert "8085:8080" in services["kafka-ui"]["ports"]
    # The public port is the front proxy's: /events/ to Pushpin, the rest to web (gunicorn); neither
    # publishes a port of its own.
    assert "8000:8000" in services["front"]["ports"]
    assert "ports" not in services["pushpin"] and "ports" not in services["web"]
    assert services["web"]["command"][0] == "gunicorn"
    assert "web:8001" in " ".join(services["front"]["command"]) and "pushpin:8000" in " ".join(
        services["front"]["command"])
    assert "web:8001" in " ".join(services["pushpin"]["command"])
    assert services["kafka"]["image"] == "apache/kafka:4.3.1"
    assert "localhost:29092" in services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert services["consumer"]["command"][-1] == "run_consumer"
    # Monitoring: Prometheus scrapes web (every process's metrics, one shared directory) and Pushpin.
    assert "9090:9090" in services["prometheus"]["ports"] and "3000:3000" in services["grafana"]["ports"]
    prometheus = services["prometheus"]["networks"]["default"]["ipv4_address"]
    assert prometheus in services["web"]["environment"]["METRICS_ALLOWED_ADDRESSES"]
    assert services["web"]["environment"]["TRUSTED_PROXY_ADDRESSES"].split(",") == [
        services[name]["networks"]["default"]["ipv4_address"] for name in ("front", "pushpin")]
    assert all("metrics:/var/lib/prepaid-metrics" in services[name]["volumes"]
               for name in ("web", "worker", "beat", "consumer"))


def test_compose_kafka_version_matches_the_devstack_pom():
    pom = (ROOT / "deploy" / "kafka" / "pom.xml").read_text()
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    version = compose["services"]["kafka"]["image"].split(":")[1]
    assert f"<kafka.version>{version}</kafka.version>" in pom
