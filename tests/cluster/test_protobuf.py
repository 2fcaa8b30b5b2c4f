"""Kubernetes protobuf for built-in kinds: the codec against bytes kubectl and helm really sent
(fixtures/protobuf), and the real kubectl, whose typed clients send protobuf and ask for it first."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from agentcore_operator.local.cluster import protobuf
from agentcore_operator.local.cluster.testing import ClusterHandle, running_cluster

FIXTURES = Path(__file__).parent / "fixtures" / "protobuf"
PROTOBUF_FIRST = f"{protobuf.PROTOBUF},application/json"  # what client-go's typed clients send


@pytest.fixture(scope="module")
def cluster() -> Iterator[ClusterHandle]:
    with running_cluster() as handle:
        yield handle


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.bin").read_bytes()


# -- the codec against captured bytes ------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.bin")), ids=lambda p: p.stem)
def test_what_clients_sent_decodes_and_encodes_back_byte_for_byte(path: Path) -> None:
    sent = path.read_bytes()
    decoded = protobuf.decode_object(sent)
    assert decoded["kind"] and decoded["apiVersion"]
    assert protobuf.encode_object(decoded) == sent
    assert json.loads(json.dumps(decoded)) == decoded  # plain JSON, as the store holds it


def test_decoded_objects_read_as_go_writes_their_json() -> None:
    deployment = protobuf.decode_object(fixture("kubectl-post-deployment"))
    assert deployment["metadata"] == {"name": "web", "creationTimestamp": None, "labels": {"app": "web"}}
    assert deployment["spec"]["replicas"] == 2
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container == {
        "name": "nginx",
        "image": "nginx:1.27",
        "ports": [{"containerPort": 80}],
        "resources": {},
    }

    service = protobuf.decode_object(fixture("kubectl-post-service"))
    assert service["spec"]["ports"] == [
        {"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}
    ]
    pdb = protobuf.decode_object(fixture("kubectl-post-poddisruptionbudget"))
    assert pdb["spec"]["minAvailable"] == "50%"  # IntOrString as a string

    configmap = protobuf.decode_object(fixture("kubectl-post-configmap"))
    assert configmap["data"] == {"region": "eu-west-1"}
    assert base64.b64decode(configmap["binaryData"]["blob"]) == b"\x00\x01\xfe\xff"
    secret = protobuf.decode_object(fixture("kubectl-post-secret"))
    assert base64.b64decode(secret["data"]["key"]) == b"s3cr3t"

    binding = protobuf.decode_object(fixture("kubectl-post-rolebinding"))
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "robot", "namespace": "default"}]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"}

    release = protobuf.decode_object(fixture("helm-post-secret"))
    assert release["metadata"]["labels"]["owner"] == "helm"
    assert release["type"] == "helm.sh/release.v1"
    assert protobuf.decode_object(fixture("helm-delete-deleteoptions")) == {
        "apiVersion": "v1",
        "kind": "DeleteOptions",
    }


def test_times_and_int_or_string_travel_as_go_writes_them() -> None:
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "l", "creationTimestamp": "2026-01-02T03:04:05Z", "deletionTimestamp": None},
        "spec": {
            "holderIdentity": "a",
            "renewTime": "2026-01-02T03:04:05.123456Z",
            "leaseDurationSeconds": 15,
        },
    }
    back = protobuf.decode_object(protobuf.encode_object(lease))
    assert back["metadata"] == {"name": "l", "creationTimestamp": "2026-01-02T03:04:05Z"}
    assert back["spec"] == lease["spec"]
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80}]},
    }
    ports = protobuf.decode_object(protobuf.encode_object(service))["spec"]["ports"]
    assert ports == [{"port": 80, "targetPort": 0}]  # a Go value field: zero, as Go's JSON writes it


def configmap_with_metadata(metadata: bytes) -> bytes:
    envelope_type = protobuf.length_delimited(1, b"v1") + protobuf.length_delimited(2, b"ConfigMap")
    raw = protobuf.length_delimited(1, metadata)
    return protobuf.MAGIC + protobuf.length_delimited(1, envelope_type) + protobuf.length_delimited(2, raw)


FAR_FUTURE = protobuf.length_delimited(8, protobuf.tag(1, protobuf.VARINT) + protobuf.varint(2**62))
BAD_FIELDS_V1 = protobuf.length_delimited(
    17, protobuf.length_delimited(7, protobuf.length_delimited(1, b"{no"))
)


@pytest.mark.parametrize(
    "body",
    [
        b"not protobuf",
        b"k8s\x00\x0a\x05",
        protobuf.MAGIC + b"\x0a\x02\x0a\x00\x12\x01",
        b"k8s\x00\xff\xff\xff",
        configmap_with_metadata(FAR_FUTURE),
        configmap_with_metadata(BAD_FIELDS_V1),
    ],
    ids=[
        "no-magic",
        "truncated-envelope",
        "truncated-raw",
        "bad-varint",
        "time-out-of-range",
        "bad-managed-fields",
    ],
)
def test_malformed_bytes_raise_protobuf_errors(body: bytes) -> None:
    with pytest.raises(protobuf.ProtobufError):
        protobuf.decode_object(body)


# -- kubectl create, which sends protobuf --------------------------------------------------------


def test_kubectl_create_namespace_configmap_secret_serviceaccount(cluster: ClusterHandle) -> None:
    assert cluster.kubectl("create", "namespace", "team-a").stdout.strip() == "namespace/team-a created"
    namespace = cluster.get("namespaces", None, "team-a", group="", version="v1")
    assert namespace is not None and namespace["status"] == {"phase": "Active"}
    assert namespace["spec"] == {"finalizers": ["kubernetes"]}
    cluster.kubectl("create", "configmap", "settings", "-n", "team-a", "--from-literal=region=eu-west-1")
    cluster.kubectl("create", "secret", "generic", "creds", "-n", "team-a", "--from-literal=key=s3cr3t")
    cluster.kubectl("create", "serviceaccount", "robot", "-n", "team-a")
    assert cluster.get("configmaps", "team-a", "settings", group="", version="v1")["data"] == {
        "region": "eu-west-1"
    }  # type: ignore[index]
    secret = cluster.get("secrets", "team-a", "creds", group="", version="v1")
    assert secret is not None and base64.b64decode(secret["data"]["key"]) == b"s3cr3t"
    assert cluster.get("serviceaccounts", "team-a", "robot", group="", version="v1") is not None
    listed = cluster.kubectl("get", "configmaps,secrets,serviceaccounts", "-n", "team-a", "-o", "name").stdout
    assert listed.split() == ["configmap/settings", "secret/creds", "serviceaccount/robot"]


def test_kubectl_reads_the_protobuf_answer(cluster: ClusterHandle) -> None:
    """`-o json` prints the object kubectl decoded from the server's protobuf answer."""
    printed = json.loads(
        cluster.kubectl(
            "create", "deployment", "web", "--image=nginx:1.27", "--replicas=2", "--port=80", "-o", "json"
        ).stdout
    )
    stored = cluster.get("deployments", "default", "web", group="apps", version="v1")
    assert stored is not None
    for key in ("uid", "resourceVersion", "creationTimestamp", "generation"):
        assert printed["metadata"][key] == stored["metadata"][key]
    assert printed["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    for args in (
        ("service", "clusterip", "web", "--tcp=80:8080"),
        ("role", "reader", "--verb=get,list", "--resource=configmaps"),
        ("rolebinding", "reader", "--role=reader", "--serviceaccount=default:robot"),
        ("clusterrole", "creader", "--verb=get", "--resource=secrets"),
        ("clusterrolebinding", "creader", "--clusterrole=creader", "--user=alice"),
        ("poddisruptionbudget", "web", "--selector=app=web", "--min-available=50%"),
    ):
        assert cluster.kubectl("create", *args).stdout.strip().endswith(" created")
    service = cluster.get("services", "default", "web", group="", version="v1")
    assert service is not None and service["spec"]["ports"][0]["targetPort"] == 8080


