"""What the schemas cannot say: hardening, wiring between objects, autoscaling and Kafka consistency.

Each checker returns a list of problems (empty = fine), so a failure names every offending object, and the
negative tests below prove each checker catches what it is meant to catch.
"""

from __future__ import annotations

import base64
import copy
import importlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlmon_common.settings import ServiceSettings
from mlmon_common.topics import by_name

Manifest = dict[str, Any]
K8S = Path(__file__).resolve().parents[3] / "deploy" / "k8s"
SERVICES = ("collector", "drift", "alerting", "maintenance", "reporting")
DRAIN_S = 10  # services stop within 10 s of SIGTERM
#: Secrets an operator creates outside git (prod); every reference to them must be documented here.
EXTERNAL_SECRETS = {"mlmon-secrets", "mlmon-alerting-secrets", "mlmon-kafka-ca"}
COMBOS = {
    "dev": (["overlays/dev"], []),
    "prod": (["overlays/prod"], []),
    "base+hpa+servicemonitor+strimzi": (["base"], ["hpa", "servicemonitor", "strimzi"]),
    "prod+strimzi": (["overlays/prod"], ["strimzi"]),
    "dev+resource-agent": (["overlays/dev"], ["resource-agent"]),
}


@pytest.fixture(scope="module")
def rendered(
    tmp_path_factory: pytest.TempPathFactory, render: Callable[..., list[Manifest]]
) -> dict[str, list[Manifest]]:
    out = {}
    for name, (resources, components) in COMBOS.items():
        tmp = tmp_path_factory.mktemp(name.replace("+", "_"))
        out[name] = render(tmp, [K8S / r for r in resources], [K8S / "components" / c for c in components])
    return out


def of_kind(docs: list[Manifest], kind: str) -> list[Manifest]:
    return [d for d in docs if d["kind"] == kind]


def named(docs: list[Manifest], kind: str, name: str) -> Manifest:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def containers(dep: Manifest) -> list[Manifest]:
    found: list[Manifest] = dep["spec"]["template"]["spec"]["containers"]
    return found


def is_mlmon(dep: Manifest) -> bool:
    return dep["metadata"]["name"].removeprefix("mlmon-") in SERVICES


# --- checkers ---------------------------------------------------------------------------------------


def deployment_problems(dep: Manifest) -> Iterator[str]:
    name, pod = dep["metadata"]["name"], dep["spec"]["template"]["spec"]
    psc = pod.get("securityContext", {})
    if psc.get("runAsNonRoot") is not True or psc.get("runAsUser", 0) == 0:
        yield f"{name}: pod securityContext must set runAsNonRoot and a non-zero runAsUser"
    if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        yield f"{name}: pod seccompProfile must be RuntimeDefault"
    if pod.get("terminationGracePeriodSeconds", 30) <= DRAIN_S:
        yield f"{name}: terminationGracePeriodSeconds must exceed the {DRAIN_S}s drain"
    sidecars = [c["name"] for c in pod.get("initContainers", []) if c.get("restartPolicy") == "Always"]
    for c in pod["containers"] + pod.get("initContainers", []):
        where = f"{name}/{c['name']}"
        for probe in ("livenessProbe", "readinessProbe"):
            if probe not in c and c["name"] not in sidecars:
                yield f"{where}: missing {probe}"
        res = c.get("resources", {})
        for kind in ("requests", "limits"):
            if not {"cpu", "memory"} <= set(res.get(kind, {})):
                yield f"{where}: resources.{kind} must set cpu and memory"
        sc = c.get("securityContext", {})
        if sc.get("allowPrivilegeEscalation") is not False or sc.get("privileged", False):
            yield f"{where}: must set allowPrivilegeEscalation: false and not be privileged"
        if sc.get("readOnlyRootFilesystem") is not True:
            yield f"{where}: readOnlyRootFilesystem must be true"
        if sc.get("capabilities", {}).get("drop") != ["ALL"]:
            yield f"{where}: capabilities must drop ALL"
        if ":" not in c["image"].rsplit("/", 1)[-1] or c["image"].endswith(":latest"):
            yield f"{where}: image {c['image']!r} needs an explicit, non-latest tag"


