"""What an API server says about itself: /version, discovery lists and the OpenAPI v3 documents.

The OpenAPI v3 documents declare the ``fieldValidation`` and ``fieldManager`` query parameters on every
write operation, which is how kubectl learns that the server validates fields itself (and so sends
``fieldValidation=Strict``).
"""

from __future__ import annotations

import hashlib
from typing import Any

from .kinds import GROUPS, KINDS, Kind

GIT_VERSION = "v1.32.6"
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


def version() -> dict[str, Any]:
    """GET /version."""
    return {"major": "1", "minor": "32", "gitVersion": GIT_VERSION, "gitCommit": "0" * 40,
            "gitTreeState": "clean", "buildDate": "2026-06-17T00:00:00Z", "goVersion": "go1.23.10",
            "compiler": "gc", "platform": "linux/amd64"}


def api_versions(server: str) -> dict[str, Any]:
    """GET /api."""
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server}]}


def _group(group: str, version: str) -> dict[str, Any]:
    gv = {"groupVersion": f"{group}/{version}", "version": version}
    return {"name": group, "versions": [gv], "preferredVersion": gv}


# Groups served without stored kinds (extras.py): access reviews, and the metrics API AKS's metrics-server adds.
EXTRA = {("authorization.k8s.io", "v1"): [{"name": "selfsubjectaccessreviews",
                                          "singularName": "selfsubjectaccessreview", "namespaced": False,
                                          "kind": "SelfSubjectAccessReview", "verbs": ["create"]}],
         ("metrics.k8s.io", "v1beta1"): [{"name": n, "singularName": "", "namespaced": n == "pods",
                                          "kind": k, "verbs": ["get", "list"]}
                                         for n, k in (("nodes", "NodeMetrics"), ("pods", "PodMetrics"))]}


def _all_groups() -> list[tuple[str, str]]:
    return sorted({*GROUPS, *EXTRA})


def api_groups() -> dict[str, Any]:
    """GET /apis."""
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group(g, v) for g, v in _all_groups()]}


def api_group(group: str) -> dict[str, Any] | None:
    """GET /apis/{group}."""
    for g, v in _all_groups():
        if g == group:
            return {"kind": "APIGroup", "apiVersion": "v1", **_group(g, v)}
    return None


def resource_list(group: str, version: str) -> dict[str, Any] | None:
    """GET /api/v1 or /apis/{group}/{version}: the resources served there."""
    kinds = [k for k in KINDS if k.group == group and k.version == version]
    if (group, version) in EXTRA:
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}",
                "resources": EXTRA[(group, version)]}
    if not kinds:
        return None
    resources: list[dict[str, Any]] = []
    for k in kinds:
        entry: dict[str, Any] = {"name": k.plural, "singularName": k.kind.lower(), "namespaced": k.namespaced,
                                 "kind": k.kind, "verbs": VERBS}
        if k.short:
            entry["shortNames"] = list(k.short)
        if k.kind in ("Pod", "Deployment", "DaemonSet", "ReplicaSet", "Service"):
            entry["categories"] = ["all"]
        resources.append(entry)
        if k.kind in ("Deployment", "DaemonSet", "ReplicaSet", "Pod", "Node", "Namespace"):
            resources.append({"name": f"{k.plural}/status", "singularName": "", "namespaced": k.namespaced,
                              "kind": k.kind, "verbs": ["get", "patch", "update"]})
        if k.kind in ("Deployment", "ReplicaSet"):
            resources.append({"name": f"{k.plural}/scale", "singularName": "", "namespaced": True, "group":
                              "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]})
        if k.kind == "Pod":
            resources.append({"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod",
                              "verbs": ["get"]})
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def openapi_index() -> dict[str, Any]:
    """GET /openapi/v3."""
    paths = {}
    for group, version in [("", "v1"), *GROUPS]:
        p = _gv_path(group, version)
        digest = hashlib.sha256(p.encode()).hexdigest()[:32].upper()
        paths[p] = {"serverRelativeURL": f"/openapi/v3/{p}?hash={digest}"}
    return {"paths": paths}


def _params(write: bool) -> list[dict[str, Any]]:
    names = ["dryRun", "fieldManager", "fieldValidation", "pretty"] if write else ["pretty"]
    return [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}} for n in names]


def _op(kind: Kind, action: str, write: bool) -> dict[str, Any]:
    return {"operationId": f"{action}{kind.kind}", "parameters": _params(write),
            "responses": {"200": {"description": "OK"}},
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": {"group": kind.group, "version": kind.version, "kind": kind.kind}}


def openapi_document(group: str, version: str) -> dict[str, Any] | None:
    """GET /openapi/v3/api/v1 or /openapi/v3/apis/{group}/{version}."""
    kinds = [k for k in KINDS if k.group == group and k.version == version]
    if not kinds:
        return None
    base = "/" + _gv_path(group, version)
    paths: dict[str, Any] = {}
    for k in kinds:
        coll = f"{base}/namespaces/{{namespace}}/{k.plural}" if k.namespaced else f"{base}/{k.plural}"
        paths[coll] = {"get": _op(k, "list", False), "post": _op(k, "post", True)}
        paths[f"{coll}/{{name}}"] = {"get": _op(k, "get", False), "put": _op(k, "put", True),
                                     "patch": _op(k, "patch", True), "delete": _op(k, "delete", True)}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": GIT_VERSION}, "paths": paths,
            "components": {"schemas": {}}}


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (wire type 2)."""
    size, length = bytearray(), len(payload)
    while True:
        byte, length = length & 0x7F, length >> 7
        size.append(byte | (0x80 if length else 0))
        if not length:
            break
    return bytes([number << 3 | 2]) + bytes(size) + payload


def openapi_v2() -> bytes:
    """GET /openapi/v2 as client-go asks for it (``application/com.github.proto-openapi.spec.v2@v1.0+protobuf``,
    gnostic's openapi_v2.Document): the document with its swagger version, info and no paths or definitions. The
    built-in kinds are described by /openapi/v3; this one tells kubectl the server has no v2 schema for a kind it
    asks about (a removed API version), so kubectl goes on to the discovery lookup and reports the kind as not
    served, as against a real server, instead of failing to download the document."""
    info = _field(1, b"Kubernetes") + _field(2, GIT_VERSION.encode())
    return _field(1, b"2.0") + _field(2, info) + _field(8, b"")


def crd_list() -> dict[str, Any]:
    """GET /apis/apiextensions.k8s.io/v1/customresourcedefinitions: AKS has none of ours."""
    return {"kind": "CustomResourceDefinitionList", "apiVersion": "apiextensions.k8s.io/v1",
            "metadata": {"resourceVersion": "1"}, "items": []}
