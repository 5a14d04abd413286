"""Nodes, the scheduler and the kubelet, simulated for a sandbox cluster.

Nodes mirror the cluster's agent pools (GPU pools keep their taints). A GPU node advertises
``nvidia.com/gpu`` only once a device-plugin DaemonSet pod runs on it. Pods are scheduled as the
scheduler does (node selector, untolerated taints, resource fit), then started by the kubelet after
their config (Secrets, ConfigMaps) and images (registry credentials) check out.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from typing import Any

from ..arm import catalog
from ..registry import can_pull, grants_pull
from . import autoscale
from .kinds import BY_PLURAL
from .objects import Cluster, now_rfc3339
from .workloads import probe_args, run_probe

NODES, PODS = BY_PLURAL[("", "v1", "nodes")], BY_PLURAL[("", "v1", "pods")]
SECRETS, CONFIGMAPS = BY_PLURAL[("", "v1", "secrets")], BY_PLURAL[("", "v1", "configmaps")]
EVENTS = BY_PLURAL[("", "v1", "events")]
START_SECONDS = 10.0
PUBLIC_HOSTS = ("docker.io", "quay.io", "nvcr.io", "mcr.microsoft.com", "registry.k8s.io", "ghcr.io", "gcr.io")


def parse_quantity(value: Any) -> float:
    """A Kubernetes quantity as a number (cpu in cores, memory in bytes)."""
    text = str(value)
    m = re.match(r"^([0-9.]+)([a-zA-Z]*)$", text)
    if not m:
        return 0.0
    num, unit = float(m.group(1)), m.group(2)
    factors = {"": 1, "m": 1e-3, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 1024, "Mi": 1024**2,
               "Gi": 1024**3, "Ti": 1024**4}
    return num * factors.get(unit, 1)


def tolerates(tolerations: list[dict[str, Any]], taint: dict[str, Any]) -> bool:
    """Whether any toleration tolerates the taint."""
    for t in tolerations or []:
        if t.get("effect") and t["effect"] != taint.get("effect"):
            continue
        if t.get("operator") == "Exists":
            if not t.get("key") or t.get("key") == taint.get("key"):
                return True
        elif t.get("key") == taint.get("key") and (t.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def _taints(pool: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    for text in pool.get("nodeTaints") or []:
        kv, _, effect = text.partition(":")
        key, _, value = kv.partition("=")
        out.append({"key": key, "value": value, "effect": effect})
    return out


def device_plugin_ready(cluster: Cluster, node: str) -> bool:
    """A running device-plugin pod on the node."""
    return any(p["spec"].get("nodeName") == node and p.get("status", {}).get("phase") == "Running"
               and any("k8s-device-plugin" in c.get("image", "") for c in p["spec"].get("containers", []))
               for p in cluster.list(PODS))


def _node_address(cluster: Cluster, pool: dict[str, Any], n: int) -> str:
    """A node's address: the n-th host of its pool's subnet after Azure's reserved first four (Azure CNI: nodes take
    addresses in the VNet subnet), or of AKS's own 10.224.0.0/16 when the pool names no subnet."""
    subnet = cluster.sbx.get_resource(str(pool.get("vnetSubnetID") or ""))
    prefix = subnet["body"]["properties"]["addressPrefix"] if subnet else "10.224.0.0/16"
    return str(ipaddress.IPv4Network(prefix).network_address + 4 + n)


def pool_labels(pool: dict[str, Any], location: str) -> dict[str, str]:
    """The labels AKS gives every node of a pool (the hostname aside)."""
    size = catalog.SIZE_BY_NAME.get(pool["vmSize"].lower())
    labels = {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
              "agentpool": pool["name"], "kubernetes.azure.com/agentpool": pool["name"],
              "kubernetes.azure.com/mode": pool.get("mode", "User").lower(),
              "node.kubernetes.io/instance-type": pool["vmSize"], "topology.kubernetes.io/region": location}
    if size and size[4]:
        labels["accelerator"] = "nvidia"
    if pool.get("scaleSetPriority") == "Spot":  # AKS labels (and taints) Spot nodes itself
        labels["kubernetes.azure.com/scalesetpriority"] = "spot"
    labels.update(pool.get("nodeLabels") or {})
    return labels


