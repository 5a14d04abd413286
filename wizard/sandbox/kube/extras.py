"""The API server's everyday extras for kubectl: a pod's log, the scale subresource, the metrics API that AKS's
metrics-server serves (``kubectl top``), and SelfSubjectAccessReview (``kubectl auth can-i``).

Logs are the simulated container's own lines, as its process would write them: the check tool's output for a probe,
studio-go-runner's start-up and queue polling (its log format, ``<time> INF <message> _: [<fields>]``, as its README
shows), a plain start line for anything else; ``tailLines``, ``sinceSeconds``, ``timestamps`` and ``follow`` behave as
the kubelet's. Metrics are the pods' CPU and memory requests at a steady share, the node's sum of its pods plus the
system's own; they only exist for running pods and ready nodes, as metrics-server's do.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from aiohttp import web

from .kinds import BY_PLURAL, Kind
from .kubelet import parse_quantity
from .objects import Cluster, KubeError, not_found

PODS, NODES = BY_PLURAL[("", "v1", "pods")], BY_PLURAL[("", "v1", "nodes")]
POLL_SECONDS = 30.0  # the runner checks its queues this often (scaled by --speed)
KEPT = 5000  # log lines the kubelet keeps (it rotates a container's log at 10 MiB)
USAGE_SHARE = 0.35  # a running container uses this share of what it requests, steadily


def _when(stamp: str) -> float:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _stamp(t: float, fmt: str = "%Y-%m-%dT%H:%M:%S+0000") -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime(fmt)


def _container(pod: dict[str, Any], name: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    specs = pod["spec"].get("containers") or []
    if name is None and len(specs) > 1:
        names = " ".join(c["name"] for c in specs)
        raise KubeError(400, "BadRequest", f"a container name must be specified for pod {pod['metadata']['name']}, "
                        f"choose one of: [{names}]")
    spec = next((c for c in specs if name in (None, c["name"])), None)
    if spec is None:
        raise KubeError(400, "BadRequest", f"container {name} is not valid for pod {pod['metadata']['name']}")
    status: dict[str, Any] = next((s for s in (pod.get("status") or {}).get("containerStatuses") or []
                                   if s.get("name") == spec["name"]), {})
    return spec, status


def log_lines(cluster: Cluster, pod: dict[str, Any], name: str | None) -> list[tuple[float, str]]:
    """(time, line) of everything the container has written so far."""
    spec, status = _container(pod, name)
    state = status.get("state") or {}
    if "waiting" in state or not state:
        reason = (state.get("waiting") or {}).get("reason", "ContainerCreating")
        raise KubeError(400, "BadRequest", f'container "{spec["name"]}" in pod "{pod["metadata"]["name"]}" is '
                        f"waiting to start: {reason}")
    ended = state.get("terminated")
    started = _when((ended or state["running"]).get("startedAt") or pod["status"].get("startTime"))
    if ended is not None:
        text = str(ended.get("message") or "")
        return [(_when(ended.get("finishedAt") or ended["startedAt"]), line) for line in text.splitlines()]
    image = str(spec.get("image", ""))
    if "studio-go-runner" not in image:
        return [(started, f"{spec['name']} started ({image})")]
    version = image.rpartition(":")[2]
    host = pod["metadata"]["name"]
    amqp = next((e.get("value") for e in spec.get("env") or [] if e.get("name") == "AMQP_URL"), "")
    lines = [(started, f"{_stamp(started)} INF runner version {version} starting _: [host {host}]"),
             (started, f"{_stamp(started)} INF gpus found _: [count 1 host {host}]"),
             (started, f"{_stamp(started)} INF queue server _: [url {_redact(amqp)} host {host}]")]
    step = cluster.sbx.scaled(POLL_SECONDS) or POLL_SECONDS
    # the kubelet rotates container logs: what is older than the last KEPT lines is gone
    t = max(started, started + step * (int((cluster.sbx.now() - started) / step) - KEPT))
    while t + step <= cluster.sbx.now():
        t += step
        lines.append((t, f"{_stamp(t)} INF no work found, checking queues again _: [host {host}]"))
    return lines


def _redact(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}" if sep else url or "(from the studioml-amqp secret)"


async def pod_log(request: web.Request, cluster: Cluster, namespace: str, name: str) -> web.StreamResponse:
    """GET .../pods/{name}/log."""
    q = request.query
    pod = cluster.get(PODS, namespace, name)
    if pod is None:
        raise not_found(PODS, name)
    container = q.get("container")
    lines = log_lines(cluster, pod, container)
    if "sinceSeconds" in q:
        lines = [ln for ln in lines if ln[0] >= cluster.sbx.now() - float(q["sinceSeconds"])]
    if "tailLines" in q:
        lines = lines[-int(q["tailLines"]):] if int(q["tailLines"]) > 0 else []
    stamped = q.get("timestamps") in ("true", "1")

    def text(batch: list[tuple[float, str]]) -> str:
        return "".join((f"{_stamp(t, '%Y-%m-%dT%H:%M:%S.000000000Z')} " if stamped else "") + f"{line}\n"
                       for t, line in batch)

    if q.get("follow") not in ("true", "1"):
        return web.Response(text=text(lines), content_type="text/plain")
    out = web.StreamResponse(headers={"Content-Type": "text/plain", "Transfer-Encoding": "chunked"})
    await out.prepare(request)
    await out.write(text(lines).encode())
    seen = len(log_lines(cluster, pod, container))
    while True:  # until the container ends, the pod goes, or the client hangs up
        await asyncio.sleep(max(0.05, min(1.0, cluster.sbx.scaled(POLL_SECONDS) / 2)))
        pod = cluster.get(PODS, namespace, name)
        if pod is None:
            break
        now = log_lines(cluster, pod, container)
        if len(now) > seen:
            await out.write(text(now[seen:]).encode())
            seen = len(now)
        if "terminated" in (_container(pod, container)[1].get("state") or {}):
            break
    await out.write_eof()
    return out


def scale(cluster: Cluster, kind: Kind, namespace: str, name: str, method: str, body: Any) -> dict[str, Any]:
    """GET/PUT/PATCH .../{deployments,replicasets}/{name}/scale: an autoscaling/v1 Scale."""
    obj = cluster.get(kind, namespace, name)
    if obj is None:
        raise not_found(kind, name)
    if method in ("PUT", "PATCH"):
        replicas = ((body or {}).get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise KubeError(422, "Invalid", f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value: '
                            f"{replicas}: must be greater than or equal to 0")
        obj = {**obj, "spec": {**obj["spec"], "replicas": replicas}}
        obj = cluster.replace(kind, obj, manager="kubectl")
        cluster.sbx.store.save()
    labels = ((obj["spec"].get("selector") or {}).get("matchLabels") or {})
    return {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": {
        "name": name, "namespace": namespace, "uid": obj["metadata"].get("uid"),
        "resourceVersion": obj["metadata"].get("resourceVersion"),
        "creationTimestamp": obj["metadata"].get("creationTimestamp")},
        "spec": {"replicas": obj["spec"].get("replicas", 1)},
        "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                   "selector": ",".join(f"{k}={v}" for k, v in labels.items())}}


def access_review(body: Any) -> dict[str, Any]:
    """POST selfsubjectaccessreviews: an AKS cluster user's credential (local accounts) may do everything."""
    spec = (body or {}).get("spec") or {}
    if not spec.get("resourceAttributes") and not spec.get("nonResourceAttributes"):
        raise KubeError(422, "Invalid", "SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: spec: Invalid "
                        "value: exactly one of nonResourceAttributes or resourceAttributes must be specified")
    return {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1", "metadata": {},
            "spec": spec, "status": {"allowed": True, "reason": "the cluster user credential is an administrator's"}}