def test_kubectl_reads_a_protobuf_status_error(cluster: ClusterHandle) -> None:
    cluster.kubectl("create", "namespace", "twice")
    again = cluster.kubectl("create", "namespace", "twice", check=False)
    assert again.returncode == 1
    assert 'Error from server (AlreadyExists): namespaces "twice" already exists' in again.stderr


# -- the server's side of the negotiation ------------------------------------------------------


def test_lists_objects_and_errors_come_back_in_protobuf_when_asked_first(cluster: ClusterHandle) -> None:
    cluster.kubectl("create", "configmap", "listed", "--from-literal=a=b")
    http = requests.Session()
    http.headers["Accept"] = PROTOBUF_FIRST
    listing = http.get(f"{cluster.url}/api/v1/namespaces/default/configmaps", timeout=10)
    assert listing.headers["Content-Type"] == protobuf.PROTOBUF
    decoded = protobuf.decode_object(listing.content)
    assert decoded["kind"] == "ConfigMapList" and decoded["metadata"]["resourceVersion"]
    assert "listed" in [item["metadata"]["name"] for item in decoded["items"]]

    missing = http.get(f"{cluster.url}/api/v1/namespaces/default/configmaps/missing", timeout=10)
    assert missing.status_code == 404 and missing.headers["Content-Type"] == protobuf.PROTOBUF
    status = protobuf.decode_object(missing.content)
    assert status["kind"] == "Status" and status["reason"] == "NotFound" and status["code"] == 404

    as_json = requests.get(f"{cluster.url}/api/v1/namespaces/default/configmaps/listed", timeout=10)
    assert as_json.headers["Content-Type"].startswith("application/json")


