"""The Helm chart: lint, render a matrix of values, validate against Kubernetes schemas,
refuse bad values, grant exactly the RBAC the code declares, and install on the emulated cluster."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import kubernetes_validate.utils
import pytest
import yaml
from agentcore_operator.manager.permissions import PERMISSIONS
from agentcore_operator.manager.settings import Settings, parse_settings

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "agentcore-operator"
HELM = REPO / ".tools" / "bin" / "helm"
# The chart's kubeVersion floor, the kubectl we test with, and the newest schema kubernetes-validate ships.
KUBERNETES_VERSIONS = ("1.28.0", "1.34.0", kubernetes_validate.utils.latest_version())
NAMESPACE = "agentcore-system"

MATRIX: dict[str, list[str]] = {
    "defaults": [],
    "namespaced": ["--set", "watchNamespaces={team-a,team-b}"],
    "irsa": ["--set", "serviceAccount.roleArn=arn:aws:iam::123456789012:role/agentcore-operator"],
    "monitoring": [
        "--set",
        "metrics.serviceMonitor.enabled=true",
        "--set",
        "metrics.serviceMonitor.labels.release=prom",
    ],
    "pdb": ["--set", "podDisruptionBudget.minAvailable=50%", "--set", "podAntiAffinity=hard"],
    "single-replica": [
        "--set",
        "replicas=1",
        "--set",
        "leaderElection.enabled=false",
        "--set",
        "terminationGracePeriodSeconds=60",
    ],
    "election-tuned": [
        "--set",
        "replicas=3",
        "--set",
        "leaderElection.leaseDurationSeconds=30",
        "--set",
        "leaderElection.renewDeadlineSeconds=20",
        "--set",
        "leaderElection.retryPeriodSeconds=4",
        "--set",
        "podAntiAffinity=none",
    ],
    "endpoint-and-limits": [
        "--set",
        "aws.region=eu-west-1",
        "--set",
        "aws.endpointUrl=https://vpce-0abc.bedrock-agentcore.eu-west-1.vpce.amazonaws.com",
        "--set",
        "rateLimits.StartCodeInterpreterSession=20",
        "--set",
        "rateLimits.GetCodeInterpreterSession=25",
    ],
    "scheduling": [
        "--set",
        "nodeSelector.kubernetes\\.io/os=linux",
        "--set",
        "priorityClassName=system-cluster-critical",
        "--set",
        "tolerations[0].key=dedicated",
        "--set",
        "tolerations[0].operator=Exists",
        "--set-json",
        'affinity={"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"arch","operator":"In","values":["amd64"]}]}]}}}',
    ],
    "pull-secrets-env": [
        "--set",
        "imagePullSecrets[0].name=regcred",
        "--set",
        "extraEnv[0].name=HTTPS_PROXY",
        "--set",
        "extraEnv[0].value=http://proxy:3128",
        "--set",
        "log.format=text",
        "--set",
        "log.level=debug",
    ],
    "no-sa": ["--set", "serviceAccount.create=false", "--set", "serviceAccount.name=existing"],
    "admission-policy": [
        "--set",
        "admissionPolicy.enabled=true",
        "--set",
        "admissionPolicy.validationActions={Warn,Audit}",
    ],
    "credentials-secret-and-volumes": [
        "--set",
        "aws.credentials.secretName=agentcore-aws",
        "--set",
        "aws.credentials.profile=operator",
        "--set-json",
        'extraVolumes=[{"name":"ca","configMap":{"name":"corporate-ca"}}]',
        "--set-json",
        'extraVolumeMounts=[{"name":"ca","mountPath":"/etc/corporate-ca","readOnly":true}]',
        "--set",
        "extraEnv[0].name=AWS_CA_BUNDLE",
        "--set",
        "extraEnv[0].value=/etc/corporate-ca/ca.pem",
    ],
    "digest-nodeport-tuning": [
        "--set",
        f"image.digest=sha256:{'0123456789abcdef' * 4}",
        "--set",
        "metrics.service.type=NodePort",
        "--set",
        "metrics.port=9090",
        "--set",
        "sweepIntervalSeconds=30",
        "--set",
        "orphanSweepIntervalSeconds=0",
        "--set",
        "maxWorkers=32",
        "--set",
        "kubeHttpClient=aiohttp",
        "--set",
        "awsHttpClient=urllib3",
        "--set",
        "awsCalls=botocore",
    ],
}


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    assert HELM.exists(), f"{HELM} is missing: run `make tools`"
    result = subprocess.run([str(HELM), *args], capture_output=True, text=True, timeout=60)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def render(*values: str) -> list[dict[str, Any]]:
    output = helm(
        "template", "agentcore-operator", str(CHART), "--namespace", NAMESPACE, "--include-crds", *values
    ).stdout
    return [doc for doc in yaml.safe_load_all(output) if doc]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {name: render(*values) for name, values in MATRIX.items()}


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


@pytest.mark.parametrize("case", MATRIX)
def test_lint_strict(case: str) -> None:
    helm("lint", "--strict", str(CHART), *MATRIX[case])


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_validates_against_the_kubernetes_schema(
    rendered: dict[str, list[dict[str, Any]]], version: str
) -> None:
    assert version in kubernetes_validate.utils.all_versions(), (
        f"kubernetes-validate has no {version} schemas"
    )
    checked = 0
    for case, docs in rendered.items():
        for doc in docs:
            if doc["kind"] == "ServiceMonitor":
                continue  # a CRD of the Prometheus operator: not in the Kubernetes schemas
            if doc["kind"].startswith("ValidatingAdmissionPolicy") and version < "1.30":
                continue  # admissionregistration.k8s.io/v1 from 1.30 on; the template refuses older clusters
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                pytest.fail(
                    f"{case}: {doc['kind']}/{doc['metadata']['name']} invalid for {version}: {error.message}"
                )
            checked += 1
    assert checked > 50


def test_values_change_what_they_should(rendered: dict[str, list[dict[str, Any]]]) -> None:
    def container(case: str) -> dict[str, Any]:
        (deployment,) = of_kind(rendered[case], "Deployment")
        return dict(deployment["spec"]["template"]["spec"]["containers"][0])

    def env(case: str) -> dict[str, Any]:
        return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(case)["env"]}

    assert env("namespaced")["AGENTCORE_WATCH_NAMESPACES"] == "team-a,team-b"
    assert "AGENTCORE_WATCH_NAMESPACES" not in env("defaults")
    assert env("defaults")["POD_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    limits = env("endpoint-and-limits")
    assert limits["AWS_REGION"] == "eu-west-1" and limits["AGENTCORE_ENDPOINT_URL"].startswith(
        "https://vpce-"
    )
    assert set(limits["AGENTCORE_TPS"].split(",")) == {
        "StartCodeInterpreterSession=20",
        "GetCodeInterpreterSession=25",
    }
    assert not of_kind(rendered["defaults"], "ValidatingAdmissionPolicy")
    (policy,) = of_kind(rendered["admission-policy"], "ValidatingAdmissionPolicy")
    (policy_binding,) = of_kind(rendered["admission-policy"], "ValidatingAdmissionPolicyBinding")
    assert policy_binding["spec"]["validationActions"] == ["Warn", "Audit"]
    assert policy_binding["spec"]["policyName"] == policy["metadata"]["name"]
    assert env("pull-secrets-env")["HTTPS_PROXY"] == "http://proxy:3128"
    assert env("pull-secrets-env")["AGENTCORE_LOG_FORMAT"] == "text"
    assert env("defaults")["AGENTCORE_KUBE_HTTP_CLIENT"] == "builtin"
    assert env("digest-nodeport-tuning")["AGENTCORE_KUBE_HTTP_CLIENT"] == "aiohttp"
    (account,) = of_kind(rendered["irsa"], "ServiceAccount")
    assert account["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/agentcore-operator"
    }
    (plain,) = of_kind(rendered["defaults"], "ServiceAccount")
    assert "annotations" not in plain["metadata"]  # EKS Pod Identity needs nothing on the account
    assert of_kind(rendered["no-sa"], "ServiceAccount") == []
    assert of_kind(rendered["monitoring"], "ServiceMonitor")[0]["metadata"]["labels"]["release"] == "prom"
    assert of_kind(rendered["pdb"], "PodDisruptionBudget")[0]["spec"]["minAvailable"] == "50%"
    assert of_kind(rendered["single-replica"], "PodDisruptionBudget") == []  # it would block every drain
    pod = of_kind(rendered["scheduling"], "Deployment")[0]["spec"]["template"]["spec"]
    assert pod["priorityClassName"] == "system-cluster-critical" and pod["nodeSelector"] == {
        "kubernetes.io/os": "linux"
    }
    assert pod["tolerations"] and pod["affinity"]["nodeAffinity"]
    assert of_kind(rendered["pull-secrets-env"], "Deployment")[0]["spec"]["template"]["spec"][
        "imagePullSecrets"
    ] == [{"name": "regcred"}]
    credentials = env("credentials-secret-and-volumes")
    assert credentials["AWS_SHARED_CREDENTIALS_FILE"] == "/var/run/secrets/aws/credentials"
    assert credentials["AWS_PROFILE"] == "operator"
    pod = of_kind(rendered["credentials-secret-and-volumes"], "Deployment")[0]["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["aws-credentials"]["secret"]["secretName"] == "agentcore-aws"
    assert volumes["aws-credentials"]["secret"]["items"] == [{"key": "credentials", "path": "credentials"}]
    assert volumes["ca"] == {"name": "ca", "configMap": {"name": "corporate-ca"}}
    mounts = {m["name"]: m for m in container("credentials-secret-and-volumes")["volumeMounts"]}
    assert mounts["aws-credentials"] == {
        "name": "aws-credentials",
        "mountPath": "/var/run/secrets/aws",
        "readOnly": True,
    }
    assert mounts["ca"]["mountPath"] == "/etc/corporate-ca"
    assert "AWS_SHARED_CREDENTIALS_FILE" not in env("defaults")
    digest = container("digest-nodeport-tuning")["image"]
    assert digest == f"ghcr.io/agentcore-operator/agentcore-operator@sha256:{'0123456789abcdef' * 4}"
    assert container("defaults")["image"].endswith(":" + chart_metadata()["appVersion"])
    (service,) = of_kind(rendered["digest-nodeport-tuning"], "Service")
    assert service["spec"]["type"] == "NodePort" and service["spec"]["ports"][0]["port"] == 9090


def test_every_chart_setting_reaches_the_operator_as_it_parses_it(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    """The container's environment, as the kubelet would fill it in, goes through the operator's own
    settings parser: a renamed variable or a value the parser refuses fails here, not in a crash loop."""

    def settings(case: str) -> Settings:
        (deployment,) = of_kind(rendered[case], "Deployment")
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        env: dict[str, str] = {"AWS_REGION": "us-east-1"}  # what the IRSA webhook injects, unless set
        for variable in container["env"]:
            if "value" in variable:
                env[variable["name"]] = variable["value"]
            elif variable["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}:
                env[variable["name"]] = f"{deployment['metadata']['name']}-5d9c8b7f6-x2x4q"
            else:
                assert variable["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}, variable
                env[variable["name"]] = deployment["metadata"]["namespace"]
        parsed = parse_settings(list(container.get("args", [])), env)
        (port,) = container["ports"]
        assert parsed.http_port == port["containerPort"] and port["name"] == "http"
        assert parsed.http_host == "0.0.0.0"  # the kubelet's probes come from outside the pod
        assert parsed.ledger_namespace == NAMESPACE  # the ledger Role lives in the release namespace
        return parsed

    defaults = settings("defaults")
    assert (defaults.region, defaults.namespaces, defaults.endpoint_url) == ("us-east-1", (), None)
    assert (defaults.log_level, defaults.log_format, defaults.tps) == ("info", "json", {})
    assert settings("namespaced").namespaces == ("team-a", "team-b")
    limits = settings("endpoint-and-limits")
    assert limits.region == "eu-west-1"
    assert limits.endpoint_url == "https://vpce-0abc.bedrock-agentcore.eu-west-1.vpce.amazonaws.com"
    assert limits.tps == {"StartCodeInterpreterSession": 20.0, "GetCodeInterpreterSession": 25.0}
    debug = settings("pull-secrets-env")
    assert (debug.log_level, debug.log_format) == ("debug", "text")
    tuned = settings("digest-nodeport-tuning")
    assert (tuned.http_port, tuned.sweep_interval, tuned.orphan_sweep_interval, tuned.max_workers) == (
        9090,
        30.0,
        0.0,
        32,
    )
    assert (defaults.aws_http_client, tuned.aws_http_client) == ("builtin", "urllib3")
    assert (defaults.aws_calls, tuned.aws_calls) == ("direct", "botocore")
    assert defaults.leader_elect and defaults.lease_namespace == NAMESPACE  # where the Lease Role is
    assert defaults.leader_election_id == "agentcore-operator"
    assert defaults.identity == "agentcore-operator-5d9c8b7f6-x2x4q"  # the pod's name
    assert (defaults.election.lease_duration, defaults.election.renew_deadline) == (15.0, 10.0)
    assert defaults.election.retry_period == 2.0
    assert not settings("single-replica").leader_elect
    tuned_election = settings("election-tuned").election
    assert (tuned_election.lease_duration, tuned_election.renew_deadline, tuned_election.retry_period) == (
        30.0,
        20.0,
        4.0,
    )
    for case in MATRIX:
        settings(case)


def test_one_replica_without_election_is_replaced_not_rolled(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    (deployment,) = of_kind(rendered["single-replica"], "Deployment")
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]["spec"]
    assert "affinity" not in pod and pod["terminationGracePeriodSeconds"] == 60
    hard = of_kind(rendered["pdb"], "Deployment")[0]["spec"]["template"]["spec"]["affinity"][
        "podAntiAffinity"
    ]
    assert list(hard) == ["requiredDuringSchedulingIgnoredDuringExecution"]
    assert "affinity" not in of_kind(rendered["election-tuned"], "Deployment")[0]["spec"]["template"]["spec"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["--set", "leaderElection.enabled=false"], "replicas > 1 needs leaderElection.enabled=true"),
        (["--set", "leaderElection.renewDeadlineSeconds=15"], "leaseDurationSeconds > renewDeadlineSeconds"),
        (["--set", "leaderElection.retryPeriodSeconds=9"], "1.2 x retryPeriodSeconds"),
    ],
)
def test_unsafe_election_settings_fail_with_a_clear_message(values: list[str], message: str) -> None:
    result = helm("template", "x", str(CHART), *values, check=False)
    assert result.returncode != 0 and message in result.stderr


def test_deployment_is_hardened(rendered: dict[str, list[dict[str, Any]]]) -> None:
    (deployment,) = of_kind(rendered["defaults"], "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    pod = spec["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 30
    preferred = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert preferred[0]["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert preferred[0]["podAffinityTerm"]["labelSelector"]["matchLabels"] == spec["selector"]["matchLabels"]
    (budget,) = of_kind(rendered["defaults"], "PodDisruptionBudget")
    assert budget["spec"]["minAvailable"] == 1 and budget["spec"]["selector"] == spec["selector"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["runAsNonRoot"] is True and security["runAsUser"] == pod["securityContext"]["runAsUser"]
    dockerfile = (REPO / "Dockerfile").read_text()
    (user,) = re.findall(r"(?m)^USER (\d+):(\d+)$", dockerfile)
    assert (security["runAsUser"], security["runAsGroup"]) == tuple(map(int, user))  # the image's USER
    assert re.search(rf"(?m)^EXPOSE {VALUES['metrics']['port']}$", dockerfile)
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert {"name": "tmp", "emptyDir": {}} in pod["volumes"]
    assert pod["serviceAccountName"] == "agentcore-operator"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert container["resources"]["limits"]["memory"]


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        (["--set", "replicaCount=2"], "replicaCount"),
        (["--set", "maxWorkers=lots"], "maxWorkers"),
        (["--set", "kubeHttpClient=requests"], "/kubeHttpClient"),
        (["--set", "awsHttpClient=curl"], "awsHttpClient"),
        (["--set", "awsCalls=raw"], "awsCalls"),
        (["--set", "log.level=verbose"], "/log/level"),
        (["--set", "aws.region=Mars"], "/aws/region"),
        (["--set", "rateLimits.InvokeCodeInterpreter=5"], "InvokeCodeInterpreter"),
        (["--set", "serviceAccount.roleArn=role/x"], "roleArn"),
        (["--set", "watchNamespaces={Team_A}"], "watchNamespaces"),
        (["--set", "rbac.create=maybe"], "/rbac/create"),
        (["--set", "image.registry=ghcr.io"], "registry"),
        (["--set", "image.digest=sha256:abc"], "/image/digest"),
        (["--set", "replicas=0"], "/replicas"),
        (["--set", "leaderElection.enabled=maybe"], "/leaderElection/enabled"),
        (["--set", "leaderElection.leaseName=x"], "leaseName"),
        (["--set", "podAntiAffinity=always"], "/podAntiAffinity"),
        (["--set", "terminationGracePeriodSeconds=0"], "/terminationGracePeriodSeconds"),
        (["--set", "aws.credentials.secretKey=a/b"], "/aws/credentials/secretKey"),
        (["--set", "aws.endpoint_url=http://x"], "endpoint_url"),
        (["--set", "metrics.service.type=LoadBalancer"], "/metrics/service/type"),
        (["--set-json", 'extraVolumeMounts=[{"name":"ca"}]'], "mountPath"),
        (["--set", "podDisruptionBudget.minAvailable=-1"], "/podDisruptionBudget/minAvailable"),
        (["--set", "podDisruptionBudget.maxUnavailable=1"], "maxUnavailable"),
        (["--set", "metrics.port=http"], "/metrics/port"),
        (["--set", "resources.limits.gpu=1"], "gpu"),
        (["--set-json", 'extraEnv=[{"name":"A","value":1}]'], "/extraEnv/0/value"),
        (["--set-json", 'tolerations=[{"operator":"Maybe"}]'], "/tolerations/0/operator"),
    ],
)
def test_invalid_values_fail_with_a_clear_message(values: list[str], fragment: str) -> None:
    result = helm("template", "x", str(CHART), *values, check=False)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr
    assert fragment in result.stderr


# -- RBAC: exactly what the code declares --------------------------------------------------


Rule = tuple[str, str, str]  # (api group, resource, verb)


def declared(scope: str, *, without: str | None = None) -> set[Rule]:
    """The rules of one scope; `without` leaves out those that the named chart value turns on."""
    return {
        (p.api_group, resource, verb)
        for p in PERMISSIONS
        if p.scope == scope and (without is None or p.only_with != without)
        for resource in p.resources
        for verb in p.verbs
    }


def granted(role: dict[str, Any]) -> set[Rule]:
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def bound(docs: list[dict[str, Any]], role: dict[str, Any]) -> bool:
    binding_kind = "ClusterRoleBinding" if role["kind"] == "ClusterRole" else "RoleBinding"
    return any(
        b["roleRef"]["name"] == role["metadata"]["name"]
        and b["metadata"].get("namespace") == role["metadata"].get("namespace")
        for b in of_kind(docs, binding_kind)
    )


def rbac_by_place(docs: list[dict[str, Any]]) -> Iterator[tuple[str, set[Rule]]]:
    for role in of_kind(docs, "ClusterRole") + of_kind(docs, "Role"):
        assert bound(docs, role), f"{role['kind']} {role['metadata']['name']} is not bound"
        yield role["metadata"].get("namespace", "<cluster>"), granted(role)


def test_rbac_is_exactly_the_declared_permissions_cluster_wide(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    places: dict[str, set[Rule]] = {}
    for place, rules in rbac_by_place(rendered["defaults"]):
        places.setdefault(place, set()).update(rules)
    assert places == {
        "<cluster>": declared("cluster") | declared("watched"),
        NAMESPACE: declared("operator-namespace"),
    }
    assert ("coordination.k8s.io", "leases", "update") in places[NAMESPACE]


def test_without_leader_election_the_lease_rules_are_not_granted(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    places: dict[str, set[Rule]] = {}
    for place, rules in rbac_by_place(rendered["single-replica"]):
        places.setdefault(place, set()).update(rules)
    assert places[NAMESPACE] == declared("operator-namespace", without="leaderElection.enabled")


def test_rbac_is_exactly_the_declared_permissions_per_namespace(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    places: dict[str, set[Rule]] = {}
    for place, rules in rbac_by_place(rendered["namespaced"]):
        places.setdefault(place, set()).update(rules)
    assert places == {
        "<cluster>": declared("cluster"),
        NAMESPACE: declared("operator-namespace"),
        "team-a": declared("watched"),
        "team-b": declared("watched"),
    }


def test_no_wildcards_anywhere(rendered: dict[str, list[dict[str, Any]]]) -> None:
    for docs in rendered.values():
        for _, rules in rbac_by_place(docs):
            assert not [rule for rule in rules if "*" in rule]


# -- CRDs, versions -------------------------------------------------------------------------------


def test_chart_crds_are_the_top_level_crds() -> None:
    top = sorted(p.name for p in (REPO / "crds").glob("*.yaml"))
    assert top == sorted(p.name for p in (CHART / "crds").glob("*.yaml"))
    for name in top:
        assert (REPO / "crds" / name).read_bytes() == (CHART / "crds" / name).read_bytes(), name


def chart_metadata() -> dict[str, Any]:
    return dict(yaml.safe_load((CHART / "Chart.yaml").read_text()))


def test_chart_app_version_is_the_package_version() -> None:
    chart = chart_metadata()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert chart["apiVersion"] == "v2"
    assert chart["appVersion"] == project["version"]


# -- values: schema, defaults and docs agree ----------------------------------------------------


def leaf_paths(values: dict[str, Any], prefix: str = "") -> set[str]:
    """Dotted paths of every default in values.yaml (empty maps and lists count as leaves)."""
    paths: set[str] = set()
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            paths |= leaf_paths(value, path + ".")
        else:
            paths.add(path)
    return paths


def schema_paths(schema: dict[str, Any], prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for key, sub in schema.get("properties", {}).items():
        path = f"{prefix}{key}"
        if sub.get("type") == "object" and sub.get("additionalProperties") is False:
            paths |= schema_paths(sub, path + ".")
        else:
            paths.add(path)
    return paths


VALUES: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
SCHEMA: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())


def test_values_yaml_has_a_default_for_every_schema_key_and_nothing_else() -> None:
    defaults, declared = leaf_paths(VALUES), schema_paths(SCHEMA)
    # rateLimits and resources are closed maps whose keys are all optional (the default is {} or partial).
    assert defaults - declared == {"rateLimits"}
    missing = {p for p in declared - defaults if not p.startswith(("rateLimits.", "resources."))}
    assert not missing, f"values.yaml has no default for {sorted(missing)}"
    assert SCHEMA["additionalProperties"] is False


def test_install_docs_list_every_value() -> None:
    section = (REPO / "docs" / "install.md").read_text().split("\n## Values\n", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([^`]+)` \|", section, re.M))
    expected = {p for p in leaf_paths(VALUES) if not p.startswith("resources.")} | {"resources"}
    assert expected - documented == set(), "add these to the values table in docs/install.md"
    assert documented - expected == set(), "the values table in docs/install.md names unknown keys"


@pytest.mark.parametrize("case", ["defaults", "namespaced", "irsa", "credentials-secret-and-volumes"])
def test_notes_render(case: str) -> None:
    result = helm(
        "install",
        "agentcore-operator",
        str(CHART),
        "--namespace",
        NAMESPACE,
        "--dry-run=client",
        *MATRIX[case],
    )
    notes = result.stdout.split("NOTES:", 1)[1]
    assert "watches " + ("team-a, team-b" if case == "namespaced" else "all namespaces") in notes
    assert ("No IAM role set" in notes) == (case in ("defaults", "namespaced"))


# -- installs on a cluster -----------------------------------------------------------------------


def test_rendered_chart_is_accepted_by_the_emulated_cluster(tmp_path: Path) -> None:
    """The real kubectl applies every rendered object (CRD included), all-namespaces and namespaced."""
    from agentcore_operator.local.cluster.testing import running_cluster

    variants = {
        "all-namespaces": [
            "--include-crds",
            "--set",
            "podDisruptionBudget.enabled=true",
            *MATRIX["credentials-secret-and-volumes"],
            *MATRIX["scheduling"],
        ],
        "namespaced": [
            "--set",
            "watchNamespaces={team-a,team-b}",
            "--set",
            "metrics.serviceMonitor.enabled=true",
            "--set",
            "fullnameOverride=scoped",
        ],
    }
    with running_cluster() as cluster:
        for namespace in (NAMESPACE, "team-a", "team-b"):
            cluster.kubectl("create", "namespace", namespace)
        for variant, values in variants.items():
            output = helm(
                "template", "agentcore-operator", str(CHART), "--namespace", NAMESPACE, *values
            ).stdout
            manifest = tmp_path / f"{variant}.yaml"
            manifest.write_text(output)
            docs = [doc for doc in yaml.safe_load_all(output) if doc]
            # Every namespaced object names its namespace (the Roles live in the watched ones), so no -n.
            applied = cluster.kubectl("apply", "-f", str(manifest)).stdout.splitlines()
            assert len(applied) == len(docs), (variant, applied)
            assert all(line.endswith((" created", " configured", " unchanged")) for line in applied), applied
            name = "agentcore-operator" if variant == "all-namespaces" else "scoped"
            deployment = cluster.get("deployments", NAMESPACE, name, group="apps", version="v1")
            assert deployment is not None and deployment["spec"]["strategy"]["type"] == "RollingUpdate"
            assert deployment["spec"]["replicas"] == 2
        listed = cluster.kubectl("get", "roles", "-A", "-o", "name").stdout.split()
        assert listed.count("role.rbac.authorization.k8s.io/scoped-sessions") == 2


def test_helm_installs_upgrades_rolls_back_and_uninstalls_on_the_emulated_cluster(tmp_path: Path) -> None:
    """The Helm path the README promises, with the real helm: its release records are Secrets it
    sends in protobuf, its chart objects go by server-side apply."""
    from agentcore_operator.local.cluster.testing import running_cluster

    release, deployment = "agentcore", "agentcore-agentcore-operator"
    with running_cluster() as cluster:
        homes = {f"HELM_{kind}_HOME": str(tmp_path / kind.lower()) for kind in ("CACHE", "CONFIG", "DATA")}
        env = {**cluster.tool_env(), **homes}

        def helm_on_cluster(*args: str) -> str:
            result = subprocess.run(
                [str(HELM), *args, "--namespace", NAMESPACE],
                capture_output=True,
                text=True,
                env=env,
                timeout=60,
            )
            assert result.returncode == 0, result.stderr
            return result.stdout

        def releases() -> list[dict[str, Any]]:
            return json.loads(helm_on_cluster("list", "--output", "json"))  # type: ignore[no-any-return]

        def log_level() -> str:
            env_vars = cluster.kubectl(
                "get",
                "deployment",
                deployment,
                "-n",
                NAMESPACE,
                "-o",
                "jsonpath={.spec.template.spec.containers[0].env}",
            ).stdout
            return {e["name"]: e.get("value") for e in json.loads(env_vars)}["AGENTCORE_LOG_LEVEL"]  # type: ignore[no-any-return]

        assert "STATUS: deployed" in helm_on_cluster("install", release, str(CHART), "--create-namespace")
        assert [(r["name"], r["revision"], r["status"]) for r in releases()] == [(release, "1", "deployed")]
        assert log_level() == "info"
        objects = cluster.kubectl(
            "get", "deployment,service,serviceaccount", "-n", NAMESPACE, "-o", "name"
        ).stdout
        assert set(objects.split()) == {
            f"deployment.apps/{deployment}",
            f"service/{deployment}-metrics",
            f"serviceaccount/{deployment}",
        }

        helm_on_cluster("upgrade", release, str(CHART), "--set", "log.level=debug")
        assert [(r["revision"], r["status"]) for r in releases()] == [("2", "deployed")]
        assert log_level() == "debug"
        # Helm 4 applies server-side: the cluster records it as the owner of what it applied.
        applied = cluster.get("deployments", NAMESPACE, deployment, group="apps", version="v1")
        assert applied is not None
        owners = {(e["manager"], e["operation"]) for e in applied["metadata"]["managedFields"]}
        assert ("helm", "Apply") in owners, owners

        helm_on_cluster("rollback", release, "1")
        assert [(r["revision"], r["status"]) for r in releases()] == [("3", "deployed")]
        assert log_level() == "info"
        history = json.loads(helm_on_cluster("history", release, "--output", "json"))
        assert [(h["revision"], h["status"]) for h in history] == [
            (1, "superseded"),
            (2, "superseded"),
            (3, "deployed"),
        ]

        helm_on_cluster("uninstall", release)
        assert releases() == []
        assert cluster.get("deployments", NAMESPACE, deployment, group="apps", version="v1") is None
        assert cluster.kubectl("get", "secrets", "-A", "-l", "owner=helm", "-o", "name").stdout == ""
        # CRDs from the chart's crds/ stay, as Helm leaves them.
        assert cluster.kubectl("get", "crd", "-o", "name").stdout.split() == sorted(
            f"customresourcedefinition.apiextensions.k8s.io/{yaml.safe_load(p.read_text())['metadata']['name']}"
            for p in (CHART / "crds").glob("*.yaml")
        )
