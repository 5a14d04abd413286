"""Simulated controllers of every sandbox cluster: Deployments, ReplicaSets, DaemonSets, GC, scheduling.

One loop reconciles all clusters a few times a second; the pace of what they simulate (node
readiness, pod start-up) follows the sandbox speed factor.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import time
from typing import Any

from .. import guest
from ..arm.base import Sandbox
from . import kubelet
from .kinds import BY_PLURAL, Kind
from .objects import Cluster
from .selectors import matches_selector

DEPLOYMENTS, REPLICASETS = BY_PLURAL[("apps", "v1", "deployments")], BY_PLURAL[("apps", "v1", "replicasets")]
DAEMONSETS, PODS = BY_PLURAL[("apps", "v1", "daemonsets")], BY_PLURAL[("", "v1", "pods")]
NAMESPACES = BY_PLURAL[("", "v1", "namespaces")]
TICK = 0.1
log = logging.getLogger(__name__)


async def run(sbx: Sandbox) -> None:
    """Reconcile forever; save the state at most once a second when something changed."""
    last_save = time.monotonic()
    while True:
        await asyncio.sleep(TICK)
        try:
            guest.tick(sbx)
            reconcile_all(sbx)
        except Exception:  # a controller bug must not kill the server; it shows in the log
            log.exception("sandbox controllers failed")
        if sbx.store.data.pop("_dirty", False) and time.monotonic() - last_save > 1:
            sbx.store.save()
            last_save = time.monotonic()


def reconcile_all(sbx: Sandbox) -> None:
    """One pass over every running cluster."""
    for key, state in list(sbx.store.data["kube"].items()):
        rec = sbx.get_resource(state["cluster_id"])
        if rec is None or sbx.provisioning_state(rec) != "Succeeded":
            continue
        cluster = Cluster(sbx, key)
        bootstrap(cluster)
        kubelet.sync_nodes(cluster, rec)
        for ds in cluster.list(DAEMONSETS):
            daemonset(cluster, ds)
        for dep in cluster.list(DEPLOYMENTS):
            deployment(cluster, dep)
        for rs in cluster.list(REPLICASETS):
            replicaset(cluster, rs)
        collect_garbage(cluster)
        for pod in cluster.list(PODS):
            if not pod["spec"].get("nodeName"):
                node = kubelet.schedule(cluster, pod)
                if node is None:
                    continue
                pod["spec"]["nodeName"] = node
                pod = cluster.replace(PODS, pod, check_rv=False)
            kubelet.run_pod(cluster, pod, rec)


def bootstrap(cluster: Cluster) -> None:
    """The namespaces every cluster has from its first answer on (the API server serves, then they exist)."""
    if cluster.state.get("bootstrapped"):
        return
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        if cluster.get(NAMESPACES, None, ns) is None:
            cluster.create(NAMESPACES, {"metadata": {"name": ns, "labels": {
                "kubernetes.io/metadata.name": ns}}, "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"}}, "kube-apiserver")
    cluster.state["bootstrapped"] = True


def _template_hash(template: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


def _owned(cluster: Cluster, kind: Kind, owner: dict[str, Any]) -> list[dict[str, Any]]:
    uid = owner["metadata"]["uid"]
    return [o for o in cluster.list(kind, owner["metadata"].get("namespace"))
            if any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or [])]


def _owner_ref(owner: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def _new_pod(cluster: Cluster, owner: dict[str, Any], template: dict[str, Any], extra_labels: dict[str, str],
             node: str | None = None) -> None:
    meta = template.get("metadata") or {}
    spec = json.loads(json.dumps(template.get("spec") or {}))
    if node:
        spec["nodeName"] = node
    pod = {"metadata": {"name": f"{owner['metadata']['name']}-{secrets.token_hex(3)[:5]}",
                        "namespace": owner["metadata"]["namespace"],
                        "labels": {**(meta.get("labels") or {}), **extra_labels},
                        "annotations": meta.get("annotations") or {}, "ownerReferences": [_owner_ref(owner)]},
           "spec": spec, "status": {"phase": "Pending"}}
    cluster.create(PODS, pod, kubelet_manager(owner))


def kubelet_manager(owner: dict[str, Any]) -> str:
    """Who writes pods for an owner kind."""
    return {"DaemonSet": "daemon-set-controller", "ReplicaSet": "replicaset-controller"}.get(owner["kind"], "kube")


def _ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def daemonset(cluster: Cluster, ds: dict[str, Any]) -> None:
    """One pod per eligible node; status from those pods."""
    spec = ds["spec"]
    template = spec.get("template") or {}
    pod_spec = template.get("spec") or {}
    h = _template_hash(template)
    eligible = []
    for node in cluster.list(kubelet.NODES):
        labels = node["metadata"].get("labels", {})
        if any(labels.get(k) != v for k, v in (pod_spec.get("nodeSelector") or {}).items()):
            continue
        if all(kubelet.tolerates(pod_spec.get("tolerations") or [], t) for t in node["spec"].get("taints", [])
               if t["effect"] in ("NoSchedule", "NoExecute")):
            eligible.append(node["metadata"]["name"])
    pods = _owned(cluster, PODS, ds)
    for pod in pods:
        revision = pod["metadata"]["labels"].get("controller-revision-hash")
        if pod["spec"].get("nodeName") not in eligible or revision != h:
            cluster.delete(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])
    pods = _owned(cluster, PODS, ds)
    have = {p["spec"].get("nodeName") for p in pods}
    for node_name in eligible:
        if node_name not in have:
            _new_pod(cluster, ds, template, {"controller-revision-hash": h, "pod-template-generation": "1"}, node_name)
    pods = _owned(cluster, PODS, ds)
    ready = sum(1 for p in pods if _ready(p))
    cluster.set_status(DAEMONSETS, ds, {
        "currentNumberScheduled": len(pods), "desiredNumberScheduled": len(eligible), "numberMisscheduled": 0,
        "numberReady": ready, "numberAvailable": ready, "updatedNumberScheduled": len(pods),
        "observedGeneration": ds["metadata"].get("generation", 1),
        **({"numberUnavailable": len(eligible) - ready} if len(eligible) > ready else {})})


def deployment(cluster: Cluster, dep: dict[str, Any]) -> None:
    """A ReplicaSet for the current template; older ones scaled to zero; status from them."""
    spec = dep["spec"]
    template = json.loads(json.dumps(spec.get("template") or {}))
    h = _template_hash(template)
    name = f"{dep['metadata']['name']}-{h}"
    owned = _owned(cluster, REPLICASETS, dep)
    replicas = int(spec.get("replicas", 1))
    current = next((rs for rs in owned if rs["metadata"]["name"] == name), None)
    if current is None:
        template.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = h
        selector = json.loads(json.dumps(spec.get("selector") or {}))
        selector.setdefault("matchLabels", {})["pod-template-hash"] = h
        cluster.create(REPLICASETS, {"metadata": {
            "name": name, "namespace": dep["metadata"]["namespace"],
            "labels": {**(template["metadata"]["labels"])}, "ownerReferences": [_owner_ref(dep)],
            "annotations": {"deployment.kubernetes.io/revision": str(len(owned) + 1)}},
            "spec": {"replicas": replicas, "selector": selector, "template": template}}, "deployment-controller")
    else:
        if current["spec"].get("replicas") != replicas:
            current["spec"]["replicas"] = replicas
            cluster.replace(REPLICASETS, current, check_rv=False)
    for rs in owned:
        if rs["metadata"]["name"] != name and rs["spec"].get("replicas"):
            rs["spec"]["replicas"] = 0
            cluster.replace(REPLICASETS, rs, check_rv=False)
    owned = _owned(cluster, REPLICASETS, dep)
    total = sum(rs.get("status", {}).get("replicas", 0) for rs in owned)
    ready = sum(rs.get("status", {}).get("readyReplicas", 0) for rs in owned)
    new = next((rs for rs in owned if rs["metadata"]["name"] == name), None)
    updated = (new or {}).get("status", {}).get("replicas", 0)
    complete = ready >= replicas and updated == replicas and total == replicas
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    status: dict[str, Any] = {
        "observedGeneration": dep["metadata"].get("generation", 1), "replicas": total, "updatedReplicas": updated,
        "readyReplicas": ready, "availableReplicas": ready,
        "conditions": [
            {"type": "Available", "status": "True" if ready >= replicas else "False",
             "reason": "MinimumReplicasAvailable" if ready >= replicas else "MinimumReplicasUnavailable",
             "message": "Deployment has minimum availability." if ready >= replicas else
             "Deployment does not have minimum availability.", "lastUpdateTime": now, "lastTransitionTime": now},
            {"type": "Progressing", "status": "True",
             "reason": "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated",
             "message": f'ReplicaSet "{name}" has successfully progressed.' if complete else
             f'ReplicaSet "{name}" is progressing.', "lastUpdateTime": now, "lastTransitionTime": now}]}
    if total - ready > 0:
        status["unavailableReplicas"] = total - ready
    old = dep.get("status", {})
    if {k: v for k, v in old.items() if k != "conditions"} != {k: v for k, v in status.items() if k != "conditions"} \
            or [c.get("status") for c in old.get("conditions", [])] != [c["status"] for c in status["conditions"]] \
            or [c.get("reason") for c in old.get("conditions", [])] != [c["reason"] for c in status["conditions"]]:
        cluster.set_status(DEPLOYMENTS, dep, status)


def replicaset(cluster: Cluster, rs: dict[str, Any]) -> None:
    """Pods up or down to ``replicas``; status from them."""
    want = int(rs["spec"].get("replicas", 1))
    pods = [p for p in _owned(cluster, PODS, rs)
            if matches_selector(rs["spec"].get("selector"), p["metadata"].get("labels") or {})]
    for pod in pods[want:]:
        cluster.delete(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])
    for _ in range(want - len(pods)):
        _new_pod(cluster, rs, rs["spec"].get("template") or {}, {})
    pods = _owned(cluster, PODS, rs)
    ready = sum(1 for p in pods if _ready(p))
    cluster.set_status(REPLICASETS, rs, {"replicas": len(pods), "fullyLabeledReplicas": len(pods),
                                         "readyReplicas": ready, "availableReplicas": ready,
                                         "observedGeneration": rs["metadata"].get("generation", 1)})


def collect_garbage(cluster: Cluster) -> None:
    """Delete ReplicaSets and Pods whose controller owner is gone."""
    uids = {o["metadata"]["uid"] for k in (DEPLOYMENTS, REPLICASETS, DAEMONSETS) for o in cluster.list(k)}
    for kind in (REPLICASETS, PODS):
        for obj in cluster.list(kind):
            refs = obj["metadata"].get("ownerReferences") or []
            if refs and not any(r.get("uid") in uids for r in refs):
                cluster.delete(kind, obj["metadata"]["namespace"], obj["metadata"]["name"])
                cluster.state.get("pod_timers", {}).pop(obj["metadata"]["uid"], None)
