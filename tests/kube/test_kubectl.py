"""The machine's own kubectl against a sandbox cluster, with the kubeconfig listClusterUserCredential returned."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import require_kubectl


@pytest.fixture(autouse=True)
def _kubectl() -> None:
    require_kubectl()  # fails, never skips, without one


HERE = Path(__file__).parent
MANIFEST = """\
apiVersion: v1
kind: Namespace
metadata:
  name: demo
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: demo
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: mcr.microsoft.com/azuredocs/aks-helloworld:v1
"""


def kubectl(config: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(["kubectl", "--kubeconfig", str(config), *args], capture_output=True, text=True, timeout=60)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def test_nodes_apply_and_get(kubeconfig: Path, tmp_path: Path) -> None:
    deadline = time.time() + 30
    while "aks-gpu-" not in (nodes := kubectl(kubeconfig, "get", "nodes").stdout):
        assert time.time() < deadline, nodes
        time.sleep(0.2)
    assert "aks-system-" in nodes
    manifest = tmp_path / "m.yaml"
    manifest.write_text(MANIFEST)
    applied = kubectl(kubeconfig, "apply", "--server-side", "-f", str(manifest))
    assert "namespace/demo serverside-applied" in applied.stdout
    assert "deployment.apps/web serverside-applied" in applied.stdout
    again = kubectl(kubeconfig, "apply", "--server-side", "-f", str(manifest))
    assert again.returncode == 0
    while True:
        doc = json.loads(kubectl(kubeconfig, "get", "deploy", "-A", "-o", "json").stdout)
        web = next(d for d in doc["items"] if d["metadata"]["name"] == "web")
        if web.get("status", {}).get("readyReplicas") == 2:
            break
        assert time.time() < deadline, web.get("status")
        time.sleep(0.2)
    assert web["metadata"]["namespace"] == "demo" and web["metadata"]["generation"] == 1


def test_strict_validation_names_the_stray_field(kubeconfig: Path) -> None:
    out = kubectl(kubeconfig, "apply", "-f", str(HERE / "deployment-1.13.yaml"), check=False)
    assert out.returncode != 0
    assert 'unknown field "imagePullSecrets[0].apiVersion"' in out.stderr, out.stderr


def test_removed_api_is_not_found(kubeconfig: Path, tmp_path: Path) -> None:
    old = tmp_path / "ds.yaml"
    old.write_text("apiVersion: extensions/v1beta1\nkind: DaemonSet\nmetadata: {name: x, namespace: default}\n"
                   "spec: {template: {spec: {containers: [{name: x, image: busybox}]}}}\n")
    out = kubectl(kubeconfig, "apply", "-f", str(old), check=False)
    # as a real server answers it: validation finds no schema (the OpenAPI documents are served), discovery no kind
    assert out.returncode != 0 and 'no matches for kind "DaemonSet" in version "extensions/v1beta1"' in out.stderr, \
        out.stderr


def test_get_prints_the_usual_columns_and_client_side_apply_patches(kubeconfig: Path, tmp_path: Path) -> None:
    """kubectl get asks for the server-side Table: the columns a real API server gives each kind; a plain
    (client-side) apply validates against the served OpenAPI, creates, and patches on a change."""
    manifest = tmp_path / "m.yaml"
    manifest.write_text(MANIFEST)
    assert "deployment.apps/web created" in kubectl(kubeconfig, "apply", "-f", str(manifest)).stdout
    assert "deployment.apps/web unchanged" in kubectl(kubeconfig, "apply", "-f", str(manifest)).stdout
    nodes = kubectl(kubeconfig, "get", "nodes").stdout.splitlines()
    assert nodes[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"], nodes
    assert all(" Ready " in line for line in nodes[1:]), nodes
    header = kubectl(kubeconfig, "get", "deploy", "-n", "demo", "-o", "wide").stdout.splitlines()[0].split()
    assert header == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"], header
    deadline = time.time() + 30
    while True:
        pods = kubectl(kubeconfig, "get", "pods", "-A").stdout.splitlines()
        if any(line.startswith("demo ") for line in pods[1:]):
            break
        assert time.time() < deadline, pods
        time.sleep(0.2)
    assert pods[0].split() == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"], pods


def test_wrong_token_is_unauthorized(kubeconfig: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.write_text(kubeconfig.read_text().replace("token: ", "token: 00"))
    out = kubectl(bad, "get", "nodes", check=False)
    assert out.returncode != 0 and "You must be logged in to the server" in out.stderr


def test_everyday_verbs_work_as_against_aks(kubeconfig: Path) -> None:
    """create (sent as protobuf), scale, logs (--tail, --since, -f), top (metrics API), auth can-i, run."""
    created = kubectl(kubeconfig, "create", "deployment", "runner", "--image=leafai/studio-go-runner:0.9.21")
    assert "deployment.apps/runner created" in created.stdout
    assert "created" in kubectl(kubeconfig, "create", "secret", "generic", "s1", "--from-literal=k=v").stdout
    assert kubectl(kubeconfig, "get", "secret", "s1", "-o", "jsonpath={.data.k}").stdout == "dg=="  # base64 of v
    assert "scaled" in kubectl(kubeconfig, "scale", "deployment/runner", "--replicas=2").stdout
    deadline = time.time() + 30
    while kubectl(kubeconfig, "get", "deploy", "runner", "-o", "jsonpath={.status.readyReplicas}").stdout != "2":
        assert time.time() < deadline
        time.sleep(0.2)
    pod = kubectl(kubeconfig, "get", "pods", "-l", "app=runner", "-o", "name").stdout.split()[0]
    time.sleep(1)
    tail = kubectl(kubeconfig, "logs", pod, "--tail=2").stdout.splitlines()
    assert len(tail) == 2 and all(" INF " in line for line in tail), tail
    first = kubectl(kubeconfig, "logs", pod, "--since=1h").stdout.splitlines()
    assert "INF runner version 0.9.21 starting" in first[0] and not first[0].startswith("{"), first[:2]
    follow = subprocess.Popen(["kubectl", "--kubeconfig", str(kubeconfig), "logs", "-f", "--tail=1", pod],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert follow.stdout is not None
        lines = [follow.stdout.readline() for _ in range(3)]  # the last line, then new ones as they are written
        assert all("checking queues again" in line for line in lines), lines
    finally:
        follow.kill()
    top = kubectl(kubeconfig, "top", "nodes").stdout.splitlines()
    assert top[0].split()[:3] == ["NAME", "CPU(cores)", "CPU(%)"] and len(top) >= 2, top
    assert pod.removeprefix("pod/") in kubectl(kubeconfig, "top", "pods").stdout
    assert kubectl(kubeconfig, "auth", "can-i", "create", "deployments").stdout.strip() == "yes"
    assert "pod/one-off created" in kubectl(kubeconfig, "run", "one-off", "--image=busybox", "--restart=Never",
                                            "--", "true").stdout
