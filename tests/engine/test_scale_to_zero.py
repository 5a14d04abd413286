"""Idle GPUs cost nothing: with scale_to_zero, KEDA reads the queues the runner takes (its QUEUE_MATCH expression)
from RabbitMQ's management API, as a monitoring user the NSG lets the clusters reach, and sets the runner's replicas;
the cluster autoscaler follows with the GPU nodes. Queue empty: 0 runners, then 0 GPU nodes; messages: runners, a
node each, Ready."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.network import NetworkManagementClient

from tests.conftest import RunningSandbox, admin_credential, require_kubectl
from tests.engine.helpers import Home, answers_with, endpoint_args, kubectl_deployment, run, run_text


def _gpu_nodes(kubeconfig: str) -> list[str]:
    out = subprocess.run([require_kubectl(), "--kubeconfig", kubeconfig, "get", "nodes", "-l", "agentpool=gpu", "-o",
                          "json"], capture_output=True, text=True, timeout=60, check=True)
    return [n["metadata"]["name"] for n in json.loads(out.stdout)["items"]]


def _until(what: str, ok: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def _runners(kubeconfig: str) -> tuple[int, int]:
    dep = kubectl_deployment(kubeconfig)
    return int(dep["spec"].get("replicas") or 0), int(dep["status"].get("readyReplicas") or 0)


def test_the_gpu_pool_follows_the_queues_down_to_zero_and_back(tmp_path: Path, served: RunningSandbox,
                                                               home: Home) -> None:
    args, env = endpoint_args(served.info)
    answers = answers_with(tmp_path, scale_to_zero=True)
    code, plan, err = run(home, "plan", *args, "--answers", str(answers), "--json", env=env)
    assert code == 0, err[-3000:]
    total = plan["estimate"]["total"]["monthly"]
    assert 0 < plan["estimate"]["idle_monthly"] < total / 2, plan["estimate"]
    code, text, err = run_text(home, "plan", *args, "--answers", str(answers), env=env)
    assert code == 0 and "scale to zero on: " in text and "the first job after an idle spell waits" in text

    code, doc, err = run(home, "apply", *args, "--answers", str(answers), "--yes", "--json", env=env)
    assert code == 0, err[-3000:]
    sub, uid, region = doc["subscription"]["id"], doc["uniq_id"]["value"], doc["regions"][0]
    kw: dict[str, Any] = {"base_url": served.info["arm"], "connection_verify": served.info["ca_bundle"]}
    cred = admin_credential(served.info)
    aks = ContainerServiceClient(cred, sub, **kw)
    mc = aks.managed_clusters.get(f"leafai-{uid}", f"leafai-cluster-{uid}")
    assert mc.workload_auto_scaler_profile.keda.enabled
    pool = aks.agent_pools.get(f"leafai-{uid}", f"leafai-cluster-{uid}", "gpu")
    assert (pool.enable_auto_scaling, pool.min_count, pool.max_count) == (True, 0, 2)
    rules = {r.name: r for r in NetworkManagementClient(cred, sub, **kw).network_security_groups.get(
        f"studioml-{uid}", f"studioml-services-nsg-{uid}").security_rules}
    mgmt = rules["allow-rabbitmq-management-from-clusters"]
    assert mgmt.destination_port_range == "15672" and mgmt.source_address_prefixes == ["10.20.0.0/20"], mgmt
    kubeconfig = region["kubeconfig"]
    out = subprocess.run([require_kubectl(), "--kubeconfig", kubeconfig, "get", "scaledobject", "-n",
                          "gpu-resources", "studioml-go-runner", "-o", "json"], capture_output=True, text=True,
                         timeout=60, check=True)
    scaled = json.loads(out.stdout)
    trigger = scaled["spec"]["triggers"][0]
    assert trigger["metadata"]["queueName"] == "^rmq_.*$" and trigger["metadata"]["useRegex"] == "true"
    assert scaled["status"]["conditions"][0]["status"] == "True", scaled["status"]

    # nothing queued: no runner, then no GPU node (the autoscaler's ten idle minutes, scaled)
    _until("0 runners", lambda: _runners(kubeconfig) == (0, 0))
    _until("0 GPU nodes", lambda: _gpu_nodes(kubeconfig) == [])

    # two experiments wait in an rmq_ queue (and five in a queue the runner does not take): two runners, two nodes
    code, status, err = run(home, "status", *args, "--answers", str(answers), "--json", env=env)
    vm_id = status["home"]["vms"]["rabbitmq"]["id"]
    for queue, n in (("rmq_alice_experiments", 2), ("billing", 5)):
        requests.post(f"{served.info['arm']}/sandbox/queues", verify=served.info["ca_bundle"], timeout=10,
                      json={"vm_id": vm_id, "queue": queue, "messages": n}).raise_for_status()
    _until("2 runners ready", lambda: _runners(kubeconfig) == (2, 2), timeout=90)
    assert len(_gpu_nodes(kubeconfig)) == 2

    # a re-run leaves KEDA's replicas alone
    code, again, err = run(home, "apply", *args, "--answers", str(answers), "--yes", "--json", env=env)
    assert code == 0 and again["steps"]["runner"]["action"] == "none", err[-3000:]
    assert _runners(kubeconfig)[0] == 2
