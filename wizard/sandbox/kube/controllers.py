"""Simulated controllers of every sandbox cluster: Deployments, ReplicaSets, DaemonSets, GC, scheduling.

One loop reconciles all clusters a few times a second; the pace of what they simulate (node
readiness, pod start-up) follows the sandbox speed factor.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from typing import Any

from .. import guest
from ..arm.base import Sandbox
from . import autoscale, keda, kubelet, rollout
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
        keda.run_keda(cluster, rec)
        autoscale.autoscale(cluster, rec)
        kubelet.sync_nodes(cluster, rec)
        for ds in cluster.list(DAEMONSETS):
            daemonset(cluster, ds)
        collect_orphans(cluster)
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
    h = rollout.template_hash(template)
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
    """The Deployment controller: a ReplicaSet per template, scaled as the strategy allows (:mod:`.rollout`);
    status from the ReplicaSets."""
    spec = dep["spec"]
    template = json.loads(json.dumps(spec.get("template") or {}))
    h = rollout.template_hash(template)
    name = f"{dep['metadata']['name']}-{h}"
    owned = _owned(cluster, REPLICASETS, dep)
    replicas = int(spec.get("replicas", 1))
    current = next((rs for rs in owned if rs["metadata"]["name"] == name), None)
    if current is None:
        template.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = h
        selector = json.loads(json.dumps(spec.get("selector") or {}))
        selector.setdefault("matchLabels", {})["pod-template-hash"] = h
        first = not owned  # a new Deployment starts at full size; a new template rolls out
        current = cluster.create(REPLICASETS, {"metadata": {
            "name": name, "namespace": dep["metadata"]["namespace"],
            "labels": {**(template["metadata"]["labels"])}, "ownerReferences": [_owner_ref(dep)],
            "annotations": {"deployment.kubernetes.io/revision": str(len(owned) + 1)}},
            "spec": {"replicas": replicas if first else 0, "selector": selector, "template": template}},
            "deployment-controller")
    old = [rs for rs in _owned(cluster, REPLICASETS, dep) if rs["metadata"]["name"] != name]
    rollout.roll(cluster, dep, current, old, lambda rs: _owned(cluster, PODS, rs))
    owned = _owned(cluster, REPLICASETS, dep)
    new = next(rs for rs in owned if rs["metadata"]["name"] == name)
    total = sum(rs.get("status", {}).get("replicas", 0) for rs in owned)
    ready = sum(rs.get("status", {}).get("readyReplicas", 0) for rs in owned)
    available = sum(rs.get("status", {}).get("availableReplicas", 0) for rs in owned)
    updated = new.get("status", {}).get("replicas", 0)
    complete = available >= replicas and updated == replicas and total == replicas
    progressing, reason, message = rollout.progress(cluster, dep, new, complete)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    _surge, unavailable = rollout.limits(dep)
    minimum = replicas - unavailable if (spec.get("strategy") or {}).get("type") != "Recreate" else replicas
    status: dict[str, Any] = {
        "observedGeneration": dep["metadata"].get("generation", 1), "replicas": total, "updatedReplicas": updated,
        "readyReplicas": ready, "availableReplicas": available,
        "conditions": [
            {"type": "Available", "status": "True" if available >= minimum else "False",
             "reason": "MinimumReplicasAvailable" if available >= minimum else "MinimumReplicasUnavailable",
             "message": "Deployment has minimum availability." if available >= minimum else
             "Deployment does not have minimum availability.", "lastUpdateTime": now, "lastTransitionTime": now},
            {"type": "Progressing", "status": progressing, "reason": reason, "message": message,
             "lastUpdateTime": now, "lastTransitionTime": now}]}
    if replicas - available > 0:
        status["unavailableReplicas"] = replicas - available
    if _status_key(dep.get("status", {})) != _status_key(status):
        cluster.set_status(DEPLOYMENTS, dep, status)


def _status_key(status: dict[str, Any]) -> Any:
    """What of a Deployment's status counts as a change (not the conditions' times)."""
    return ({k: v for k, v in status.items() if k != "conditions"},
            [(c.get("status"), c.get("reason")) for c in status.get("conditions", [])])


def replicaset(cluster: Cluster, rs: dict[str, Any]) -> None:
    """Pods up or down to ``replicas`` (going down, pods not bound, not running or not ready go first, as upstream
    ranks them); status from them."""
    want = int(rs["spec"].get("replicas", 1))
    pods = [p for p in _owned(cluster, PODS, rs)
            if matches_selector(rs["spec"].get("selector"), p["metadata"].get("labels") or {})]
    pods.sort(key=lambda p: (bool(p["spec"].get("nodeName")), p.get("status", {}).get("phase") == "Running",
                             _ready(p)), reverse=True)
    for pod in pods[want:]:
        cluster.delete(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])
    for _ in range(want - len(pods)):
        _new_pod(cluster, rs, rs["spec"].get("template") or {}, {})
    pods = _owned(cluster, PODS, rs)
    ready = sum(1 for p in pods if _ready(p))
    cluster.set_status(REPLICASETS, rs, {"replicas": len(pods), "fullyLabeledReplicas": len(pods),
                                         "readyReplicas": ready, "availableReplicas": ready,
                                         "observedGeneration": rs["metadata"].get("generation", 1)})


def collect_orphans(cluster: Cluster) -> None:
    """PodGC: a pod bound to a node that no longer exists (a pool scaled down, a node gone) is deleted; its
    controller makes another, Pending until some node has room."""
    nodes = {n["metadata"]["name"] for n in cluster.list(kubelet.NODES)}
    for pod in cluster.list(PODS):
        if pod["spec"].get("nodeName") and pod["spec"]["nodeName"] not in nodes:
            cluster.delete(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])
            cluster.state.get("pod_timers", {}).pop(pod["metadata"]["uid"], None)


def collect_garbage(cluster: Cluster) -> None:
    """Delete ReplicaSets and Pods whose controller owner is gone."""
    uids = {o["metadata"]["uid"] for k in (DEPLOYMENTS, REPLICASETS, DAEMONSETS) for o in cluster.list(k)}
    for kind in (REPLICASETS, PODS):
        for obj in cluster.list(kind):
            refs = obj["metadata"].get("ownerReferences") or []
            if refs and not any(r.get("uid") in uids for r in refs):
                cluster.delete(kind, obj["metadata"]["namespace"], obj["metadata"]["name"])
                cluster.state.get("pod_timers", {}).pop(obj["metadata"]["uid"], None)