def pool_capacity(pool: dict[str, Any]) -> dict[str, float]:
    """What one node of the pool offers pods (its GPUs once the device plugin runs there)."""
    size = catalog.SIZE_BY_NAME.get(pool["vmSize"].lower())
    vcpus, mem_gib, gpus = (size[2], size[3], size[4]) if size else (2, 8.0, 0)
    return {"cpu": vcpus - 0.14, "memory": mem_gib * 1024 ** 3 * 0.85, "pods": float(pool.get("maxPods", 110)),
            "nvidia.com/gpu": float(gpus)}


def sync_nodes(cluster: Cluster, rec: dict[str, Any]) -> None:
    """Nodes for every agent pool; GPU capacity once the device plugin runs there."""
    want: dict[str, tuple[dict[str, Any], int]] = {}
    addresses: dict[str, str] = {}
    per_subnet: dict[str, int] = {}
    for pool in rec["body"]["properties"]["agentPoolProfiles"]:
        digits = autoscale.pool_digits(rec, pool["name"])
        subnet = str(pool.get("vnetSubnetID") or "").lower()
        for i in autoscale.node_ids(cluster, pool):
            name = f"aks-{pool['name']}-{digits}-vmss{i:06d}"
            want[name] = (pool, i)
            addresses[name] = _node_address(cluster, pool, per_subnet.get(subnet, 0))
            per_subnet[subnet] = per_subnet.get(subnet, 0) + 1
    for node in cluster.list(NODES):
        if node["metadata"]["name"] not in want:
            cluster.delete(NODES, None, node["metadata"]["name"])
    for name, (pool, _i) in want.items():
        size = catalog.SIZE_BY_NAME.get(pool["vmSize"].lower())
        vcpus, mem_gib, gpus = (size[2], size[3], size[4]) if size else (2, 8.0, 0)
        capacity = {"cpu": str(vcpus), "memory": f"{int(mem_gib * 1024 * 1024)}Ki",
                    "pods": str(pool.get("maxPods", 110)), "ephemeral-storage": "129886128Ki"}
        allocatable = {"cpu": f"{vcpus * 1000 - 140}m", "memory": f"{int(mem_gib * 1024 * 1024 * 0.85)}Ki",
                       "pods": capacity["pods"], "ephemeral-storage": "119703055367"}
        if gpus and device_plugin_ready(cluster, name):
            capacity["nvidia.com/gpu"] = allocatable["nvidia.com/gpu"] = str(gpus)
        status: dict[str, Any] = {"capacity": capacity, "allocatable": allocatable,
                  "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                  "message": "kubelet is posting ready status", "lastHeartbeatTime": now_rfc3339(),
                                  "lastTransitionTime": "2026-01-01T00:00:00Z"}],
                  "addresses": [{"type": "InternalIP", "address": addresses[name]},
                                {"type": "Hostname", "address": name}],
                  "nodeInfo": {"kubeletVersion": f"v{pool.get('orchestratorVersion', '1.32.6')}",
                               "kubeProxyVersion": "", "osImage": "Ubuntu 22.04.5 LTS",
                               "containerRuntimeVersion": "containerd://1.7.27-1", "kernelVersion": "5.15.0-1089-azure",
                               "operatingSystem": "linux", "architecture": "amd64", "machineID": "", "systemUUID": "",
                               "bootID": ""}}
        existing = cluster.get(NODES, None, name)
        if existing is None:
            labels = {"kubernetes.io/hostname": name, **pool_labels(pool, rec["location"])}
            obj = {"metadata": {"name": name, "labels": labels}, "spec": {"taints": _taints(pool)} if _taints(pool)
                   else {}, "status": status}
            cluster.create(NODES, obj, "kubelet")
        else:
            conditions: list[dict[str, Any]] = status["conditions"]
            conditions[0]["lastHeartbeatTime"] = existing["status"]["conditions"][0]["lastHeartbeatTime"]
            cluster.set_status(NODES, existing, status)