def mlmon_probe_problems(dep: Manifest) -> Iterator[str]:
    c = containers(dep)[0]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    if ports != {"http": 8080}:
        yield f"{dep['metadata']['name']}: must expose exactly http=8080, got {ports}"
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"), ("startupProbe", "/healthz")):
        got = c.get(probe, {}).get("httpGet", {})
        if got.get("path") != path or got.get("port") != "http":
            yield f"{dep['metadata']['name']}: {probe} must GET {path} on port http, got {got}"


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def wiring_problems(docs: list[Manifest]) -> Iterator[str]:
    deps = of_kind(docs, "Deployment")
    pod_labels = {d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"] for d in deps}
    for svc in of_kind(docs, "Service"):
        hits = [n for n, labels in pod_labels.items() if selects(svc["spec"]["selector"], labels)]
        if len(hits) != 1:
            yield f"Service {svc['metadata']['name']} selects {hits}, expected exactly one Deployment"
    for pdb in of_kind(docs, "PodDisruptionBudget"):
        hits = [n for n, labels in pod_labels.items() if selects(pdb["spec"]["selector"]["matchLabels"], labels)]
        if len(hits) != 1:
            yield f"PodDisruptionBudget {pdb['metadata']['name']} selects {hits}, expected exactly one"
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for dep in deps:
        for ref_kind, ref, optional in references(dep):
            if (ref_kind, ref) not in names and not (ref_kind == "Secret" and ref in EXTERNAL_SECRETS):
                yield f"{dep['metadata']['name']}: {ref_kind} {ref} does not exist (optional={optional})"
        sa = dep["spec"]["template"]["spec"].get("serviceAccountName")
        if sa and ("ServiceAccount", sa) not in names:
            yield f"{dep['metadata']['name']}: ServiceAccount {sa} does not exist"


def references(dep: Manifest) -> Iterator[tuple[str, str, bool]]:
    pod = dep["spec"]["template"]["spec"]
    for v in pod.get("volumes", []):
        if "configMap" in v:
            yield "ConfigMap", v["configMap"]["name"], v["configMap"].get("optional", False)
        if "secret" in v:
            yield "Secret", v["secret"]["secretName"], v["secret"].get("optional", False)
    for c in pod["containers"] + pod.get("initContainers", []):
        for src in c.get("envFrom", []):
            if "configMapRef" in src:
                yield "ConfigMap", src["configMapRef"]["name"], src["configMapRef"].get("optional", False)
        for e in c.get("env", []):
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                yield "Secret", ref["name"], ref.get("optional", False)


def rbac_problems(docs: list[Manifest]) -> Iterator[str]:
    for d in docs:
        if d["kind"] in {"ClusterRole", "ClusterRoleBinding"}:
            yield f"{d['kind']} {d['metadata']['name']}: mlmon needs no cluster-wide permissions"
    for role in of_kind(docs, "Role"):
        for rule in role["rules"]:
            if "*" in rule["verbs"] or "*" in rule["resources"] or "*" in rule["apiGroups"]:
                yield f"Role {role['metadata']['name']}: wildcard in {rule}"
    tokens = [
        d["metadata"]["name"]
        for d in of_kind(docs, "Deployment")
        if d["spec"]["template"]["spec"].get("automountServiceAccountToken", True)
    ]
    if [t for t in tokens if is_mlmon(named(docs, "Deployment", t))] != ["mlmon-maintenance"]:
        yield f"only mlmon-maintenance may mount a ServiceAccount token, got {tokens}"


def autoscaler_targets(docs: list[Manifest]) -> dict[str, list[str]]:
    targets: dict[str, list[str]] = {}
    for d in docs:
        if d["kind"] in {"ScaledObject", "HorizontalPodAutoscaler"}:
            targets.setdefault(d["spec"]["scaleTargetRef"]["name"], []).append(d["kind"])
    return targets


def env_of(docs: list[Manifest], dep: Manifest) -> dict[str, str]:
    """The container's literal environment: envFrom ConfigMaps, then plain ``env`` values."""
    c, env = containers(dep)[0], {}
    for src in c.get("envFrom", []):
        env.update(named(docs, "ConfigMap", src["configMapRef"]["name"])["data"])
    env.update({e["name"]: e["value"] for e in c.get("env", []) if "value" in e})
    return env


def autoscaling_problems(docs: list[Manifest]) -> Iterator[str]:
    for target, kinds in autoscaler_targets(docs).items():
        if len(kinds) > 1:
            yield f"Deployment {target} is scaled by {kinds}: use the keda or the hpa component, not both"
        if "replicas" in named(docs, "Deployment", target)["spec"]:
            yield f"Deployment {target} sets spec.replicas although an autoscaler owns it"
    for so in of_kind(docs, "ScaledObject"):
        dep = named(docs, "Deployment", so["spec"]["scaleTargetRef"]["name"])
        svc = dep["metadata"]["name"].removeprefix("mlmon-")
        env = env_of(docs, dep)
        for trig in so["spec"]["triggers"]:
            meta = trig["metadata"]
            if trig["type"] != "kafka" or meta["consumerGroup"] != f"mlmon-{svc}":
                yield f"ScaledObject {svc}: trigger must be kafka on group mlmon-{svc}, got {meta}"
            if meta.get("bootstrapServersFromEnv") not in env:
                yield f"ScaledObject {svc}: bootstrapServersFromEnv names no env var of the container"
            partitions = by_name(meta["topic"]).partitions  # unknown topic -> ValueError naming it
            if so["spec"]["maxReplicaCount"] > partitions:
                yield f"ScaledObject {svc}: maxReplicaCount above the {partitions} partitions of {meta['topic']}"
    for hpa in of_kind(docs, "HorizontalPodAutoscaler"):
        if hpa["spec"]["maxReplicas"] > 6:
            yield f"HPA {hpa['metadata']['name']}: maxReplicas above the 6 partitions of its input topics"


# --- custom resources (structure) -------------------------------------------------------------------


def crd_problems(docs: list[Manifest]) -> Iterator[str]:
    kafkas = {d["metadata"]["name"]: d for d in of_kind(docs, "Kafka")}
    pools = of_kind(docs, "KafkaNodePool")
    services = of_kind(docs, "Service")
    for d in docs:
        kind, name, spec = d["kind"], d["metadata"]["name"], d.get("spec", {})
        if kind == "ScaledObject":
            if not {"scaleTargetRef", "triggers", "minReplicaCount", "maxReplicaCount"} <= set(spec):
                yield f"ScaledObject {name}: missing required fields"
            elif not 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]:
                yield f"ScaledObject {name}: need 1 <= minReplicaCount <= maxReplicaCount"
            for t in spec.get("triggers", []):
                ref = t.get("authenticationRef", {}).get("name")
                if ref and ref not in {x["metadata"]["name"] for x in of_kind(docs, "TriggerAuthentication")}:
                    yield f"ScaledObject {name}: TriggerAuthentication {ref} does not exist"
        elif kind == "TriggerAuthentication":
            for ref in spec.get("secretTargetRef", []):
                if not {"parameter", "name", "key"} <= set(ref):
                    yield f"TriggerAuthentication {name}: secretTargetRef needs parameter, name, key"
        elif kind == "ServiceMonitor":
            sel = spec["selector"]["matchLabels"]
            ports = {p["name"] for s in services if selects(sel, s["metadata"]["labels"]) for p in s["spec"]["ports"]}
            for ep in spec["endpoints"]:
                if ep["port"] not in ports or ep.get("path") != "/metrics":
                    yield f"ServiceMonitor {name}: endpoint {ep} must scrape /metrics on a port of {sorted(ports)}"
        elif kind == "KafkaTopic":
            cluster = d["metadata"]["labels"].get("strimzi.io/cluster")
            brokers = sum(
                p["spec"]["replicas"]
                for p in pools
                if p["metadata"]["labels"]["strimzi.io/cluster"] == cluster and "broker" in p["spec"]["roles"]
            )
            if cluster not in kafkas:
                yield f"KafkaTopic {name}: no Kafka named {cluster!r}"
            isr = int(spec["config"].get("min.insync.replicas", 1))
            if not 1 <= spec["replicas"] <= brokers or isr > spec["replicas"]:
                yield f"KafkaTopic {name}: replicas {spec['replicas']}, min ISR {isr}, {brokers} brokers"
            if spec["replicas"] > 1 and isr >= spec["replicas"]:
                yield f"KafkaTopic {name}: min.insync.replicas must leave room for one broker down"
        elif kind == "Kafka":
            if d["metadata"].get("annotations", {}).get("strimzi.io/kraft") != "enabled":
                yield f"Kafka {name}: must run in KRaft mode (annotation strimzi.io/kraft: enabled)"
            if "topicOperator" not in spec.get("entityOperator", {}):
                yield f"Kafka {name}: the topic operator must run to apply the KafkaTopics"
        elif kind == "KafkaNodePool" and (
            d["metadata"]["labels"].get("strimzi.io/cluster") not in kafkas or not spec.get("roles")
        ):
            yield f"KafkaNodePool {name}: needs roles and a strimzi.io/cluster label naming a Kafka"


