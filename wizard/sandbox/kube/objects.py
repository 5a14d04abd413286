"""A sandbox cluster's object store: metadata, resourceVersions, watch events, patches.

Objects live in the sandbox state (``kube.<cluster>.objects``) keyed ``group/plural/namespace/name``.
Every change bumps the cluster's resourceVersion and is published to watchers; a ring of recent
events lets a watch resume from a resourceVersion, or get 410 Gone when it is too old, as etcd's
compaction makes the real API server answer.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import secrets
import time
import uuid
from collections import deque
from typing import Any

import jsonpatch

from ..arm.base import Sandbox
from .kinds import Kind

HISTORY = 2000


class KubeError(Exception):
    """A Kubernetes ``Status`` failure."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None,
                 warnings: list[str] | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details or {}
        self.warnings = warnings or []

    def status(self) -> dict[str, Any]:
        """The Status body."""
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": self.message,
                "reason": self.reason, "details": self.details, "code": self.code}


def not_found(kind: Kind, name: str) -> KubeError:
    """404 as the API server words it."""
    what = f"{kind.plural}.{kind.group}" if kind.group else kind.plural
    return KubeError(404, "NotFound", f'{what} "{name}" not found',
                     {"name": name, "group": kind.group, "kind": kind.plural})


def now_rfc3339() -> str:
    """Kubernetes timestamps: RFC 3339, seconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Cluster:
    """One sandbox cluster's API state (a view over the sandbox store) plus live watchers."""

    watchers: dict[str, list[asyncio.Queue[dict[str, Any]]]] = {}
    history: dict[str, deque[tuple[int, str, dict[str, Any]]]] = {}

    def __init__(self, sbx: Sandbox, key: str) -> None:
        self.sbx, self.key = sbx, key
        self.state: dict[str, Any] = sbx.store.data["kube"][key]
        self.state.setdefault("rv", 1)
        self.objects: dict[str, dict[str, Any]] = self.state.setdefault("objects", {})
        Cluster.watchers.setdefault(key, [])
        Cluster.history.setdefault(key, deque(maxlen=HISTORY))

    @staticmethod
    def storage_key(kind: Kind, namespace: str | None, name: str) -> str:
        """Where an object is kept."""
        return f"{kind.group}/{kind.plural}/{namespace or ''}/{name}"

    def get(self, kind: Kind, namespace: str | None, name: str) -> dict[str, Any] | None:
        """A deep copy of one object, or None."""
        obj = self.objects.get(self.storage_key(kind, namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    def list(self, kind: Kind, namespace: str | None = None) -> list[dict[str, Any]]:
        """Objects of a kind, optionally in one namespace, sorted by namespace and name."""
        prefix = f"{kind.group}/{kind.plural}/"
        out = [copy.deepcopy(o) for k, o in self.objects.items() if k.startswith(prefix)
               and (namespace is None or o["metadata"].get("namespace") == namespace)]
        return sorted(out, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))

    @property
    def resource_version(self) -> str:
        """The cluster's current resourceVersion."""
        return str(self.state["rv"])

    def _bump(self) -> str:
        self.state["rv"] += 1
        return str(self.state["rv"])

    def _publish(self, event: str, kind: Kind, obj: dict[str, Any]) -> None:
        rv = int(obj["metadata"]["resourceVersion"])
        item = {"type": event, "object": obj, "_kind": kind.key}
        Cluster.history[self.key].append((rv, kind.key, item))
        for queue in list(Cluster.watchers[self.key]):
            queue.put_nowait(item)
        self.sbx.store.data["_dirty"] = True

    def create(self, kind: Kind, obj: dict[str, Any], manager: str = "", operation: str = "Update"
               ) -> dict[str, Any]:
        """Store a new object with server-set metadata; 409 if it exists."""
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
        ns = meta.get("namespace") if kind.namespaced else None
        key = self.storage_key(kind, ns, meta["name"])
        if key in self.objects:
            what = f"{kind.plural}.{kind.group}" if kind.group else kind.plural
            raise KubeError(409, "AlreadyExists", f'{what} "{meta["name"]}" already exists',
                            {"name": meta["name"], "group": kind.group, "kind": kind.plural})
        obj["apiVersion"], obj["kind"] = kind.api_version, kind.kind
        if kind.kind == "Pod":
            self._service_account_admission(obj)
        meta.update({"uid": str(uuid.uuid4()), "creationTimestamp": now_rfc3339(),
                     "resourceVersion": self._bump()})
        if not kind.namespaced:
            meta.pop("namespace", None)
        if "spec" in obj or kind.kind in ("Deployment", "DaemonSet", "ReplicaSet"):
            meta["generation"] = 1
        if manager:
            meta["managedFields"] = [{"manager": manager, "operation": operation, "apiVersion": kind.api_version,
                                      "time": now_rfc3339(), "fieldsType": "FieldsV1", "fieldsV1": {}}]
        self.objects[key] = obj
        self._publish("ADDED", kind, copy.deepcopy(obj))
        return copy.deepcopy(obj)

    def _service_account_admission(self, pod: dict[str, Any]) -> None:
        """What the API server's ServiceAccount admission plugin does to a new pod: default the account, and
        give the pod the account's imagePullSecrets when it names none itself."""
        spec = pod.setdefault("spec", {})
        account = spec.setdefault("serviceAccountName", "default")
        ns = pod["metadata"].get("namespace", "default")
        sa = next((o for o in self.objects.values() if o.get("kind") == "ServiceAccount"
                   and o["metadata"].get("namespace") == ns and o["metadata"]["name"] == account), None)
        if sa is not None and not spec.get("imagePullSecrets") and sa.get("imagePullSecrets"):
            spec["imagePullSecrets"] = copy.deepcopy(sa["imagePullSecrets"])

    def replace(self, kind: Kind, obj: dict[str, Any], *, check_rv: bool = True, manager: str = "",
                operation: str = "Update") -> dict[str, Any]:
        """Replace an object; 409 Conflict on a stale resourceVersion; bumps generation when spec changes."""
        meta = obj["metadata"]
        ns = meta.get("namespace") if kind.namespaced else None
        key = self.storage_key(kind, ns, meta["name"])
        old = self.objects.get(key)
        if old is None:
            raise not_found(kind, meta["name"])
        given = meta.get("resourceVersion")
        if check_rv and given and given != old["metadata"]["resourceVersion"]:
            raise KubeError(409, "Conflict", f'Operation cannot be fulfilled on {kind.plural} "{meta["name"]}": the '
                            "object has been modified; please apply your changes to the latest version and try again",
                            {"name": meta["name"], "group": kind.group, "kind": kind.plural})
        keep = {k: old["metadata"][k] for k in ("uid", "creationTimestamp", "generation", "managedFields")
                if k in old["metadata"]}
        meta.update(keep)
        if "status" not in obj and "status" in old:
            obj["status"] = old["status"]
        if json.dumps(obj.get("spec"), sort_keys=True) != json.dumps(old.get("spec"), sort_keys=True) and \
                "generation" in meta:
            meta["generation"] += 1
        if manager:
            fields = [f for f in meta.get("managedFields", []) if f["manager"] != manager]
            fields.append({"manager": manager, "operation": operation, "apiVersion": kind.api_version,
                           "time": now_rfc3339(), "fieldsType": "FieldsV1", "fieldsV1": {}})
            meta["managedFields"] = fields
        obj["apiVersion"], obj["kind"] = kind.api_version, kind.kind
        if json.dumps(obj, sort_keys=True, default=str) == json.dumps(
                {**old, "metadata": {**old["metadata"], "managedFields": meta.get("managedFields")}},
                sort_keys=True, default=str):
            return copy.deepcopy(old)
        meta["resourceVersion"] = self._bump()
        self.objects[key] = obj
        self._publish("MODIFIED", kind, copy.deepcopy(obj))
        return copy.deepcopy(obj)

    def set_status(self, kind: Kind, obj: dict[str, Any], status: dict[str, Any]) -> None:
        """Controllers' status writes (no generation bump, published only when changed)."""
        ns = obj["metadata"].get("namespace") if kind.namespaced else None
        key = self.storage_key(kind, ns, obj["metadata"]["name"])
        cur = self.objects.get(key)
        if cur is None or cur.get("status") == status:
            return
        cur["status"] = status
        cur["metadata"]["resourceVersion"] = self._bump()
        self._publish("MODIFIED", kind, copy.deepcopy(cur))

    def delete(self, kind: Kind, namespace: str | None, name: str) -> dict[str, Any]:
        """Remove an object (its dependents are collected by the controllers)."""
        key = self.storage_key(kind, namespace, name)
        obj = self.objects.pop(key, None)
        if obj is None:
            raise not_found(kind, name)
        obj["metadata"]["resourceVersion"] = self._bump()
        self._publish("DELETED", kind, copy.deepcopy(obj))
        return obj


def strategic_merge(base: Any, patch: Any) -> Any:
    """A strategic-merge patch, simplified: maps merge, ``null`` deletes, lists of named items merge by name."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            if k.startswith("$"):
                continue
            if v is None:
                out.pop(k, None)
            else:
                out[k] = strategic_merge(base.get(k), v)
        return out
    if isinstance(base, list) and isinstance(patch, list) and all(
            isinstance(x, dict) and "name" in x for x in base + patch) and patch:
        merged = {x["name"]: x for x in base}
        order = [x["name"] for x in base]
        for item in patch:
            if item["name"] in merged:
                merged[item["name"]] = strategic_merge(merged[item["name"]], item)
            else:
                merged[item["name"]] = item
                order.append(item["name"])
        return [merged[n] for n in order]
    return copy.deepcopy(patch)


def merge_patch(base: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(base) if isinstance(base, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def json_patch(base: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    """RFC 6902 JSON patch; a failing op is a 422 as the API server reports it."""
    try:
        return jsonpatch.apply_patch(base, ops)  # type: ignore[no-any-return]
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as err:
        raise KubeError(422, "Invalid", f"the server rejected our request due to an error in our request: {err}") \
            from None


def secret_defaults(obj: dict[str, Any]) -> None:
    """Secrets: type Opaque by default, stringData folded into base64 data."""
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None) or {}
    if string_data:
        data = obj.setdefault("data", {})
        for k, v in string_data.items():
            data[k] = base64.b64encode(str(v).encode()).decode()