def test_custom_resources_stay_json(cluster: ClusterHandle) -> None:
    """A real server has no protobuf for custom resources: JSON answers, 415 for protobuf bodies."""
    path = f"{cluster.url}/apis/agentcore.dev/v1alpha1/namespaces/default/codeinterpretersessions"
    answer = requests.get(path, headers={"Accept": PROTOBUF_FIRST}, timeout=10)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("application/json")
    body = fixture("kubectl-post-configmap")
    refused = requests.post(path, data=body, headers={"Content-Type": protobuf.PROTOBUF}, timeout=10)
    assert refused.status_code == 415 and refused.json()["reason"] == "UnsupportedMediaType"


def test_malformed_protobuf_body_is_a_bad_request(cluster: ClusterHandle) -> None:
    answer = requests.post(
        f"{cluster.url}/api/v1/namespaces/default/configmaps",
        data=b"k8s\x00\xff",
        headers={"Content-Type": protobuf.PROTOBUF},
        timeout=10,
    )
    assert answer.status_code == 400 and answer.json()["reason"] == "BadRequest"


def test_watch_streams_length_prefixed_protobuf_events(cluster: ClusterHandle) -> None:
    cluster.kubectl("create", "secret", "generic", "watched", "--from-literal=a=b")
    answer = requests.get(
        f"{cluster.url}/api/v1/namespaces/default/secrets",
        params={"watch": "true", "timeoutSeconds": "1"},
        headers={"Accept": PROTOBUF_FIRST},
        timeout=10,
    )
    assert answer.headers["Content-Type"] == protobuf.WATCH_STREAM
    stream, events = answer.content, []
    while stream:
        (length,) = struct.unpack(">I", stream[:4])
        event = protobuf.decode_message("meta.v1.WatchEvent", stream[4 : 4 + length])
        events.append((event["type"], event["object"]["metadata"]["name"]))
        stream = stream[4 + length :]
    assert ("ADDED", "watched") in events


def test_objects_written_in_protobuf_read_back_through_the_python_client(cluster: ClusterHandle) -> None:
    """What kubectl wrote in protobuf, the kubernetes Python client (JSON only) reads as the same object."""
    import kubernetes

    cluster.kubectl("create", "namespace", "python-reads")
    cluster.kubectl("create", "secret", "generic", "creds", "-n", "python-reads", "--from-literal=key=s3cr3t")
    cluster.kubectl("create", "deployment", "web", "-n", "python-reads", "--image=nginx:1.27", "--replicas=3")
    client = kubernetes.config.new_client_from_config(config_file=str(cluster.kubeconfig))
    with client:
        secret = kubernetes.client.CoreV1Api(client).read_namespaced_secret("creds", "python-reads")
        deployment = kubernetes.client.AppsV1Api(client).read_namespaced_deployment("web", "python-reads")
    assert base64.b64decode(secret.data["key"]) == b"s3cr3t"
    assert deployment.spec.replicas == 3
    assert deployment.spec.template.spec.containers[0].image == "nginx:1.27"
    assert deployment.spec.selector.match_labels == {"app": "web"}


def test_kubectl_describe_reads_objects_and_events_in_protobuf(cluster: ClusterHandle) -> None:
    """`kubectl describe` fetches the object and its events through typed clients, protobuf first."""
    cluster.kubectl("create", "namespace", "described")
    cluster.kubectl("create", "deployment", "web", "-n", "described", "--image=nginx:1.27", "--replicas=2")
    cluster.kubectl("create", "service", "clusterip", "web", "-n", "described", "--tcp=80:8080")
    cluster.kubectl(
        "create", "poddisruptionbudget", "web", "-n", "described", "--selector=app=web", "--min-available=1"
    )
    deployment = cluster.get("deployments", "described", "web", group="apps", version="v1")
    assert deployment is not None
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "web.1", "namespace": "described"},
        "involvedObject": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "web",
            "namespace": "described",
            "uid": deployment["metadata"]["uid"],
        },
        "reason": "ScalingReplicaSet",
        "message": "Scaled up replica set web-5d4f8 to 2",
        "type": "Normal",
        "count": 1,
        "firstTimestamp": "2026-01-01T00:00:00Z",
        "lastTimestamp": "2026-01-01T00:00:00Z",
        "source": {"component": "deployment-controller"},
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(event))

    described = cluster.kubectl("describe", "deployment", "web", "-n", "described").stdout
    assert "Replicas:           2 desired" in described
    assert "Image:         nginx:1.27" in described
    assert "Normal  ScalingReplicaSet" in described and "Scaled up replica set web-5d4f8 to 2" in described
    service = cluster.kubectl("describe", "service", "web", "-n", "described").stdout
    assert "TargetPort:        8080/TCP" in service
    pdb = cluster.kubectl("describe", "poddisruptionbudget", "web", "-n", "described").stdout
    assert "Min available:  1" in pdb
    namespace = cluster.kubectl("describe", "namespace", "described").stdout
    assert "Status:       Active" in namespace
