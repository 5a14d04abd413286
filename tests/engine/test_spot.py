"""A Spot GPU pool: priced with the Retail Prices API's Spot items, counted against the regional low-priority
vCPUs, made Spot with eviction Delete and no price cap, autoscaled so that an eviction's runners come back on a new
node."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import requests
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.containerservice import ContainerServiceClient

from tests.conftest import RunningSandbox, admin_credential, require_kubectl
from tests.engine.helpers import Home, answers_with, endpoint_args, kubectl_deployment, run


def _nodes(kubeconfig: str) -> list[dict[str, Any]]:
    out = subprocess.run([require_kubectl(), "--kubeconfig", kubeconfig, "get", "nodes", "-o", "json"],
                         capture_output=True, text=True, timeout=60, check=True)
    return list(json.loads(out.stdout)["items"])


def _spot_price(served: RunningSandbox, size: str) -> float:
    resp = requests.get(served.info["prices"], verify=served.info["ca_bundle"], timeout=10, params={
        "$filter": f"serviceName eq 'Virtual Machines' and armRegionName eq 'eastus' and armSkuName eq '{size}'"})
    return float(next(i["retailPrice"] for i in resp.json()["Items"] if i["meterName"].endswith(" Spot")
                      and "Windows" not in i["productName"]))


def test_a_spot_pool_is_priced_made_and_its_evicted_runners_come_back(tmp_path: Path, served: RunningSandbox,
                                                                      home: Home) -> None:
    args, env = endpoint_args(served.info)
    answers = answers_with(tmp_path, gpu_priority="spot")
    code, plan, err = run(home, "plan", *args, "--answers", str(answers), "--json", env=env)
    assert code == 0, err[-3000:]
    gpu_line = next(x for x in plan["estimate"]["lines"] if x["item"] == "GPU pool nodes")
    assert gpu_line["sku"] == "Standard_NC4as_T4_v3 Spot (evictable)", gpu_line
    assert gpu_line["unit_price"] == _spot_price(served, "Standard_NC4as_T4_v3"), gpu_line

    code, doc, err = run(home, "apply", *args, "--answers", str(answers), "--yes", "--json", env=env)
    assert code == 0, err[-3000:]
    sub, uid = doc["subscription"]["id"], doc["uniq_id"]["value"]
    kw: dict[str, Any] = {"base_url": served.info["arm"], "connection_verify": served.info["ca_bundle"]}
    cred = admin_credential(served.info)
    pool = ContainerServiceClient(cred, sub, **kw).agent_pools.get(f"leafai-{uid}", f"leafai-cluster-{uid}", "gpu")
    assert (pool.scale_set_priority, pool.scale_set_eviction_policy, pool.spot_max_price) == ("Spot", "Delete", -1)
    assert (pool.enable_auto_scaling, pool.min_count, pool.max_count) == (True, 2, 2)
    low = next(u for u in ComputeManagementClient(cred, sub, **kw).usage.list("eastus")
               if u.name.value == "lowPriorityCores")
    assert low.current_value == 8  # 2 x 4 vCPUs, not in the NCasT4 family's quota

    kubeconfig = doc["regions"][0]["kubeconfig"]
    spot = [n for n in _nodes(kubeconfig) if n["metadata"]["labels"].get("agentpool") == "gpu"]
    assert len(spot) == 2 and all(n["metadata"]["labels"]["kubernetes.azure.com/scalesetpriority"] == "spot"
                                  for n in spot)
    assert all({"key": "kubernetes.azure.com/scalesetpriority", "value": "spot", "effect": "NoSchedule"}
               in n["spec"]["taints"] for n in spot)
    assert kubectl_deployment(kubeconfig)["status"].get("readyReplicas") == 2

    # Azure takes one node back: its runner's pod goes, a new node comes for the pod left Pending, the pod runs there
    evicted = requests.post(f"{served.info['arm']}/sandbox/spot", verify=served.info["ca_bundle"], timeout=10, json={
        "cluster_id": doc["regions"][0]["cluster_id"], "pool": "gpu", "evict": 1}).json()["evicted"]
    assert len(evicted) == 1
    deadline, names = time.monotonic() + 90, set()
    while time.monotonic() < deadline:
        names = {n["metadata"]["name"] for n in _nodes(kubeconfig) if n["metadata"]["labels"].get("agentpool") == "gpu"}
        if evicted[0] not in names and len(names) == 2 and \
                kubectl_deployment(kubeconfig)["status"].get("readyReplicas") == 2:
            break
        time.sleep(0.5)
    assert evicted[0] not in names and len(names) == 2, names
    assert kubectl_deployment(kubeconfig)["status"].get("readyReplicas") == 2
    code, again, err = run(home, "apply", *args, "--answers", str(answers), "--yes", "--json", env=env)
    assert code == 0 and again["steps"]["cluster"]["action"] == "none", err[-3000:]  # the autoscaler's count is its own