def _requests(pod: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for c in pod["spec"].get("containers", []):
        res = c.get("resources") or {}
        merged = {**(res.get("limits") or {}), **(res.get("requests") or {})}
        for k, v in merged.items():
            if k == "cpu" or k == "memory" or "/" in k:
                if k in ("cpu", "memory") and k not in (res.get("requests") or {}):
                    continue
                out[k] = out.get(k, 0.0) + parse_quantity(v)
    return out


def schedule(cluster: Cluster, pod: dict[str, Any]) -> str | None:
    """Bind a pending pod to a node, or record why it cannot run anywhere."""
    nodes = cluster.list(NODES)
    pods = cluster.list(PODS)
    need = _requests(pod)
    reasons: dict[str, int] = {}
    spec = pod["spec"]
    for node in nodes:
        name = node["metadata"]["name"]
        labels = node["metadata"].get("labels", {})
        if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
            reasons["node(s) didn't match Pod's node affinity/selector"] = reasons.get(
                "node(s) didn't match Pod's node affinity/selector", 0) + 1
            continue
        bad = [t for t in node["spec"].get("taints", []) if t["effect"] in ("NoSchedule", "NoExecute")
               and not tolerates(spec.get("tolerations") or [], t)]
        if bad:
            text = f"node(s) had untolerated taint {{{bad[0]['key']}: {bad[0].get('value', '')}}}"
            reasons[text] = reasons.get(text, 0) + 1
            continue
        alloc = node["status"]["allocatable"]
        used: dict[str, float] = {}
        for other in pods:
            if other["spec"].get("nodeName") == name and other["metadata"]["uid"] != pod["metadata"]["uid"]:
                for k, v in _requests(other).items():
                    used[k] = used.get(k, 0.0) + v
        short = [k for k, v in need.items() if used.get(k, 0.0) + v > parse_quantity(alloc.get(k, 0))]
        if short:
            text = f"Insufficient {short[0]}"
            reasons[text] = reasons.get(text, 0) + 1
            continue
        return str(name)
    detail = ", ".join(f"{n} {r}" for r, n in sorted(reasons.items()))
    message = f"0/{len(nodes)} nodes are available: {detail}." if nodes else "no nodes available to schedule pods"
    message += (f" preemption: 0/{len(nodes)} nodes are available: {len(nodes)} Preemption is not helpful for "
                "scheduling.")
    status = {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                                  "message": message, "lastTransitionTime": now_rfc3339()}],
              "qosClass": "BestEffort"}
    if pod.get("status", {}).get("conditions", [{}])[0].get("message") != message:
        cluster.set_status(PODS, pod, status)
        event(cluster, pod, "Warning", "FailedScheduling", message, "default-scheduler")
    return None


def event(cluster: Cluster, obj: dict[str, Any], kind: str, reason: str, message: str, source: str) -> None:
    """Record an Event about ``obj``."""
    meta = obj["metadata"]
    ns = meta.get("namespace", "default")
    now = now_rfc3339()
    cluster.create(EVENTS, {"metadata": {"generateName": f"{meta['name']}.", "namespace": ns},
                            "involvedObject": {"kind": obj.get("kind"), "namespace": ns, "name": meta["name"],
                                               "uid": meta["uid"], "apiVersion": obj.get("apiVersion")},
                            "reason": reason, "message": message, "type": kind, "source": {"component": source},
                            "firstTimestamp": now, "lastTimestamp": now, "count": 1})


