"""The server-side Table format (``Accept: application/json;as=Table;v=v1;g=meta.k8s.io``), which ``kubectl get``
asks for: the columns and cells upstream's printers give each kind (kubernetes/pkg/printers/internalversion,
``printers.go``), priority 1 for the ``-o wide`` ones, ages as upstream's ``duration.HumanDuration``; each row
carries the object's metadata (``includeObject=Metadata``, the default) or the object itself (``Object``).
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable
from typing import Any

Row = list[Any]
S, N = "string", "integer"


def human_duration(seconds: float) -> str:
    """Upstream's ``HumanDuration``: 45s, 3m20s, 25m, 5h10m, 20h, 3d4h, 40d, 2y30d."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 120:
        return f"{max(s, 0)}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = hours // 24 % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def age(obj: dict[str, Any]) -> str:
    """Since the object's creationTimestamp."""
    stamp = (obj.get("metadata") or {}).get("creationTimestamp")
    if not stamp:
        return "<unknown>"
    return human_duration(time.time() - calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")))


def _containers(spec: dict[str, Any]) -> tuple[str, str]:
    cs = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def _selector(spec: dict[str, Any]) -> str:
    labels = (spec.get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in labels.items()) or "<none>"


def _pod_status(pod: dict[str, Any]) -> str:
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    status = pod.get("status") or {}
    for cs in status.get("containerStatuses") or []:
        state = cs.get("state") or {}
        reason = (state.get("waiting") or {}).get("reason") or (state.get("terminated") or {}).get("reason")
        if reason:
            return str(reason)
    if status.get("phase") == "Pending" and any(c.get("reason") == "Unschedulable"
                                                 for c in status.get("conditions") or []):
        return "Pending"
    return str(status.get("reason") or status.get("phase") or "Unknown")


def _pod(o: dict[str, Any]) -> Row:
    st, spec = o.get("status") or {}, o.get("spec") or {}
    cs = st.get("containerStatuses") or []
    ready = f"{sum(1 for c in cs if c.get('ready'))}/{len(spec.get('containers') or [])}"
    return [ready, _pod_status(o), str(sum(int(c.get("restartCount", 0)) for c in cs)), age(o),
            st.get("podIP") or "<none>", spec.get("nodeName") or "<none>", "<none>", "<none>"]


def _deployment(o: dict[str, Any]) -> Row:
    st, spec = o.get("status") or {}, o.get("spec") or {}
    return [f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 1)}", st.get("updatedReplicas", 0),
            st.get("availableReplicas", 0), age(o), *_containers(spec), _selector(spec)]


def _replicaset(o: dict[str, Any]) -> Row:
    st, spec = o.get("status") or {}, o.get("spec") or {}
    return [spec.get("replicas", 1), st.get("replicas", 0), st.get("readyReplicas", 0), age(o), *_containers(spec),
            _selector(spec)]


def _daemonset(o: dict[str, Any]) -> Row:
    st, spec = o.get("status") or {}, o.get("spec") or {}
    sel = ((spec.get("template") or {}).get("spec") or {}).get("nodeSelector") or {}
    return [st.get("desiredNumberScheduled", 0), st.get("currentNumberScheduled", 0), st.get("numberReady", 0),
            st.get("updatedNumberScheduled", 0), st.get("numberAvailable", 0),
            ",".join(f"{k}={v}" for k, v in sel.items()) or "<none>", age(o), *_containers(spec), _selector(spec)]


def _node(o: dict[str, Any]) -> Row:
    st = o.get("status") or {}
    ready = next((c.get("status") for c in st.get("conditions") or [] if c.get("type") == "Ready"), "Unknown")
    status = "Ready" if ready == "True" else "NotReady"
    if (o.get("spec") or {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    labels = (o.get("metadata") or {}).get("labels") or {}
    roles = ",".join(sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))) \
        or "<none>"
    info = st.get("nodeInfo") or {}
    internal = next((a.get("address") for a in st.get("addresses") or [] if a.get("type") == "InternalIP"), "<none>")
    return [status, roles, age(o), info.get("kubeletVersion", ""), internal, "<none>", info.get("osImage", ""),
            info.get("kernelVersion", ""), info.get("containerRuntimeVersion", "")]


