"""``deploy/compose.yaml`` and ``deploy/k8s/``: parsed and checked against the files they name,
the ports the services listen on and the settings the services read (nothing is started)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from callpulse.settings import unknown_names
from launcher.demo import DemoSettings
from monitor_ui.settings import WallboardSettings
from producers.cli import ProducerSettings
from streams.settings import WorkerSettings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SETTINGS = (WorkerSettings, WallboardSettings, ProducerSettings, DemoSettings)


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return data


def test_compose_has_every_part_of_the_system() -> None:
    services = compose()["services"]
    assert {"kafka", "redis", "worker-1", "worker-2", "wallboard-1", "wallboard-2", "proxy",
            "simulator", "prometheus", "alertmanager", "grafana"} <= set(services)
    kafka = services["kafka"]["environment"]
    assert "controller" in kafka["KAFKA_PROCESS_ROLES"]  # KRaft: no ZooKeeper
    assert "zookeeper" not in services


def test_every_file_compose_names_exists() -> None:
    services = compose()["services"]
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            assert (DEPLOY / source).exists(), (name, source)
        build = service.get("build")
        if build:
            assert (DEPLOY / build["context"] / build["dockerfile"]).exists(), name


def test_compose_settings_are_known_and_ports_agree() -> None:
    services = compose()["services"]
    envs = {name: s.get("environment") or {} for name, s in services.items()}
    for name, env in envs.items():
        if name.startswith(("worker", "wallboard", "simulator")):
            assert unknown_names(env, SETTINGS) == [], name
    # The broker and Redis the services use are the ones compose runs.
    kafka = services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    broker = envs["worker-1"]["CALLPULSE_BROKER_URL"].removeprefix("kafka://")
    assert f"PLAINTEXT://{broker}" == kafka
    assert envs["simulator"]["CALLPULSE_BROKER_URL"] == envs["worker-1"]["CALLPULSE_BROKER_URL"]
    for name in ("worker-1", "wallboard-1"):
        assert envs[name]["CALLPULSE_REDIS_URL"].startswith("redis://redis:6379/")
    # Prometheus scrapes each worker where it listens, and sends to Alertmanager's port.
    prom = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = prom["scrape_configs"][0]["static_configs"][0]["targets"]
    assert sorted(targets) == sorted(f"{n}:{envs[n]['CALLPULSE_METRICS_PORT']}"
                                     for n in ("worker-1", "worker-2"))
    for n in ("worker-1", "worker-2"):
        assert envs[n]["CALLPULSE_METRICS_HOST"] == "0.0.0.0"  # reachable from Prometheus
    alertmanager = prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert alertmanager == [f"alertmanager:{services['alertmanager']['ports'][0].split(':')[1]}"]
    rules_mount = next(v for v in services["prometheus"]["volumes"] if "rules" in v)
    assert rules_mount.split(":")[1] in prom["rule_files"]
    # The proxy sends to each wallboard server on its port.
    nginx = (DEPLOY / "nginx" / "nginx.conf").read_text()
    upstreams = re.findall(r"server (wallboard-\d):(\d+);", nginx)
    assert sorted(upstreams) == [(n, envs[n]["CALLPULSE_WALLBOARD_PORT"])
                                 for n in ("wallboard-1", "wallboard-2")]
    assert envs["wallboard-1"]["CALLPULSE_WALLBOARD_HOST"] == "0.0.0.0"
    assert "Upgrade $http_upgrade" in nginx  # websockets pass the proxy
    # Grafana finds its dashboards where the provisioning file says.
    provider = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "dashboards" /
                               "callpulse.yml").read_text())["providers"][0]
    mounts = dict(v.split(":")[:2] for v in services["grafana"]["volumes"])
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]


def k8s() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    docs = []
    for name in kustomization["resources"]:
        path = DEPLOY / "k8s" / name
        assert path.exists(), name
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    assert len(list((DEPLOY / "k8s").glob("*.yaml"))) == len(kustomization["resources"]) + 1
    return docs


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in k8s() if d["kind"] == kind}


def test_kubernetes_workloads_have_probes_resources_and_their_configuration() -> None:
    config = by_kind("ConfigMap")["callpulse"]["data"]
    secret = by_kind("Secret")["callpulse"]["stringData"]
    assert unknown_names({**config, **secret}, SETTINGS) == []
    deployments = by_kind("Deployment")
    assert set(deployments) == {"callpulse-worker", "callpulse-wallboard"}
    ports = {"callpulse-worker": int(config["CALLPULSE_METRICS_PORT"]),
             "callpulse-wallboard": int(config["CALLPULSE_WALLBOARD_PORT"])}
    for name, d in deployments.items():
        spec = d["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        assert container["args"] == [name.removeprefix("callpulse-")]
        refs = {next(iter(r)): r[next(iter(r))]["name"] for r in container["envFrom"]}
        assert refs == {"configMapRef": "callpulse", "secretRef": "callpulse"}
        (port,) = container["ports"]
        assert port["containerPort"] == ports[name]
        for probe in ("readinessProbe", "livenessProbe"):
            target = container[probe].get("httpGet") or container[probe]["tcpSocket"]
            assert target["port"] == port["name"], (name, probe)
        assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert "memory" in container["resources"]["limits"]
        assert d["spec"]["selector"]["matchLabels"].items() <= \
            d["spec"]["template"]["metadata"]["labels"].items()
    # Both listen beyond the pod's loopback.
    assert config["CALLPULSE_METRICS_HOST"] == config["CALLPULSE_WALLBOARD_HOST"] == "0.0.0.0"
    # A TLS CA file named in the configuration is mounted where it says.
    worker = deployments["callpulse-worker"]["spec"]["template"]["spec"]["containers"][0]
    mounted = [m["mountPath"] for m in worker["volumeMounts"]]
    assert any(config["CALLPULSE_BROKER_SSL_CAFILE"].startswith(p + "/") for p in mounted)


def test_services_and_the_service_monitor_find_the_pods() -> None:
    services = by_kind("Service")
    deployments = by_kind("Deployment")
    for name, service in services.items():
        pod_labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= pod_labels.items()
        container = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        port_names = {p["name"] for p in container["ports"]}
        assert all(p["targetPort"] in port_names for p in service["spec"]["ports"])
    monitor = by_kind("ServiceMonitor")["callpulse-worker"]
    worker = services["callpulse-worker"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= worker["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] in {p["name"] for p in worker["spec"]["ports"]}
    # The job label the operator gives is the Service's name: the one the rules expect.
    rules = (DEPLOY / "prometheus" / "callpulse-rules.yml").read_text()
    assert f'job="{worker["metadata"]["name"]}"' in rules
