"""Checks of the Helm chart with Helm's own library (helm-python-sdk).

Run by scripts/check-deploy inside its virtual environment. For every
scenario in helm/tributary/ci/*-values.yaml: strict lint, values-schema
validation, render, `kubernetes-validate --strict` against several
Kubernetes minor versions, the restricted Pod Security Standard on every
pod template, and a parse of the rendered TOML configuration. Every file in
ci/invalid/ must fail to render with a message containing the key named on
its `# expect-error:` line.

Prints one line per check and exits non-zero when any failed.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path
from typing import Any, Callable

import helm_python as helm
import kubernetes_validate
import yaml

RELEASE = "tributary"
NAMESPACE = "shop"
# Kinds served by operators (KEDA, Prometheus operator, Strimzi): no schema
# ships with kubernetes-validate, so they get a structural check instead.
CUSTOM_KINDS = {
    "ScaledObject": "keda.sh/v1alpha1",
    "TriggerAuthentication": "keda.sh/v1alpha1",
    "ServiceMonitor": "monitoring.coreos.com/v1",
    "PrometheusRule": "monitoring.coreos.com/v1",
    "KafkaTopic": "kafka.strimzi.io/v1beta2",
}
# Top-level sections the tributary binary accepts (PlatformConfig, plus the
# bridge's section when that role is deployed).
CONFIG_SECTIONS = {
    "up", "registry", "service", "gateway", "users", "orders", "inventory",
    "payments", "notifications", "analytics", "bridge",
}


class Report:
    """Collects PASS/FAIL lines; the exit code is the number of failures > 0."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[str] = []

    def check(self, name: str, fn: Callable[[], str | None]) -> Any:
        try:
            detail = fn()
        except Exception as error:  # every failure is reported, none stops the run
            message = str(error).strip().replace("\n", "\n      ")
            self.failed.append(name)
            print(f"  FAIL {name}\n      {message}")
            return None
        self.passed += 1
        print(f"  ok   {name}{' — ' + detail if detail else ''}")
        return True


def load_values(path: Path) -> dict[str, Any]:
    values = yaml.safe_load(path.read_text()) or {}
    if not isinstance(values, dict):
        raise ValueError(f"{path}: values must be a mapping")
    return values