def _config_problem(cluster: Cluster, pod: dict[str, Any]) -> str | None:
    ns = pod["metadata"]["namespace"]
    spec = pod["spec"]
    for c in spec.get("containers", []):
        for env in c.get("env") or []:
            ref = (env.get("valueFrom") or {})
            for key, kind in (("secretKeyRef", SECRETS), ("configMapKeyRef", CONFIGMAPS)):
                if key in ref and not ref[key].get("optional"):
                    obj = cluster.get(kind, ns, ref[key]["name"])
                    if obj is None:
                        return f'{kind.kind.lower()} "{ref[key]["name"]}" not found'
                    data = {**(obj.get("data") or {}), **(obj.get("stringData") or {})}
                    if ref[key]["key"] not in data:
                        return f'couldn\'t find key {ref[key]["key"]} in {kind.kind} {ns}/{ref[key]["name"]}'
        for src in c.get("envFrom") or []:
            for key, kind in (("secretRef", SECRETS), ("configMapRef", CONFIGMAPS)):
                if key in src and not src[key].get("optional") and cluster.get(kind, ns, src[key]["name"]) is None:
                    return f'{kind.kind.lower()} "{src[key]["name"]}" not found'
    for vol in spec.get("volumes") or []:
        if "secret" in vol and not vol["secret"].get("optional") and \
                cluster.get(SECRETS, ns, vol["secret"].get("secretName", "")) is None:
            return f'secret "{vol["secret"].get("secretName")}" not found'
        if "configMap" in vol and not vol["configMap"].get("optional") and \
                cluster.get(CONFIGMAPS, ns, vol["configMap"].get("name", "")) is None:
            return f'configmap "{vol["configMap"].get("name")}" not found'
    return None


def _pull_problem(cluster: Cluster, pod: dict[str, Any], rec: dict[str, Any]) -> str | None:
    sbx = cluster.sbx
    for c in pod["spec"].get("containers", []):
        image = c.get("image", "")
        host = image.split("/")[0] if "/" in image and ("." in image.split("/")[0]) else "docker.io"
        if not host.endswith(".azurecr.io"):
            continue
        repo, _, tag = image[len(host) + 1:].partition(":")
        tags = sbx.store.data["registry_tags"].get(host, {}).get(repo, {})
        if (tag or "latest") not in tags or tags[tag or "latest"]["available_at"] > sbx.now():
            return f'Failed to pull image "{image}": {host}/{repo}:{tag or "latest"}: not found'
        if _attached(sbx, rec, host, repo) or any(_secret_pulls(cluster, pod["metadata"]["namespace"],
                                                                s.get("name", ""), host, repo)
                                                  for s in pod["spec"].get("imagePullSecrets") or []):
            continue
        return (f'Failed to pull image "{image}": failed to authorize: failed to fetch anonymous token: unexpected '
                f"status from GET request to https://{host}/oauth2/token: 401 Unauthorized")
    return None


def _secret_pulls(cluster: Cluster, ns: str, name: str, host: str, repo: str) -> bool:
    secret = cluster.get(SECRETS, ns, name)
    if secret is None or secret.get("type") != "kubernetes.io/dockerconfigjson":
        return False
    try:
        config = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
        entry = config["auths"].get(host) or config["auths"].get(f"https://{host}") or {}
        user, pw = entry.get("username"), entry.get("password")
        if (not user or not pw) and entry.get("auth"):
            user, _, pw = base64.b64decode(entry["auth"]).decode().partition(":")
    except (KeyError, ValueError, TypeError):
        return False
    return bool(user and pw) and can_pull(cluster.sbx, host, str(user), str(pw), repo)


def _attached(sbx: Any, rec: dict[str, Any], host: str, repo: str) -> bool:
    kubelet = rec["body"]["properties"]["identityProfile"]["kubeletidentity"]["objectId"]
    reg = next((r for r in sbx.store.resources.values() if r["type"] == "Microsoft.ContainerRegistry/registries"
                and r["body"]["properties"]["loginServer"] == host), None)
    return reg is not None and any(a["properties"]["principalId"] == kubelet and grants_pull(sbx, reg, a, repo)
                                   for a in sbx.store.data.get("role_assignments", {}).values())