def _usage(pods: list[dict[str, Any]]) -> dict[str, float]:
    cpu = mem = 0.0
    for pod in pods:
        for c in pod["spec"].get("containers") or []:
            req = (c.get("resources") or {}).get("requests") or {}
            cpu += parse_quantity(req.get("cpu", "10m")) * USAGE_SHARE
            mem += parse_quantity(req.get("memory", "16Mi")) * USAGE_SHARE
    return {"cpu": cpu, "memory": mem}


def _quantities(use: dict[str, float]) -> dict[str, str]:
    return {"cpu": f"{max(1, round(use['cpu'] * 1e9))}n", "memory": f"{max(1, round(use['memory'] / 1024))}Ki"}


def metrics(cluster: Cluster, what: str, namespace: str | None, name: str | None) -> dict[str, Any]:
    """GET /apis/metrics.k8s.io/v1beta1/{nodes,pods}: NodeMetrics / PodMetrics."""
    now = _stamp(cluster.sbx.now(), "%Y-%m-%dT%H:%M:%SZ")
    running = [p for p in cluster.list(PODS, None) if (p.get("status") or {}).get("phase") == "Running"]
    items: list[dict[str, Any]] = []
    if what == "nodes":
        for node in cluster.list(NODES, None):
            on = [p for p in running if p["spec"].get("nodeName") == node["metadata"]["name"]]
            base = {"cpu": 0.12, "memory": 900 * 1024 ** 2}  # the kubelet, containerd and the OS
            use = {k: v + base[k] for k, v in _usage(on).items()}
            items.append({"metadata": {"name": node["metadata"]["name"], "labels": node["metadata"].get("labels")},
                          "timestamp": now, "window": "20.05s", "usage": _quantities(use)})
        kind = "NodeMetrics"
    else:
        for pod in running:
            if namespace and pod["metadata"].get("namespace") != namespace:
                continue
            items.append({"metadata": {"name": pod["metadata"]["name"], "namespace": pod["metadata"]["namespace"],
                                       "labels": pod["metadata"].get("labels")}, "timestamp": now, "window": "20.05s",
                          "containers": [{"name": c["name"], "usage": _quantities(_usage([{"spec": {
                              "containers": [c]}}]))} for c in pod["spec"].get("containers") or []]})
        kind = "PodMetrics"
    if name is not None:
        found = next((i for i in items if i["metadata"]["name"] == name), None)
        if found is None:
            raise KubeError(404, "NotFound", f'{what}.metrics.k8s.io "{name}" not found')
        return {"kind": kind, "apiVersion": "metrics.k8s.io/v1beta1", **found}
    return {"kind": f"{kind}List", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": items}