def documents(rendered: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """Every non-empty YAML document of every rendered template (NOTES excluded)."""
    out = []
    for template, text in sorted(rendered.items()):
        if template.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                out.append((template, doc))
    return out


def lint(chart_dir: Path, values: dict[str, Any]) -> str | None:
    report = helm.lint(str(chart_dir), values, strict=True, namespace=NAMESPACE)
    problems = [m for m in report.get("messages", []) if m.get("severity", 0) >= 2]
    errors = report.get("errors") or []
    if problems or errors:
        lines = [f"{m['path']}: {m['error']}" for m in problems] + list(errors)
        raise AssertionError("helm lint --strict:\n" + "\n".join(lines))
    infos = [m["error"] for m in report.get("messages", [])]
    return "; ".join(infos) if infos else None


def kube_validate(docs: list[tuple[str, dict[str, Any]]], versions: list[str]) -> str:
    counted = 0
    for version in versions:
        for template, doc in docs:
            kind = doc.get("kind")
            if kind in CUSTOM_KINDS:
                check_custom(template, doc)
                continue
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                path = "/".join(str(p) for p in error.path)
                raise AssertionError(
                    f"{template} {kind}/{doc['metadata'].get('name')} (k8s {version}) at {path}: "
                    f"{error.message}"
                ) from None
            counted += 1
    custom = sum(1 for _, d in docs if d.get("kind") in CUSTOM_KINDS)
    note = f", {custom} custom resources checked structurally" if custom else ""
    return f"{counted} manifest validations across k8s {', '.join(versions)}{note}"


def check_custom(template: str, doc: dict[str, Any]) -> None:
    kind = doc["kind"]
    if doc.get("apiVersion") != CUSTOM_KINDS[kind]:
        raise AssertionError(f"{template}: {kind} must use {CUSTOM_KINDS[kind]}")
    if not doc.get("metadata", {}).get("name") or not isinstance(doc.get("spec"), dict):
        raise AssertionError(f"{template}: {kind} needs metadata.name and spec")


def pod_specs(docs: list[tuple[str, dict[str, Any]]]):
    for template, doc in docs:
        kind = doc.get("kind")
        if kind in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
            yield template, f"{kind}/{doc['metadata']['name']}", doc["spec"]["template"]["spec"]
        elif kind == "Pod":
            yield template, f"Pod/{doc['metadata']['name']}", doc["spec"]


def restricted(docs: list[tuple[str, dict[str, Any]]]) -> str:
    """The `restricted` Pod Security Standard, plus read-only root file systems."""
    problems: list[str] = []
    checked = 0
    for _template, name, spec in pod_specs(docs):
        checked += 1
        pod_sc = spec.get("securityContext") or {}
        for forbidden in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(forbidden):
                problems.append(f"{name}: {forbidden} must not be set")
        for volume in spec.get("volumes") or []:
            if "hostPath" in volume:
                problems.append(f"{name}: hostPath volume {volume['name']}")
        pod_seccomp = (pod_sc.get("seccompProfile") or {}).get("type")
        for container in (spec.get("initContainers") or []) + spec.get("containers", []):
            cname = f"{name} container {container['name']}"
            sc = container.get("securityContext") or {}
            if sc.get("privileged"):
                problems.append(f"{cname}: privileged")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{cname}: allowPrivilegeEscalation must be false")
            if not (sc.get("runAsNonRoot") or pod_sc.get("runAsNonRoot")):
                problems.append(f"{cname}: runAsNonRoot must be true")
            if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
                problems.append(f"{cname}: runAsUser 0")
            caps = sc.get("capabilities") or {}
            if "ALL" not in (caps.get("drop") or []):
                problems.append(f"{cname}: capabilities.drop must contain ALL")
            if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
                problems.append(f"{cname}: adds capabilities {caps.get('add')}")
            seccomp = (sc.get("seccompProfile") or {}).get("type") or pod_seccomp
            if seccomp not in ("RuntimeDefault", "Localhost"):
                problems.append(f"{cname}: seccompProfile must be RuntimeDefault or Localhost")
            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{cname}: readOnlyRootFilesystem must be true")
            if not container.get("resources"):
                problems.append(f"{cname}: no resources")
            for port in container.get("ports") or []:
                if port.get("hostPort"):
                    problems.append(f"{cname}: hostPort")
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{name}: automountServiceAccountToken must be false")
    if problems:
        raise AssertionError("\n".join(problems))
    if checked == 0:
        raise AssertionError("no pod templates rendered")
    return f"{checked} pod templates"


def config_document(docs: list[tuple[str, dict[str, Any]]]) -> str:
    maps = [d for _, d in docs if d.get("kind") == "ConfigMap" and "tributary.toml" in d.get("data", {})]
    if len(maps) != 1:
        raise AssertionError(f"expected one ConfigMap with tributary.toml, found {len(maps)}")
    config = tomllib.loads(maps[0]["data"]["tributary.toml"])
    unknown = set(config) - CONFIG_SECTIONS
    if unknown:
        raise AssertionError(f"unknown configuration sections: {sorted(unknown)}")
    bus = config["service"]["bus"]
    if not bus.get("bootstrap_servers") or not bus.get("registry_url"):
        raise AssertionError("service.bus needs bootstrap_servers and registry_url")
    return f"sections {', '.join(sorted(config))}"


def scenario_expectations(name: str, docs: list[tuple[str, dict[str, Any]]], values: dict[str, Any]) -> str:
    """Facts each scenario exists to prove."""
    kinds: dict[str, list[dict[str, Any]]] = {}
    for _, doc in docs:
        kinds.setdefault(doc["kind"], []).append(doc)
    deployments = {d["metadata"]["labels"]["app.kubernetes.io/component"] for d in kinds.get("Deployment", [])}
    expected = {"gateway", "users", "orders", "inventory", "payments", "notifications", "analytics"}
    if values.get("registry", {}).get("enabled", True):
        expected.add("registry")
    if values.get("bridge", {}).get("enabled"):
        expected.add("bridge")
    if deployments != expected:
        raise AssertionError(f"deployments {sorted(deployments)} != {sorted(expected)}")
    for doc in kinds.get("Deployment", []) + kinds.get("Service", []) + kinds.get("ConfigMap", []):
        labels = doc["metadata"].get("labels", {})
        for key in ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
                    "app.kubernetes.io/managed-by", "helm.sh/chart"):
            if key not in labels:
                raise AssertionError(f"{doc['kind']}/{doc['metadata']['name']} lacks label {key}")
    partitions = values.get("topics", {}).get("partitions", 12)
    for so in kinds.get("ScaledObject", []):
        if so["spec"]["maxReplicaCount"] > partitions:
            raise AssertionError(f"ScaledObject {so['metadata']['name']} exceeds {partitions} partitions")
    if values.get("autoscaling", {}).get("mode") == "keda" and len(kinds.get("ScaledObject", [])) != 5:
        raise AssertionError("keda mode must give the five consumer services a ScaledObject")
    if values.get("topics", {}).get("provisioner") == "strimzi":
        topic_jobs = [j for j in kinds.get("Job", [])
                      if j["metadata"]["labels"].get("app.kubernetes.io/component") == "topics"]
        if len(kinds.get("KafkaTopic", [])) != 5 or topic_jobs:
            raise AssertionError("strimzi mode must render five KafkaTopics and no topic Job")
    if values.get("serviceMonitor", {}).get("enabled"):
        sm = kinds.get("ServiceMonitor", [{}])[0]
        for key, value in values["serviceMonitor"].get("labels", {}).items():
            if sm.get("metadata", {}).get("labels", {}).get(key) != value:
                raise AssertionError(f"ServiceMonitor lacks label {key}={value}")
    if values.get("networkPolicy", {}).get("enabled") and len(kinds.get("NetworkPolicy", [])) != len(expected):
        raise AssertionError("one NetworkPolicy per component expected")
    secrets = kinds.get("Secret", [])
    if values.get("auth", {}).get("existingSecret") and secrets:
        raise AssertionError("auth.existingSecret set, yet the chart renders a Secret")
    summary = ", ".join(f"{len(v)} {k}" for k, v in sorted(kinds.items()))
    return summary


