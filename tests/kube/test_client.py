"""The official kubernetes client against a sandbox cluster: GPU scheduling, the device plugin, watches, errors."""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

HERE = Path(__file__).parent
NS = "gpu-resources"
GPU_TOLERATION = {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}


@pytest.fixture
def api(kubeconfig: Path) -> client.ApiClient:
    return config.new_client_from_config(str(kubeconfig))


def _gpu_deployment() -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "runner", "namespace": NS},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "runner"}}, "template": {
                "metadata": {"labels": {"app": "runner"}},
                "spec": {"tolerations": [GPU_TOLERATION], "imagePullSecrets": [{"name": "studioml-go-docker-key"}],
                         "containers": [{"name": "runner", "image": "quay.io/leafai/studio-go-runner:0.9.21",
                                         "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}}}}


def _device_plugin() -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "nvidia-device-plugin-daemonset", "namespace": "kube-system"},
            "spec": {"selector": {"matchLabels": {"name": "nvidia-device-plugin-ds"}}, "template": {
                "metadata": {"labels": {"name": "nvidia-device-plugin-ds"}},
                "spec": {"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
                                         GPU_TOLERATION],
                         "containers": [{"name": "nvidia-device-plugin-ctr",
                                         "image": "nvcr.io/nvidia/k8s-device-plugin:v0.18.0"}]}}}}


def _wait(what: Any, timeout: float = 30) -> Any:
    deadline = time.time() + timeout
    while True:
        value = what()
        if value:
            return value
        assert time.time() < deadline, "timed out"
        time.sleep(0.1)


def test_gpu_pod_waits_for_the_device_plugin(api: client.ApiClient) -> None:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    auth = base64.b64encode(b"user:pass").decode()
    docker = {"auths": {"leafai0000.azurecr.io": {"username": "user", "password": "pass", "auth": auth}}}
    encoded = base64.b64encode(json.dumps(docker).encode()).decode()
    core.create_namespaced_secret(NS, {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                                       "metadata": {"name": "studioml-go-docker-key"},
                                       "data": {".dockerconfigjson": encoded}})
    apps.create_namespaced_deployment(NS, _gpu_deployment(), field_validation="Strict")
    events: list[tuple[str, str]] = []
    stream = watch.Watch()

    def follow() -> None:
        for ev in stream.stream(core.list_namespaced_pod, NS, label_selector="app=runner", timeout_seconds=60):
            pod = ev["object"]
            events.append((ev["type"], pod.status.phase or ""))
            if pod.status.phase == "Running":
                stream.stop()

    watcher = threading.Thread(target=follow, daemon=True)
    watcher.start()

    def pending_reason() -> str:
        pods = core.list_namespaced_pod(NS, label_selector="app=runner").items
        conds = pods[0].status.conditions or [] if pods else []
        return next((c.message for c in conds if c.type == "PodScheduled" and c.status == "False"), "")

    message = _wait(pending_reason)
    assert "Insufficient nvidia.com/gpu" in message
    time.sleep(0.5)
    assert core.list_namespaced_pod(NS).items[0].status.phase == "Pending"
    apps.create_namespaced_daemon_set("kube-system", _device_plugin())
    gpu_node = _wait(lambda: [n for n in core.list_node().items if "nvidia.com/gpu" in (n.status.capacity or {})])
    assert gpu_node[0].status.capacity["nvidia.com/gpu"] == "1"
    _wait(lambda: (apps.read_namespaced_deployment("runner", NS).status.ready_replicas or 0) == 1)
    watcher.join(timeout=30)
    assert ("ADDED", "Pending") in events and events[-1][1] == "Running"


def _server(kubeconfig: Path) -> tuple[str, str]:
    cfg = yaml.safe_load(kubeconfig.read_text())
    ca = kubeconfig.parent / "ca.pem"
    ca.write_bytes(base64.b64decode(cfg["clusters"][0]["cluster"]["certificate-authority-data"]))
    return cfg["clusters"][0]["cluster"]["server"], str(ca)


def _raw(kubeconfig: Path, method: str, path: str, body: Any) -> requests.Response:
    server, ca = _server(kubeconfig)
    token = yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]["token"]
    return requests.request(method, server + path, json=body, verify=ca, timeout=10,
                            headers={"Authorization": f"Bearer {token}"})