def bootstrap_problems(docs: list[Manifest]) -> Iterator[str]:
    env = named(docs, "ConfigMap", next(c for c in env_configmaps(docs)))["data"]
    for kafka in of_kind(docs, "Kafka"):
        plain = next(x for x in kafka["spec"]["kafka"]["listeners"] if not x["tls"])
        want = f"{kafka['metadata']['name']}-kafka-bootstrap:{plain['port']}"
        if env["MLMON_KAFKA_BOOTSTRAP"] != want:
            yield f"MLMON_KAFKA_BOOTSTRAP is {env['MLMON_KAFKA_BOOTSTRAP']!r}, the Strimzi cluster is {want!r}"


def env_configmaps(docs: list[Manifest]) -> list[str]:
    return [d["metadata"]["name"] for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"].startswith("mlmon-env")]


# --- tests ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("combo", COMBOS)
def test_every_deployment_has_probes_resources_and_a_hardened_security_context(
    rendered: dict[str, list[Manifest]], combo: str
) -> None:
    deps = of_kind(rendered[combo], "Deployment")
    problems = [p for d in deps for p in deployment_problems(d)]
    problems += [p for d in deps if is_mlmon(d) for p in mlmon_probe_problems(d)]
    assert problems == [], "\n".join(problems)
    assert {d["metadata"]["name"] for d in deps if is_mlmon(d)} == {f"mlmon-{s}" for s in SERVICES}


@pytest.mark.parametrize("combo", COMBOS)
def test_objects_are_wired_together(rendered: dict[str, list[Manifest]], combo: str) -> None:
    docs = rendered[combo]
    problems = [*wiring_problems(docs), *rbac_problems(docs), *autoscaling_problems(docs), *crd_problems(docs)]
    problems += list(bootstrap_problems(docs))
    assert problems == [], "\n".join(problems)


def test_checkers_catch_what_they_guard(overlay: Callable[[str], list[Manifest]]) -> None:
    docs = overlay("prod")
    dep = named(docs, "Deployment", "mlmon-drift")
    bad = copy.deepcopy(dep)
    c = containers(bad)[0]
    del c["livenessProbe"]
    c["securityContext"]["readOnlyRootFilesystem"] = False
    c["image"] = "mlmon-drift:latest"
    bad["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 5
    assert list(deployment_problems(bad)) == [
        "mlmon-drift: terminationGracePeriodSeconds must exceed the 10s drain",
        "mlmon-drift/drift: missing livenessProbe",
        "mlmon-drift/drift: readOnlyRootFilesystem must be true",
        "mlmon-drift/drift: image 'mlmon-drift:latest' needs an explicit, non-latest tag",
    ]
    svc = named(docs, "Service", "mlmon-drift")
    svc["spec"]["selector"] = {"app.kubernetes.io/part-of": "mlmon"}
    assert any("Service mlmon-drift selects" in p for p in wiring_problems(docs))


def test_keda_and_hpa_together_are_refused(
    tmp_path: Path, render: Callable[..., list[Manifest]], overlay: Callable[[str], list[Manifest]]
) -> None:
    # kustomize itself refuses: both components remove spec.replicas of the same Deployments
    with pytest.raises(AssertionError, match="Unable to remove nonexistent key: replicas"):
        render(tmp_path, [K8S / "overlays/prod"], [K8S / "components/hpa"])
    # and the checker names the conflict when the objects are combined by other means
    hpas = [d for d in yaml.safe_load_all((K8S / "components/hpa/hpa.yaml").read_text()) if d]
    problems = list(autoscaling_problems(overlay("prod") + hpas))
    assert problems == [
        "Deployment mlmon-collector is scaled by ['ScaledObject', 'HorizontalPodAutoscaler']: "
        "use the keda or the hpa component, not both",
        "Deployment mlmon-drift is scaled by ['ScaledObject', 'HorizontalPodAutoscaler']: "
        "use the keda or the hpa component, not both",
    ]


def test_resource_agent_runs_beside_every_service(tmp_path: Path, render: Callable[..., list[Manifest]]) -> None:
    docs = render(tmp_path, [K8S / "overlays/dev"], [K8S / "components/resource-agent"])
    for dep in of_kind(docs, "Deployment"):
        pod = dep["spec"]["template"]["spec"]
        if not is_mlmon(dep):
            assert "initContainers" not in pod  # not the dev Redis
            continue
        (agent,) = pod["initContainers"]
        assert pod["shareProcessNamespace"] is True
        assert agent["restartPolicy"] == "Always"
        assert agent["image"] == "mlmon-collector:dev"
        assert agent["args"] == ["agent", "--service", "$(POD_SERVICE_NAME)"]
        label = agent["env"][0]["valueFrom"]["fieldRef"]["fieldPath"]
        assert label == "metadata.labels['app.kubernetes.io/name']"
        assert dep["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] in SERVICES


def test_keda_scales_collector_and_drift_on_their_input_topics(overlay: Callable[[str], list[Manifest]]) -> None:
    docs = overlay("prod")
    topics = {
        so["metadata"]["name"]: sorted(t["metadata"]["topic"] for t in so["spec"]["triggers"])
        for so in of_kind(docs, "ScaledObject")
    }
    assert topics == {
        "mlmon-collector": ["mlmon.raw.labels.v1", "mlmon.raw.predictions.v1"],
        "mlmon-drift": ["mlmon.outcomes.v1", "mlmon.predictions.v1"],
    }
    for so in of_kind(docs, "ScaledObject"):
        assert so["spec"]["minReplicaCount"] == 2
        assert all(t["authenticationRef"] == {"name": "mlmon-kafka"} for t in so["spec"]["triggers"])
        assert all(t["metadata"]["sasl"] == "scram_sha512" for t in so["spec"]["triggers"])


def test_maintenance_may_run_jobs_and_scale_in_its_namespace_only(
    overlay: Callable[[str], list[Manifest]],
) -> None:
    docs = overlay("prod")
    role = named(docs, "Role", "mlmon-maintenance")
    grants = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert {
        ("batch", "jobs", "create"),
        ("apps", "deployments/scale", "patch"),
        ("apps", "deployments", "patch"),
    } <= grants
    binding = named(docs, "RoleBinding", "mlmon-maintenance")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "mlmon-maintenance"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "mlmon-maintenance", "namespace": "mlmon"}]


def test_network_policies_deny_by_default_and_open_only_http(overlay: Callable[[str], list[Manifest]]) -> None:
    docs = overlay("prod")
    deny = named(docs, "NetworkPolicy", "mlmon-default-deny")["spec"]
    assert deny["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny
    assert "egress" not in deny
    for name in ("mlmon-allow-http", "mlmon-allow-edge"):
        rules = named(docs, "NetworkPolicy", name)["spec"]["ingress"]
        assert [p["port"] for r in rules for p in r["ports"]] == ["http"]
    edge = {
        d["metadata"]["name"]
        for d in of_kind(docs, "Deployment")
        if d["spec"]["template"]["metadata"]["labels"].get("mlmon.io/edge") == "true"
    }
    assert edge == {"mlmon-collector", "mlmon-alerting", "mlmon-reporting"}


def test_prod_commits_no_secret_and_pins_images(overlay: Callable[[str], list[Manifest]]) -> None:
    docs = overlay("prod")
    assert of_kind(docs, "Secret") == []
    for dep in of_kind(docs, "Deployment"):
        image = containers(dep)[0]["image"]
        assert image.startswith("registry.example.com/mlmon/mlmon-"), image
        assert image.endswith(":0.1.0"), image


def test_dev_is_self_contained(overlay: Callable[[str], list[Manifest]]) -> None:
    docs = overlay("dev")
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    missing = {
        (kind, ref)
        for dep in of_kind(docs, "Deployment")
        for kind, ref, optional in references(dep)
        if not optional and (kind, ref) not in names
    }
    assert missing == set()
    assert {containers(d)[0]["image"] for d in of_kind(docs, "Deployment") if is_mlmon(d)} == {
        f"mlmon-{s}:dev" for s in SERVICES
    }
    assert {t["spec"]["replicas"] for t in of_kind(docs, "KafkaTopic")} == {1}


# --- agreement with the code's settings and config ---------------------------------------------------


def pod_environment(docs: list[Manifest], dep: Manifest, fake_secret: str) -> dict[str, str]:
    env = env_of(docs, dep)
    secrets = {d["metadata"]["name"]: d.get("data", {}) for d in of_kind(docs, "Secret")}
    for e in containers(dep)[0].get("env", []):
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        if not ref:
            continue
        if ref["name"] in secrets and ref["key"] in secrets[ref["name"]]:
            env[e["name"]] = base64.b64decode(secrets[ref["name"]][ref["key"]]).decode()
        elif not ref.get("optional", False):
            env[e["name"]] = fake_secret
    return env


@pytest.mark.parametrize("name", ["dev", "prod"])
@pytest.mark.parametrize("service", SERVICES)
def test_pod_environment_is_accepted_by_the_service_settings(
    overlay: Callable[[str], list[Manifest]],
    monkeypatch: pytest.MonkeyPatch,
    settings_for: Callable[[str], type[ServiceSettings]],
    known_setting: Callable[[str, str], bool],
    name: str,
    service: str,
) -> None:
    docs = overlay(name)
    dep = named(docs, "Deployment", f"mlmon-{service}")
    env = pod_environment(docs, dep, fake_secret="redis://prod-redis:6379/0" + "x" * 8)
    for key in [k for k in os.environ if k.startswith("MLMON_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = settings_for(service)()
    assert settings.env == name
    assert (settings.http.host, settings.http.port) == ("0.0.0.0", 8080)
    config_mount = next(m for m in containers(dep)[0]["volumeMounts"] if m["name"] == "config")
    assert str(settings.config) == f"{config_mount['mountPath']}/config.yml"
    unknown = [k for k in env if k.startswith("MLMON_") and not known_setting(k, service)]
    assert unknown == [], f"env vars no settings field reads: {unknown}"
    if name == "prod":
        assert settings.kafka.security_protocol == "SASL_SSL"
        assert settings.kafka.ssl_ca_location == "/etc/mlmon-kafka-ca/ca.crt"
        assert "/etc/mlmon-kafka-ca" in {m["mountPath"] for m in containers(dep)[0]["volumeMounts"]}


def test_known_setting_mapping(known_setting: Callable[[str, str], bool]) -> None:
    assert known_setting("MLMON_KAFKA_SASL_USERNAME", "drift")
    assert known_setting("MLMON_API_KEY", "drift")
    assert known_setting("MLMON_ALERTING_SMTP_PASSWORD", "alerting")
    assert not known_setting("MLMON_ALERTING_SMTP_PASSWORD", "drift")
    assert not known_setting("MLMON_KAFKA_BOOTSTRAP_SERVERS", "drift")


def test_config_map_validates_against_every_service_config(overlay: Callable[[str], list[Manifest]]) -> None:
    docs = overlay("prod")
    cm = next(d for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"].startswith("mlmon-config"))
    text = cm["data"]["mlmon.yml"]
    raw = yaml.safe_load(text)
    assert set(raw) == set(SERVICES)
    for service in SERVICES:
        module = importlib.import_module(f"mlmon_{service}.config")
        if hasattr(module, "parse_config"):
            module.parse_config(text, source="mlmon.yml", env={})
        else:
            getattr(module, f"{service.capitalize()}Config").model_validate(raw[service])