def _terminated(cluster: Cluster, pod: dict[str, Any], rec: dict[str, Any], base: dict[str, Any],
                scheduled: dict[str, Any]) -> bool:
    """A container that runs to its end (the check tool's probe, in a pod that is not restarted): its exit, once its
    run is over. Whether it is handled here."""
    spec = pod["spec"]
    container = spec["containers"][0]
    args = probe_args(container)
    if args is None or spec.get("restartPolicy", "Always") == "Always":
        return False
    exits: dict[str, Any] = cluster.state.setdefault("exits", {})
    uid = pod["metadata"]["uid"]
    if uid not in exits:
        code, text, seconds = run_probe(cluster, pod, rec, container, args)
        exits[uid] = {"code": code, "text": text, "at": cluster.sbx.now() + cluster.sbx.scaled(seconds)}
    done = exits[uid]
    if cluster.sbx.now() < done["at"]:
        return False
    terminated = {"exitCode": done["code"], "reason": "Completed" if done["code"] == 0 else "Error",
                  "message": done["text"], "startedAt": base["startTime"], "finishedAt": now_rfc3339()}
    statuses = [{"name": container["name"], "ready": False, "restartCount": 0, "image": container.get("image", ""),
                 "imageID": "", "started": False, "state": {"terminated": terminated}}]
    phase = "Succeeded" if done["code"] == 0 else "Failed"
    if pod.get("status", {}).get("phase") != phase:
        cluster.set_status(PODS, pod, {**base, "phase": phase, "conditions": [
            scheduled, {"type": "Initialized", "status": "True"},
            {"type": "ContainersReady", "status": "False", "reason": "PodCompleted"},
            {"type": "Ready", "status": "False", "reason": "PodCompleted"}], "containerStatuses": statuses})
    return True


def run_pod(cluster: Cluster, pod: dict[str, Any], rec: dict[str, Any]) -> None:
    """The kubelet: config and image checks, then Running and Ready after a start-up delay."""
    timers: dict[str, float] = cluster.state.setdefault("pod_timers", {})
    uid = pod["metadata"]["uid"]
    names = [c["name"] for c in pod["spec"].get("containers", [])]
    scheduled = {"type": "PodScheduled", "status": "True", "lastTransitionTime": now_rfc3339()}
    base = {"hostIP": "10.224.0.4", "startTime": pod.get("status", {}).get("startTime") or now_rfc3339(),
            "qosClass": "BestEffort"}
    problem = _config_problem(cluster, pod)
    reason = "CreateContainerConfigError"
    if problem is None:
        problem, reason = _pull_problem(cluster, pod, rec), "ErrImagePull"
    if problem is not None:
        timers.pop(uid, None)
        waiting = [{"name": n, "ready": False, "restartCount": 0, "image": c.get("image", ""), "imageID": "",
                    "started": False, "state": {"waiting": {"reason": reason, "message": problem}}}
                   for n, c in zip(names, pod["spec"]["containers"], strict=True)]
        status = {**base, "phase": "Pending", "conditions": [scheduled, {"type": "Ready", "status": "False",
                  "reason": "ContainersNotReady", "message": f"containers with unready status: [{' '.join(names)}]"}],
                  "containerStatuses": waiting}
        if pod.get("status", {}).get("containerStatuses") != waiting:
            cluster.set_status(PODS, pod, status)
            event(cluster, pod, "Warning", "Failed", problem, "kubelet")
        return
    ready_at = timers.setdefault(uid, cluster.sbx.now() + cluster.sbx.scaled(START_SECONDS))
    if cluster.sbx.now() >= ready_at and _terminated(cluster, pod, rec, base, scheduled):
        return
    if cluster.sbx.now() < ready_at:
        state: dict[str, Any] = {"waiting": {"reason": "ContainerCreating"}}
        phase, ready = "Pending", "False"
    else:
        state, phase, ready = {"running": {"startedAt": base["startTime"]}}, "Running", "True"
    statuses = [{"name": n, "ready": ready == "True", "restartCount": 0, "image": c.get("image", ""), "imageID": "",
                 "started": ready == "True", "state": state}
                for n, c in zip(names, pod["spec"]["containers"], strict=True)]
    cur = pod.get("status", {})
    if cur.get("phase") == phase and cur.get("containerStatuses") == statuses:
        return
    cluster.set_status(PODS, pod, {**base, "phase": phase, "podIP": f"10.244.0.{int(uid[:2], 16) % 250 + 2}",
                                   "conditions": [scheduled, {"type": "Initialized", "status": "True"},
                                                  {"type": "ContainersReady", "status": ready},
                                                  {"type": "Ready", "status": ready}],
                                   "containerStatuses": statuses})