def test_strict_validation_and_status_errors(api: client.ApiClient, kubeconfig: Path) -> None:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    docs = [d for d in yaml.safe_load_all((HERE / "deployment-1.13.yaml").read_text()) if d]
    account = next(d for d in docs if d["kind"] == "ServiceAccount")
    # this client refuses the stray field itself (pydantic), so the published manifest goes over plain HTTPS
    strict = _raw(kubeconfig, "POST", "/api/v1/namespaces/default/serviceaccounts?fieldValidation=Strict", account)
    body = strict.json()
    assert strict.status_code == 400 and body["reason"] == "BadRequest"
    assert 'unknown field "imagePullSecrets[0].apiVersion"' in body["message"]
    warned = _raw(kubeconfig, "POST", "/api/v1/namespaces/default/serviceaccounts?fieldValidation=Warn", account)
    assert warned.status_code == 201 and "imagePullSecrets[0].apiVersion" in warned.headers["Warning"]
    gone = _raw(kubeconfig, "POST", "/apis/extensions/v1beta1/namespaces/default/daemonsets", {})
    assert gone.status_code == 404 and gone.json()["reason"] == "NotFound"
    anonymous = requests.get(_server(kubeconfig)[0] + "/api/v1/nodes", verify=_server(kubeconfig)[1], timeout=10)
    assert anonymous.status_code == 401 and anonymous.json()["reason"] == "Unauthorized"
    core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dup"}})
    with pytest.raises(ApiException) as dup:
        core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dup"}})
    assert dup.value.status == 409 and json.loads(dup.value.body)["reason"] == "AlreadyExists"
    with pytest.raises(ApiException) as missing:
        apps.read_namespaced_deployment("nope", "default")
    assert missing.value.status == 404 and json.loads(missing.value.body)["reason"] == "NotFound"
    bad = _gpu_deployment()
    bad["metadata"]["namespace"] = "default"
    bad["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    with pytest.raises(ApiException) as invalid:
        apps.create_namespaced_deployment("default", bad)
    detail = json.loads(invalid.value.body)
    assert invalid.value.status == 422 and detail["reason"] == "Invalid"
    assert detail["details"]["causes"][0]["field"] == "spec.template.metadata.labels"


def test_patch_flavours_and_configmaps(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "studioml-env", "labels": {"a": "1"}},
          "data": {"AMQP_URL": "amqp://10.0.0.4:5672/"}}
    made = core.create_namespaced_config_map("default", cm)
    assert made.metadata.uid and made.metadata.resource_version
    core.patch_namespaced_config_map("studioml-env", "default", {"data": {"LOGXI": "*=DBG"}})
    got = core.read_namespaced_config_map("studioml-env", "default")
    assert got.data == {"AMQP_URL": "amqp://10.0.0.4:5672/", "LOGXI": "*=DBG"}
    core.patch_namespaced_config_map("studioml-env", "default", [{"op": "remove", "path": "/data/LOGXI"}])
    assert core.read_namespaced_config_map("studioml-env", "default").data == {"AMQP_URL": "amqp://10.0.0.4:5672/"}
    assert [c.metadata.name for c in core.list_namespaced_config_map("default", label_selector="a=1").items] == \
        ["studioml-env"]
    stale = core.read_namespaced_config_map("studioml-env", "default")
    stale.metadata.resource_version = "1"
    with pytest.raises(ApiException) as conflict:
        core.replace_namespaced_config_map("studioml-env", "default", stale)
    assert conflict.value.status == 409
    core.delete_namespaced_config_map("studioml-env", "default")
    assert core.list_namespaced_config_map("default", label_selector="a=1").items == []