def leaf_keys(prefix: str, value: Any) -> list[str]:
    """Documented value paths: maps are descended except free-form ones."""
    free = prefix.endswith(("resources", "labels")) or prefix.endswith("config")
    if isinstance(value, dict) and value and not free:
        out: list[str] = []
        for key, inner in value.items():
            out += leaf_keys(f"{prefix}.{key}" if prefix else key, inner)
        return out
    return [prefix]


def readme_documents_values(chart_dir: Path) -> str:
    readme = (chart_dir / "README.md").read_text()
    keys = leaf_keys("", load_values(chart_dir / "values.yaml"))
    missing = [k for k in keys if f"`{k}`" not in readme]
    if missing:
        raise AssertionError(f"README.md values table lacks: {', '.join(missing)}")
    return f"{len(keys)} values documented"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("chart", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="where rendered manifests are written")
    parser.add_argument("--kube-version", action="append", required=True)
    args = parser.parse_args()
    chart_dir: Path = args.chart
    report = Report()
    chart = helm.Chart.load(str(chart_dir))
    print(f"helm SDK {helm.helm_sdk_version()} (helm-python-sdk {helm.__version__}), "
          f"chart {chart.metadata['name']} {chart.metadata['version']}")

    report.check("README.md values table", lambda: readme_documents_values(chart_dir))
    scenarios = sorted((chart_dir / "ci").glob("*-values.yaml"))
    if not scenarios:
        report.failed.append("no ci/*-values.yaml scenarios")
    for path in scenarios:
        name = path.name.removesuffix("-values.yaml")
        print(f"scenario {name}")
        values = load_values(path)
        report.check(f"{name}: helm lint --strict", lambda: lint(chart_dir, values))
        report.check(f"{name}: values.schema.json", lambda: chart.validate_schema(values))
        rendered: dict[str, str] = {}

        def render() -> str:
            rendered.update(chart.render(values=values, name=RELEASE, namespace=NAMESPACE,
                                         is_install=True, revision=1))
            target = args.out / name
            target.mkdir(parents=True, exist_ok=True)
            for old in target.glob("*.yaml"):
                old.unlink()
            for template, text in rendered.items():
                if text.strip() and not template.endswith("NOTES.txt"):
                    (target / template.replace("/", "_")).write_text(text)
            return f"{len(rendered)} templates -> {target}"

        if not report.check(f"{name}: render", render):
            continue
        docs = documents(rendered)
        report.check(f"{name}: kubernetes-validate --strict", lambda: kube_validate(docs, args.kube_version))
        report.check(f"{name}: restricted pod security", lambda: restricted(docs))
        report.check(f"{name}: tributary.toml parses", lambda: config_document(docs))
        report.check(f"{name}: scenario expectations", lambda: scenario_expectations(name, docs, values))

    invalid = sorted((chart_dir / "ci" / "invalid").glob("*.yaml"))
    print("invalid values (each must be rejected naming the key)")
    if len(invalid) < 3:
        report.failed.append("fewer than three negative scenarios")
    for path in invalid:
        first = path.read_text().splitlines()[0]
        if not first.startswith("# expect-error:"):
            report.failed.append(f"{path.name}: first line must be '# expect-error: <key>'")
            continue
        key = first.split(":", 1)[1].strip()
        values = load_values(path)

        def rejected(values: dict[str, Any] = values, key: str = key) -> str:
            try:
                chart.render(values=values, name=RELEASE, namespace=NAMESPACE)
            except helm.HelmError as error:
                message = str(error)
                if key not in message:
                    raise AssertionError(f"rejected, but the message does not name {key!r}:\n{message}") from None
                line = next((l.strip() for l in message.splitlines() if key in l), message)
                return line
            raise AssertionError("rendered without error")

        report.check(f"invalid/{path.name}", rejected)

    print(f"chart checks: {report.passed} passed, {len(report.failed)} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