def _event(o: dict[str, Any]) -> Row:
    inv = o.get("involvedObject") or {}
    return [age(o), o.get("type", ""), o.get("reason", ""), f"{str(inv.get('kind', '')).lower()}/{inv.get('name', '')}",
            o.get("message", "")]


COLUMNS: dict[str, tuple[list[tuple[str, str, int]], Callable[[dict[str, Any]], Row]]] = {
    "Pod": ([("Ready", S, 0), ("Status", S, 0), ("Restarts", S, 0), ("Age", S, 0), ("IP", S, 1), ("Node", S, 1),
             ("Nominated Node", S, 1), ("Readiness Gates", S, 1)], _pod),
    "Deployment": ([("Ready", S, 0), ("Up-to-date", N, 0), ("Available", N, 0), ("Age", S, 0), ("Containers", S, 1),
                    ("Images", S, 1), ("Selector", S, 1)], _deployment),
    "ReplicaSet": ([("Desired", N, 0), ("Current", N, 0), ("Ready", N, 0), ("Age", S, 0), ("Containers", S, 1),
                    ("Images", S, 1), ("Selector", S, 1)], _replicaset),
    "DaemonSet": ([("Desired", N, 0), ("Current", N, 0), ("Ready", N, 0), ("Up-to-date", N, 0), ("Available", N, 0),
                   ("Node Selector", S, 0), ("Age", S, 0), ("Containers", S, 1), ("Images", S, 1),
                   ("Selector", S, 1)], _daemonset),
    "Node": ([("Status", S, 0), ("Roles", S, 0), ("Age", S, 0), ("Version", S, 0), ("Internal-IP", S, 1),
              ("External-IP", S, 1), ("OS-Image", S, 1), ("Kernel-Version", S, 1), ("Container-Runtime", S, 1)],
             _node),
    "Namespace": ([("Status", S, 0), ("Age", S, 0)],
                  lambda o: [(o.get("status") or {}).get("phase", "Active"), age(o)]),
    "Secret": ([("Type", S, 0), ("Data", N, 0), ("Age", S, 0)],
               lambda o: [o.get("type", "Opaque"), len(o.get("data") or {}), age(o)]),
    "ConfigMap": ([("Data", N, 0), ("Age", S, 0)],
                  lambda o: [len(o.get("data") or {}) + len(o.get("binaryData") or {}), age(o)]),
    "ServiceAccount": ([("Secrets", N, 0), ("Age", S, 0)], lambda o: [len(o.get("secrets") or []), age(o)]),
}
EVENT_COLUMNS = [("Last Seen", S, 0), ("Type", S, 0), ("Reason", S, 0), ("Object", S, 0), ("Message", S, 0)]


def wants_table(accept: str) -> bool:
    """Whether the client asked for a Table (kubectl get does)."""
    return "as=Table" in accept and "g=meta.k8s.io" in accept


def table(kind: str, objects: list[dict[str, Any]], resource_version: str, include: str) -> dict[str, Any]:
    """The Table of ``objects`` of ``kind``."""
    cells: Callable[[dict[str, Any]], Row]
    if kind == "Event":
        columns, cells = EVENT_COLUMNS, _event
    else:
        extra, row = COLUMNS.get(kind, ([("Age", S, 0)], lambda o: [age(o)]))
        columns = [("Name", S, 0), *extra]

        def cells(o: dict[str, Any]) -> Row:
            return [o["metadata"]["name"], *row(o)]

    def carried(o: dict[str, Any]) -> dict[str, Any] | None:
        if include == "None":
            return None
        if include == "Object":
            return o
        return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o.get("metadata", {})}

    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": resource_version},
            "columnDefinitions": [{"name": n, "type": t, "format": "name" if n == "Name" else "", "description": n,
                                   "priority": p} for n, t, p in columns],
            "rows": [{"cells": cells(o), "object": carried(o)} for o in objects]}
