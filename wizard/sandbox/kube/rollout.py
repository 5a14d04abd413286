"""The Deployment controller of a sandbox cluster, as upstream's (pkg/controller/deployment) rolls out:

- ``RollingUpdate`` (the default, maxSurge and maxUnavailable 25% each): at most ``replicas + maxSurge`` pods
  (surge rounded up), at least ``replicas - maxUnavailable`` available (rounded down; when both come to 0,
  maxUnavailable is 1). Old ReplicaSets lose pods only as new ones become available, unhealthy old pods first. So
  with every GPU busy, 2 replicas and the defaults (surge 1, unavailable 0), the new pod waits for a GPU no old pod
  gives back: the rollout never ends.
- ``Recreate``: every old pod goes first; the new ReplicaSet scales up once none is left.
- A rollout that makes no progress for ``progressDeadlineSeconds`` gets ``Progressing=False``
  (``ProgressDeadlineExceeded``), as upstream reports it (the wait scaled by the sandbox's speed).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from typing import Any

from .kinds import BY_PLURAL
from .objects import Cluster

DEPLOYMENTS, REPLICASETS = BY_PLURAL[("apps", "v1", "deployments")], BY_PLURAL[("apps", "v1", "replicasets")]
PODS = BY_PLURAL[("", "v1", "pods")]


def template_hash(template: dict[str, Any]) -> str:
    """The pod-template-hash of a template."""
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


def _scaled(value: Any, replicas: int, round_up: bool) -> int:
    text = str(value if value is not None else "25%")
    if text.endswith("%"):
        exact = int(text[:-1]) * replicas / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(text)


def limits(dep: dict[str, Any]) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) of a RollingUpdate Deployment."""
    replicas = int(dep["spec"].get("replicas", 1))
    rolling = (dep["spec"].get("strategy") or {}).get("rollingUpdate") or {}
    surge = _scaled(rolling.get("maxSurge"), replicas, True)
    unavailable = _scaled(rolling.get("maxUnavailable"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _spec(rs: dict[str, Any]) -> int:
    return int(rs["spec"].get("replicas", 0) or 0)


def _available(rs: dict[str, Any]) -> int:
    return int(rs.get("status", {}).get("availableReplicas", 0) or 0)


def _scale(cluster: Cluster, rs: dict[str, Any], replicas: int) -> None:
    if _spec(rs) != replicas:
        rs["spec"]["replicas"] = replicas
        cluster.replace(REPLICASETS, rs, check_rv=False)


def roll(cluster: Cluster, dep: dict[str, Any], new: dict[str, Any], old: list[dict[str, Any]],
         pods_of: Any) -> None:
    """One reconcile of the rollout: scale the new and the old ReplicaSets as the strategy allows."""
    replicas = int(dep["spec"].get("replicas", 1))
    if (dep["spec"].get("strategy") or {}).get("type") == "Recreate":
        for rs in old:
            _scale(cluster, rs, 0)
        if any(pods_of(rs) for rs in old):
            return  # the new pods come once every old one is gone
        _scale(cluster, new, replicas)
        return
    surge, unavailable = limits(dep)
    everything = [new, *old]
    total = sum(_spec(rs) for rs in everything)
    if total < replicas + surge and _spec(new) < replicas:  # scale the new one up within the surge
        _scale(cluster, new, min(replicas, _spec(new) + replicas + surge - total))
    elif _spec(new) > replicas:
        _scale(cluster, new, replicas)
    if not any(_spec(rs) for rs in old):
        return
    min_available = replicas - unavailable
    new_unavailable = _spec(new) - _available(new)
    budget = sum(_spec(rs) for rs in everything) - min_available - new_unavailable
    for rs in old:  # unhealthy old pods first: they count for nothing
        if budget <= 0:
            return
        cut = min(budget, _spec(rs) - _available(rs))
        if cut > 0:
            _scale(cluster, rs, _spec(rs) - cut)
            budget -= cut
    available = sum(_available(rs) for rs in everything)
    left = available - min_available
    for rs in old:
        if left <= 0:
            return
        cut = min(_spec(rs), left)
        _scale(cluster, rs, _spec(rs) - cut)
        left -= cut


def progress(cluster: Cluster, dep: dict[str, Any], new: dict[str, Any], complete: bool) -> tuple[str, str, str]:
    """(status, reason, message) of the Progressing condition, with the progress deadline kept."""
    marks: dict[str, Any] = cluster.state.setdefault("rollout_progress", {})
    uid = dep["metadata"]["uid"]
    seen = [new["metadata"]["name"], _spec(new), new.get("status", {}).get("readyReplicas", 0),
            new.get("status", {}).get("replicas", 0)]
    mark = marks.get(uid)
    now = time.time()
    if mark is None or mark["seen"] != seen:
        marks[uid] = mark = {"seen": seen, "at": now}
    name = new["metadata"]["name"]
    if complete:
        return "True", "NewReplicaSetAvailable", f'ReplicaSet "{name}" has successfully progressed.'
    deadline = cluster.sbx.scaled(float(dep["spec"].get("progressDeadlineSeconds", 600)))
    if now - mark["at"] > deadline:
        return "False", "ProgressDeadlineExceeded", f'ReplicaSet "{name}" has timed out progressing.'
    return "True", "ReplicaSetUpdated", f'ReplicaSet "{name}" is progressing.'
