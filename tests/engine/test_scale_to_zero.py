"""Idle GPUs cost nothing, on Spot VMs: with scale_to_zero, KEDA reads the queues the runner takes (its QUEUE_MATCH
expression) from RabbitMQ's management API, as a monitoring user the NSG lets the clusters reach, and sets the
runner's replicas; the cluster autoscaler follows with the GPU nodes. Queue empty: 0 runners, then 0 GPU nodes;
messages: runners, a node each, Ready. The pool is Spot (gpu_priority): priced with the Retail Prices API's Spot
items, counted against the regional low-priority vCPUs, evictable; an eviction's runner comes back on a new node."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.network import NetworkManagementClient

from tests.conftest import RunningSandbox, admin_credential, require_kubectl
from tests.engine.helpers import Home, answers_with, endpoint_args, kubectl_deployment, run, run_text

SPOT_TAINT = {"key": "kubernetes.azure.com/scalesetpriority", "value": "spot", "effect": "NoSchedule"}


def _gpu_nodes(kubeconfig: str) -> list[dict[str, Any]]:
    out = subprocess.run([require_kubectl(), "--kubeconfig", kubeconfig, "get", "nodes", "-l", "agentpool=gpu", "-o",
                          "json"], capture_output=True, text=True, timeout=60, check=True)
    return list(json.loads(out.stdout)["items"])


def _names(kubeconfig: str) -> set[str]:
    return {n["metadata"]["name"] for n in _gpu_nodes(kubeconfig)}


def _until(what: str, ok: Callable[[], bool], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def _runners(kubeconfig: str) -> tuple[int, int]:
    dep = kubectl_deployment(kubeconfig)
    return int(dep["spec"].get("replicas") or 0), int(dep["status"].get("readyReplicas") or 0)


def _spot_price(served: RunningSandbox, size: str) -> float:
    resp = requests.get(served.info["prices"], verify=served.info["ca_bundle"], timeout=10, params={
        "$filter": f"serviceName eq 'Virtual Machines' and armRegionName eq 'eastus' and armSkuName eq '{size}'"})
    return float(next(i["retailPrice"] for i in resp.json()["Items"] if i["meterName"].endswith(" Spot")
                      and "Windows" not in i["productName"]))


def _sandbox(served: RunningSandbox, path: str, body: dict[str, Any]) -> Any:
    resp = requests.post(f"{served.info['arm']}/sandbox/{path}", verify=served.info["ca_bundle"], timeout=10,
                         json=body)
    resp.raise_for_status()
    return resp.json()


def test_a_spot_pool_follows_the_queues_down_to_zero_and_back_through_an_eviction(
        tmp_path: Path, served: RunningSandbox, home: Home) -> None:
    args, env = endpoint_args(served.info)
    answers = answers_with(tmp_path, scale_to_zero=True, gpu_priority="spot")
    code, plan, err = run(home, "plan", *args, "--answers", str(answers), "--json", env=env)
    assert code == 0, err[-3000:]
    gpu_line = next(x for x in plan["estimate"]["lines"] if x["item"] == "GPU pool nodes")
    assert gpu_line["sku"] == "Standard_NC4as_T4_v3 Spot (evictable)", gpu_line
    assert gpu_line["unit_price"] == _spot_price(served, "Standard_NC4as_T4_v3"), gpu_line
    assert 0 < plan["estimate"]["idle_monthly"] < plan["estimate"]["total"]["monthly"], plan["estimate"]
    code, text, err = run_text(home, "plan", *args, "--answers", str(answers), env=env)
    assert code == 0 and "scale to zero on: " in text and "the first job after an idle spell waits" in text

    code, doc, err = run(home, "apply", *args, "--answers", str(answers), "--yes", "--json", env=env)
    assert code == 0, err[-3000:]
    sub, uid, region = doc["subscription"]["id"], doc["uniq_id"]["value"], doc["regions"][0]
    kw: dict[str, Any] = {"base_url": served.info["arm"], "connection_verify": served.info["ca_bundle"]}
    cred = admin_credential(served.info)
    aks = ContainerServiceClient(cred, sub, **kw)
    assert aks.managed_clusters.get(f"leafai-{uid}", f"leafai-cluster-{uid}").workload_auto_scaler_profile.keda.enabled
    pool = aks.agent_pools.get(f"leafai-{uid}", f"leafai-cluster-{uid}", "gpu")
    assert (pool.scale_set_priority, pool.scale_set_eviction_policy, pool.spot_max_price) == ("Spot", "Delete", -1)
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
    _until("0 GPU nodes", lambda: _names(kubeconfig) == set())

    # two experiments wait in an rmq_ queue (five in a queue the runner does not take): two runners, two Spot nodes
    code, status, err = run(home, "status", *args, "--answers", str(answers), "--json", env=env)
    vm_id = status["home"]["vms"]["rabbitmq"]["id"]
    for queue, n in (("rmq_alice_experiments", 2), ("billing", 5)):
        _sandbox(served, "queues", {"vm_id": vm_id, "queue": queue, "messages": n})
    _until("2 runners ready", lambda: _runners(kubeconfig) == (2, 2))
    nodes = _gpu_nodes(kubeconfig)
    assert len(nodes) == 2 and all(n["metadata"]["labels"]["kubernetes.azure.com/scalesetpriority"] == "spot"
                                   and SPOT_TAINT in n["spec"]["taints"] for n in nodes)
    low = next(u for u in ComputeManagementClient(cred, sub, **kw).usage.list("eastus")
               if u.name.value == "lowPriorityCores")
    assert low.current_value == 8  # 2 x 4 vCPUs, not in the NCasT4 family's quota

    # Azure takes a Spot node back: its runner's pod goes, a new node comes for the pod left Pending, it runs there
    evicted = _sandbox(served, "spot", {"cluster_id": region["cluster_id"], "pool": "gpu", "evict": 1})["evicted"]
    assert len(evicted) == 1
    _until("the evicted node replaced", lambda: evicted[0] not in _names(kubeconfig) and len(_names(kubeconfig)) == 2
           and _runners(kubeconfig) == (2, 2))

    # a re-run leaves KEDA's replicas and the autoscaler's count alone
    code, again, err = run(home, "apply", *args, "--answers", str(answers), "--yes", "--json", env=env)
    assert code == 0, err[-3000:]
    assert again["steps"]["runner"]["action"] == "none" and again["steps"]["cluster"]["action"] == "none"
    assert _runners(kubeconfig)[0] == 2

    # scale to zero off again: KEDA's objects go, the runners are the answered count, the pool keeps its nodes
    _sandbox(served, "queues", {"vm_id": vm_id, "queue": "rmq_alice_experiments", "messages": 0})
    code, off, err = run(home, "apply", *args, "--answers", str(answers_with(tmp_path, gpu_priority="spot")), "--yes",
                         "--json", env=env)
    assert code == 0, err[-3000:]
    assert "remove ScaledObject/studioml-go-runner, TriggerAuthentication/studioml-keda-rabbitmq" in \
        off["steps"]["runner"]["detail"], off["steps"]["runner"]
    gone = subprocess.run([require_kubectl(), "--kubeconfig", kubeconfig, "get", "scaledobjects", "-n",
                           "gpu-resources", "-o", "name"], capture_output=True, text=True, timeout=60, check=True)
    assert gone.stdout.strip() == "", gone.stdout
    assert _runners(kubeconfig) == (2, 2)
    pool = aks.agent_pools.get(f"leafai-{uid}", f"leafai-cluster-{uid}", "gpu")
    assert (pool.enable_auto_scaling, pool.min_count, pool.max_count) == (True, 2, 2)
    rules = {r.name for r in NetworkManagementClient(cred, sub, **kw).network_security_groups.get(
        f"studioml-{uid}", f"studioml-services-nsg-{uid}").security_rules}
    assert "allow-rabbitmq-management-from-clusters" not in rules
