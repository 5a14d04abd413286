"""The cluster autoscaler and Spot evictions of a sandbox AKS cluster.

Autoscaler, as AKS runs it ("Use the cluster autoscaler in AKS"; its profile defaults): a pool with
``enableAutoScaling`` gets a node when a pod is Pending that a node of that pool could run (taints tolerated, its
requests within one node), up to ``maxCount``, after the scan and the VM scale set's provisioning (about three
minutes for a GPU node: ``SCALE_UP_SECONDS``); a node on which nothing but DaemonSet pods ran for
``scale-down-unneeded-time`` (10 minutes) goes, down to ``minCount``. Times follow the sandbox speed.

Spot ("Add an Azure Spot node pool"): Azure evicts a Spot node when it needs the capacity; with the Delete eviction
policy the VM is deleted and the pool's count drops, its pods are gone with it, and (the pool being autoscaled) the
autoscaler adds a node again for the pods left Pending. A test evicts through ``/sandbox/spot``; a rate (evictions
an hour, per pool) evicts at random.

Which nodes a pool has is kept per pool (``cluster.state['pool_nodes']``), so an evicted node's name is not reused
by the next one, as a scale set's instance ids are not.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .kinds import BY_PLURAL
from .objects import Cluster

NODES, PODS = BY_PLURAL[("", "v1", "nodes")], BY_PLURAL[("", "v1", "pods")]
SCALE_UP_SECONDS = 180.0
UNNEEDED_SECONDS = 600.0


def node_ids(cluster: Cluster, pool: dict[str, Any]) -> list[int]:
    """The instance ids of a pool's nodes, grown or shrunk to its count (new ids after the highest yet used)."""
    kept: dict[str, Any] = cluster.state.setdefault("pool_nodes", {})
    entry = kept.setdefault(pool["name"], {"ids": [], "next": 0})
    count = int(pool.get("count") or 0)
    while len(entry["ids"]) < count:
        entry["ids"].append(entry["next"])
        entry["next"] += 1
    del entry["ids"][count:]
    return list(entry["ids"])


def _set_count(cluster: Cluster, rec: dict[str, Any], pool_name: str, count: int) -> None:
    """The pool's count in the cluster and in its agentPools resource (what AKS reports after a scale)."""
    for pool in rec["body"]["properties"]["agentPoolProfiles"]:
        if pool["name"] == pool_name:
            pool["count"] = count
    child = cluster.sbx.get_resource(f"{rec['id']}/agentPools/{pool_name}")
    if child is not None:
        child["body"]["properties"]["count"] = count
    cluster.sbx.store.data["_dirty"] = True


def evict(cluster: Cluster, rec: dict[str, Any], pool_name: str, n: int = 1) -> list[str]:
    """Evict ``n`` nodes of a Spot pool (the first ones): their VMs are deleted (Delete policy), the count drops."""
    pool = next((p for p in rec["body"]["properties"]["agentPoolProfiles"] if p["name"] == pool_name), None)
    if pool is None or pool.get("scaleSetPriority") != "Spot":
        return []
    entry = cluster.state.setdefault("pool_nodes", {}).get(pool_name) or {"ids": []}
    gone = entry["ids"][:n]
    entry["ids"] = entry["ids"][n:]
    _set_count(cluster, rec, pool_name, len(entry["ids"]))
    digits = pool_digits(rec, pool_name)
    return [f"aks-{pool_name}-{digits}-vmss{i:06d}" for i in gone]


def pool_digits(rec: dict[str, Any], pool_name: str) -> str:
    """The digits AKS puts in a pool's node names."""
    return str(int(hashlib.sha256((rec["id"] + pool_name).encode()).hexdigest()[:8], 16))[:8]


def _fits(pool: dict[str, Any], pod: dict[str, Any], location: str) -> bool:
    """Whether a new node of the pool could run the pod: its selector, the pool's taints, one node's capacity."""
    from .kubelet import _requests, _taints, pool_capacity, pool_labels, tolerates

    spec = pod["spec"]
    labels = pool_labels(pool, location)
    capacity = pool_capacity(pool)
    if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    if any(t["effect"] in ("NoSchedule", "NoExecute") and not tolerates(spec.get("tolerations") or [], t)
           for t in _taints(pool)):
        return False
    return all(v <= capacity.get(k, 0.0) for k, v in _requests(pod).items())


def autoscale(cluster: Cluster, rec: dict[str, Any]) -> None:
    """One pass of the autoscaler (and of the Spot eviction rate) over the cluster's pools."""
    sbx = cluster.sbx
    now = sbx.now()
    timers: dict[str, Any] = cluster.state.setdefault("autoscaler", {})
    pods = cluster.list(PODS)
    pending = [p for p in pods if not p["spec"].get("nodeName") and p.get("status", {}).get("phase") == "Pending"]
    for pool in rec["body"]["properties"]["agentPoolProfiles"]:
        name, count = pool["name"], int(pool.get("count") or 0)
        rate = float((cluster.state.get("spot_rates") or {}).get(name) or 0.0)
        spot = pool.get("scaleSetPriority") == "Spot"
        if rate and spot and count and sbx.rng.random() < rate * 0.1 * sbx.speed / 3600:  # a 0.1 s tick
            evict(cluster, rec, name)
            continue
        if not pool.get("enableAutoScaling"):
            continue
        wanting = [p for p in pending if _fits(pool, p, rec["location"])]
        up_key = f"{name}:up"
        if wanting and count < int(pool.get("maxCount") or 0):
            started = timers.setdefault(up_key, now)
            if now - started >= sbx.scaled(SCALE_UP_SECONDS):
                _set_count(cluster, rec, name, count + 1)
                timers.pop(up_key, None)
            continue
        timers.pop(up_key, None)
        if count <= int(pool.get("minCount") or 0) or wanting:
            continue
        ids = node_ids(cluster, pool)
        digits = pool_digits(rec, name)
        for i in reversed(ids):
            node = f"aks-{name}-{digits}-vmss{i:06d}"
            busy = any(p["spec"].get("nodeName") == node and not _daemon(p) for p in pods)
            key = f"{name}:idle:{node}"
            if busy:
                timers.pop(key, None)
                continue
            since = timers.setdefault(key, now)
            if now - since >= sbx.scaled(UNNEEDED_SECONDS):
                entry = cluster.state["pool_nodes"][name]
                entry["ids"] = [x for x in entry["ids"] if x != i]
                _set_count(cluster, rec, name, len(entry["ids"]))
                timers.pop(key, None)
            break


def _daemon(pod: dict[str, Any]) -> bool:
    return any(o.get("kind") == "DaemonSet" for o in pod["metadata"].get("ownerReferences") or [])
