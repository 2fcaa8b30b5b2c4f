"""Field ownership and server-side apply, driven by the clients that depend on them.

`kubectl apply --server-side` (and Helm 4, Argo CD's ServerSideApply=true, server-side diff)
rest on managedFields: who set which field, with which operation. The rules are the API
server's (structured-merge-diff): an applier owns exactly what it applies, a field it stops
applying goes, a change to another manager's field is a 409 naming it unless forced, and an
update takes the fields it changes without asking.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from agentcore_operator.local.cluster.testing import ClusterHandle, running_cluster
from kubernetes import client, config
from kubernetes.client.rest import ApiException

GROUP, VERSION, PLURAL = "agentcore.dev", "v1alpha1", "codeinterpretersessions"
APPLY = "application/apply-patch+yaml"

DEPLOYMENT = textwrap.dedent(
    """\
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: {name}
      labels: {{app: {name}}}
    spec:
      replicas: 2
      selector: {{matchLabels: {{app: {name}}}}}
      template:
        metadata: {{labels: {{app: {name}}}}}
        spec:
          containers:
          - name: app
            image: nginx:1
            env:
            - {{name: A, value: "1"}}
            - {{name: B, value: "2"}}
            ports:
            - containerPort: 80
    """
)


@pytest.fixture(scope="module")
def cluster() -> Iterator[ClusterHandle]:
    with running_cluster() as handle:
        yield handle


@pytest.fixture(scope="module")
def api(cluster: ClusterHandle) -> Iterator[client.ApiClient]:
    api_client = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    yield api_client
    api_client.close()


def deployment(name: str, replicas: int = 2, *, drop_env_b: bool = False) -> str:
    text = DEPLOYMENT.format(name=name).replace("replicas: 2", f"replicas: {replicas}")
    return "".join(line for line in text.splitlines(True) if not (drop_env_b and "name: B" in line))


def session(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "CodeInterpreterSession",
        "metadata": {"name": name},
        "spec": spec,
    }


def managed(cluster: ClusterHandle, kind: str, name: str) -> dict[tuple[str, str], dict[str, Any]]:
    """managedFields as `kubectl get --show-managed-fields` shows them, by (manager, operation)."""
    shown = cluster.kubectl("get", kind, name, "-o", "yaml", "--show-managed-fields").stdout
    return {(e["manager"], e["operation"]): e for e in yaml.safe_load(shown)["metadata"]["managedFields"]}


def get(cluster: ClusterHandle, kind: str, name: str) -> dict[str, Any]:
    return dict(json.loads(cluster.kubectl("get", kind, name, "-o", "json").stdout))


# -- kubectl ------------------------------------------------------------------------------


def test_a_field_its_applier_stops_applying_is_removed(cluster: ClusterHandle) -> None:
    cluster.kubectl("apply", "--server-side", "-f", "-", input=deployment("drop"))
    cluster.kubectl("apply", "--server-side", "-f", "-", input=deployment("drop", drop_env_b=True))
    container = get(cluster, "deployment", "drop")["spec"]["template"]["spec"]["containers"][0]
    assert container["env"] == [{"name": "A", "value": "1"}]
    entry = managed(cluster, "deployment", "drop")[("kubectl", "Apply")]
    assert entry["apiVersion"] == "apps/v1" and entry["fieldsType"] == "FieldsV1" and entry["time"]
    fields = entry["fieldsV1"]
    assert fields["f:spec"]["f:replicas"] == {} and fields["f:spec"]["f:selector"] == {}  # atomic selector
    app = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"app"}']
    assert app["."] == {} and list(app["f:env"]) == ['k:{"name":"A"}']
    assert 'k:{"containerPort":80,"protocol":"TCP"}' in app["f:ports"]  # protocol: its default as key
    assert "f:name" not in fields["f:metadata"]  # server-owned metadata belongs to nobody


def test_a_second_manager_conflicts_unless_it_forces(cluster: ClusterHandle) -> None:
    cluster.kubectl("apply", "--server-side", "-f", "-", input=deployment("contest"))
    refused = cluster.kubectl(
        "apply",
        "--server-side",
        "--field-manager=rival",
        "-f",
        "-",
        input=deployment("contest", 3),
        check=False,
    )
    assert refused.returncode != 0
    assert 'Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas' in refused.stderr
    assert get(cluster, "deployment", "contest")["spec"]["replicas"] == 2
    cluster.kubectl(
        "apply",
        "--server-side",
        "--field-manager=rival",
        "--force-conflicts",
        "-f",
        "-",
        input=deployment("contest", 3),
    )
    assert get(cluster, "deployment", "contest")["spec"]["replicas"] == 3
    owners = managed(cluster, "deployment", "contest")
    assert "f:replicas" in owners[("rival", "Apply")]["fieldsV1"]["f:spec"]
    assert "f:replicas" not in owners[("kubectl", "Apply")]["fieldsV1"]["f:spec"]
    # Everything else the two apply alike is shared, so no conflict there.
    assert owners[("rival", "Apply")]["fieldsV1"]["f:metadata"] == {"f:labels": {"f:app": {}}}
    assert owners[("kubectl", "Apply")]["fieldsV1"]["f:metadata"] == {"f:labels": {"f:app": {}}}


def test_an_update_takes_fields_silently_and_is_named_in_later_conflicts(cluster: ClusterHandle) -> None:
    cluster.kubectl("apply", "--server-side", "-f", "-", input=deployment("taken"))
    cluster.kubectl("patch", "deployment", "taken", "--type=merge", "-p", '{"spec":{"replicas":4}}')
    owners = managed(cluster, "deployment", "taken")
    assert owners[("kubectl-patch", "Update")]["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in owners[("kubectl", "Apply")]["fieldsV1"]["f:spec"]
    refused = cluster.kubectl("apply", "--server-side", "-f", "-", input=deployment("taken"), check=False)
    assert 'conflict with "kubectl-patch" using apps/v1: .spec.replicas' in refused.stderr


def test_a_shared_field_stays_while_another_manager_applies_it(cluster: ClusterHandle) -> None:
    cluster.kubectl("apply", "--server-side", "-f", "-", input=deployment("shared"))
    cluster.kubectl("apply", "--server-side", "--field-manager=second", "-f", "-", input=deployment("shared"))
    cluster.kubectl("apply", "--server-side", "-f", "-", input=deployment("shared", drop_env_b=True))
    env = get(cluster, "deployment", "shared")["spec"]["template"]["spec"]["containers"][0]["env"]
    assert [e["name"] for e in env] == ["A", "B"]  # "second" still applies B


def test_client_side_apply_create_and_edit_are_updates(cluster: ClusterHandle) -> None:
    manifest = yaml.safe_dump(session("csa", deletionPolicy="Delete"))
    cluster.kubectl("apply", "-f", "-", input=manifest)
    cluster.kubectl("apply", "-f", "-", input=manifest.replace("Delete", "Retain"))
    body = get(cluster, "cis", "csa")
    assert body["spec"]["deletionPolicy"] == "Retain"
    entry = managed(cluster, "cis", "csa")[("kubectl-client-side-apply", "Update")]
    assert entry["apiVersion"] == "agentcore.dev/v1alpha1"
    assert "f:deletionPolicy" in entry["fieldsV1"]["f:spec"]
    annotations = entry["fieldsV1"]["f:metadata"]["f:annotations"]
    assert annotations == {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}}
    cluster.kubectl("create", "configmap", "made", "--from-literal=a=1", "--dry-run=client", "-o", "yaml")
    cluster.kubectl("create", "-f", "-", input=yaml.safe_dump(session("created")))
    assert ("kubectl-create", "Update") in managed(cluster, "cis", "created")


def test_show_managed_fields_is_off_by_default(cluster: ClusterHandle) -> None:
    cluster.kubectl("apply", "--server-side", "-f", "-", input=deployment("quiet"))
    plain = yaml.safe_load(cluster.kubectl("get", "deployment", "quiet", "-o", "yaml").stdout)
    assert "managedFields" not in plain["metadata"]
    assert ("kubectl", "Apply") in managed(cluster, "deployment", "quiet")


# -- the kubernetes Python client ---------------------------------------------------------


def test_python_client_server_side_apply_and_conflicts(api: client.ApiClient) -> None:
    custom = client.CustomObjectsApi(api)

    def apply(body: dict[str, Any], manager: str, **extra: Any) -> dict[str, Any]:
        return dict(
            custom.patch_namespaced_custom_object(
                GROUP,
                VERSION,
                "default",
                PLURAL,
                body["metadata"]["name"],
                body,
                field_manager=manager,
                _content_type=APPLY,
                **extra,
            )
        )

    labelled = session("py", deletionPolicy="Retain")
    labelled["metadata"]["labels"] = {"team": "a", "cost-centre": "42"}
    created = apply(labelled, "team-a")
    assert created["spec"]["deletionPolicy"] == "Retain"
    (entry,) = created["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"]) == ("team-a", "Apply")
    assert entry["fieldsV1"] == {
        "f:metadata": {"f:labels": {"f:cost-centre": {}, "f:team": {}}},
        "f:spec": {"f:deletionPolicy": {}},
    }
    with pytest.raises(ApiException) as refused:
        apply(session("py", deletionPolicy="Delete"), "team-b")
    assert refused.value.status == 409
    status = json.loads(refused.value.body)
    assert status["reason"] == "Conflict"
    assert status["details"]["causes"] == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "team-a"',
            "field": ".spec.deletionPolicy",
        }
    ]
    forced = apply(session("py", deletionPolicy="Delete"), "team-b", force=True)
    assert forced["spec"]["deletionPolicy"] == "Delete"
    # team-a stops applying a label (and the policy it lost): nobody owns the label, so it goes.
    still = session("py")
    still["metadata"]["labels"] = {"team": "a"}
    after = apply(still, "team-a")
    assert after["metadata"]["labels"] == {"team": "a"} and after["spec"]["deletionPolicy"] == "Delete"


def test_apply_needs_a_field_manager_and_force_needs_apply(api: client.ApiClient) -> None:
    custom = client.CustomObjectsApi(api)
    with pytest.raises(ApiException) as missing:
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, "nameless", session("nameless"), _content_type=APPLY
        )
    assert missing.value.status == 422
    assert (
        "fieldManager: Required value: is required for apply patch"
        in json.loads(missing.value.body)["message"]
    )
    custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, session("forced"))
    with pytest.raises(ApiException) as forbidden:
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, "forced", {"spec": {}}, force=True
        )
    assert forbidden.value.status == 422


def test_status_writes_are_owned_through_the_status_subresource(api: client.ApiClient) -> None:
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, session("st"), field_manager="me"
    )

    def condition(kind: str, manager: str) -> dict[str, Any]:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "CodeInterpreterSession",
            "metadata": {"name": "st"},
            "status": {
                "conditions": [
                    {
                        "type": kind,
                        "status": "True",
                        "reason": "Fine",
                        "message": "fine",
                        "lastTransitionTime": "2026-01-01T00:00:00Z",
                    }
                ]
            },
        }
        return dict(
            custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, "default", PLURAL, "st", body, field_manager=manager, _content_type=APPLY
            )
        )

    condition("Ready", "ready-controller")
    both = condition("Synced", "sync-controller")
    # conditions are a list-map by type: each controller owns its own item, and both stay.
    assert sorted(c["type"] for c in both["status"]["conditions"]) == ["Ready", "Synced"]
    entries = {e["manager"]: e for e in both["metadata"]["managedFields"]}
    assert entries["ready-controller"]["subresource"] == "status"
    assert list(entries["ready-controller"]["fieldsV1"]["f:status"]["f:conditions"]) == ['k:{"type":"Ready"}']
    assert "subresource" not in entries["me"] and entries["me"]["operation"] == "Update"
    patched = custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, "default", PLURAL, "st", {"status": {"phase": "Ready"}}
    )
    by_agent = [e for e in patched["metadata"]["managedFields"] if e["operation"] == "Update"]
    # No fieldManager: the User-Agent up to its first "/" names the manager.
    assert {(e["manager"], e.get("subresource", "")) for e in by_agent} >= {("OpenAPI-Generator", "status")}


def test_set_lists_merge_by_value(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    first = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fin", "finalizers": ["a.io/x"]}}
    second = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fin", "finalizers": ["b.io/y"]}}
    core.patch_namespaced_config_map("fin", "default", first, field_manager="one", _content_type=APPLY)
    both = core.patch_namespaced_config_map(
        "fin", "default", second, field_manager="two", _content_type=APPLY
    )
    assert both.metadata.finalizers == ["a.io/x", "b.io/y"]
    one = next(e for e in both.metadata.managed_fields if e.manager == "one")
    assert one.fields_v1 == {"f:metadata": {"f:finalizers": {'v:"a.io/x"': {}}}}
    left = core.patch_namespaced_config_map(
        "fin", "default", {**first, "metadata": {"name": "fin"}}, field_manager="one", _content_type=APPLY
    )
    assert left.metadata.finalizers == ["b.io/y"]


def test_list_map_items_belong_to_whoever_applies_them(cluster: ClusterHandle) -> None:
    cluster.kubectl("apply", "--server-side", "-f", "-", input=deployment("sidecar"))
    sidecar = textwrap.dedent(
        """\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: sidecar}
        spec:
          template:
            spec:
              containers:
              - {name: proxy, image: envoy:1}
        """
    )
    cluster.kubectl("apply", "--server-side", "--field-manager=mesh", "-f", "-", input=sidecar)
    cluster.kubectl("apply", "--server-side", "-f", "-", input=deployment("sidecar"))

    def containers() -> list[str]:
        spec = get(cluster, "deployment", "sidecar")["spec"]["template"]["spec"]
        return [c["name"] for c in spec["containers"]]

    assert containers() == ["app", "proxy"]
    owners = managed(cluster, "deployment", "sidecar")
    mesh = owners[("mesh", "Apply")]["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert list(mesh) == ['k:{"name":"proxy"}']
    nothing = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: sidecar}\n"
    cluster.kubectl("apply", "--server-side", "--field-manager=mesh", "-f", "-", input=nothing)
    assert containers() == ["app"]
    assert ("mesh", "Apply") not in managed(cluster, "deployment", "sidecar")


def test_apply_refuses_what_the_api_server_refuses(api: client.ApiClient) -> None:
    custom = client.CustomObjectsApi(api)

    def apply(body: dict[str, Any]) -> int:
        try:
            custom.patch_namespaced_custom_object(
                GROUP, VERSION, "default", PLURAL, "strict", body, field_manager="me", _content_type=APPLY
            )
        except ApiException as error:
            return int(error.status)
        return 200

    assert apply(session("strict")) == 200
    assert apply({"kind": "CodeInterpreterSession", "metadata": {"name": "strict"}}) == 400  # no apiVersion
    with_fields = session("strict")
    with_fields["metadata"]["managedFields"] = []
    assert apply(with_fields) == 400  # "metadata.managedFields must be nil"
    stale = session("strict", deletionPolicy="Retain")
    stale["metadata"]["resourceVersion"] = "1"
    assert apply(stale) == 409  # a resourceVersion in an apply is a precondition
    undeclared = session("strict", colour="blue")
    assert apply(undeclared) == 500  # "failed to create typed patch object ... field not declared in schema"


def test_an_apply_in_yaml_keeps_timestamps_as_strings(cluster: ClusterHandle) -> None:
    import requests

    cluster.kubectl("create", "-f", "-", input=yaml.safe_dump(session("yaml")))
    body = textwrap.dedent(
        """\
        apiVersion: agentcore.dev/v1alpha1
        kind: CodeInterpreterSession
        metadata: {name: yaml}
        status:
          conditions:
          - {type: Ready, status: "True", reason: Up, message: up, lastTransitionTime: 2026-01-01T00:00:00Z}
        """
    )
    response = requests.patch(
        f"{cluster.url}/apis/{GROUP}/{VERSION}/namespaces/default/{PLURAL}/yaml/status",
        data=body,
        params={"fieldManager": "raw-yaml"},
        headers={"Content-Type": APPLY},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"]["conditions"][0]["lastTransitionTime"] == "2026-01-01T00:00:00Z"


def test_managed_fields_can_be_reset_by_hand(api: client.ApiClient) -> None:
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, session("reset"), field_manager="me"
    )

    def patch(body: dict[str, Any]) -> dict[str, Any]:
        return dict(custom.patch_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "reset", body))

    # The documented way to strip managedFields: a list holding one empty entry.
    assert "managedFields" not in patch({"metadata": {"managedFields": [{}]}})["metadata"]
    odd = {"manager": "hand", "operation": "Apply", "fieldsV1": {"f:spec": {"k:{bad": {}, "f:x": 5}}}
    assert patch({"metadata": {"managedFields": [odd]}})["metadata"]["managedFields"][0]["manager"] == "hand"
    status = 0
    try:
        custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            "default",
            PLURAL,
            "reset",
            session("reset", deletionPolicy="Retain"),
            field_manager="other",
            _content_type=APPLY,
        )
        status = 200
    except ApiException as error:
        status = int(error.status)
    assert status == 200  # hand-written sets never turn into a 500


def test_old_update_managers_fold_into_ancient_changes(api: client.ApiClient) -> None:
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, session("many"), field_manager="maker"
    )
    for index in range(12):
        labels = {"metadata": {"labels": {f"l{index}": "x"}}}
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, "many", labels, field_manager=f"writer-{index}"
        )
    body = custom.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "many")
    managers = [e["manager"] for e in body["metadata"]["managedFields"]]
    assert len(managers) == 10 and "ancient-changes" in managers and "writer-11" in managers
