"""The Kubernetes API endpoint of each sandbox AKS cluster: ``/k8s/{cluster}/...`` on the sandbox.

Authentication by the bearer token or the client certificate of the kubeconfigs that
``listClusterUserCredential``/``listClusterAdminCredential`` return; everything else is 401.
Verbs: create, get, list (label and field selectors), watch, replace, patch (strategic merge,
merge, JSON patch, server-side apply with ``fieldManager``), delete.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import yaml
from aiohttp import web

from ..arm.base import Sandbox
from . import controllers, discovery, extras, protobuf, table
from .keda import keda_enabled
from .kinds import BY_KIND, BY_PLURAL, Kind, invalid_fields, unknown_and_type_errors
from .objects import Cluster, KubeError, json_patch, merge_patch, not_found, secret_defaults, strategic_merge
from .selectors import field_selector, label_selector
from .watch import serve_watch


def _cluster_for(sbx: Sandbox, key: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    state = sbx.store.data["kube"].get(key)
    if state is None:
        return None
    rec = sbx.get_resource(state["cluster_id"])
    if rec is None or sbx.provisioning_state(rec) != "Succeeded":
        return None
    return state, rec


def _authenticated(request: web.Request, rec: dict[str, Any]) -> bool:
    header = request.headers.get("Authorization", "")
    tokens = {rec["kube"]["user_token"], rec["kube"]["admin_token"]}
    if header.lower().startswith("bearer ") and header[7:].strip() in tokens:
        return True
    peer = request.transport.get_extra_info("peercert") if request.transport else None
    if peer:
        subject = dict(x[0] for x in peer.get("subject", ()))
        return subject.get("commonName") == "masterclient"
    return False


def _json(body: Any, status: int = 200, warnings: list[str] | None = None) -> web.Response:
    headers = {"Warning": ", ".join(f'299 - "{w}"' for w in warnings)} if warnings else None
    return web.Response(status=status, text=json.dumps(body), content_type="application/json", headers=headers)


async def handle(request: web.Request) -> web.StreamResponse:
    """Entry point."""
    sbx: Sandbox = request.app["sandbox"]
    found = _cluster_for(sbx, request.match_info["key"])
    if found is None:
        return _json(KubeError(404, "NotFound", "the server could not find the requested resource").status(), 404)
    _, rec = found
    if not _authenticated(request, rec):
        return _json(KubeError(401, "Unauthorized", "Unauthorized").status(), 401)
    cluster = Cluster(sbx, request.match_info["key"])
    controllers.bootstrap(cluster)  # no request may arrive before the default namespaces exist
    parts = [p for p in request.match_info["tail"].split("/") if p]
    try:
        return await route(request, cluster, parts)
    except KubeError as err:
        return _json(err.status(), err.code)


async def route(request: web.Request, cluster: Cluster, parts: list[str]) -> web.StreamResponse:
    """Discovery, OpenAPI, then resources."""
    base = f"{cluster.sbx.base_url}/k8s/{cluster.key}"
    if parts == ["version"]:
        return _json(discovery.version())
    if parts == ["api"]:
        return _json(discovery.api_versions(base))
    if parts == ["apis"]:
        return _json(discovery.api_groups())
    if parts == ["healthz"] or parts == ["readyz"] or parts == ["livez"]:
        return web.Response(text="ok")
    if parts == ["openapi", "v2"]:
        return web.Response(body=discovery.openapi_v2(),
                            content_type="application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
    if parts == ["apis", "apiextensions.k8s.io", "v1", "customresourcedefinitions"] and request.method == "GET":
        return _json(discovery.crd_list())
    if parts[:2] == ["openapi", "v3"]:
        if len(parts) == 2:
            return _json(discovery.openapi_index())
        gv = parts[2:]
        doc = discovery.openapi_document("" if gv[0] == "api" else gv[1], gv[-1]) if len(gv) in (2, 3) else None
        if doc is None:
            raise KubeError(404, "NotFound", "the server could not find the requested resource")
        return _json(doc)
    if parts and parts[0] == "api":
        group, rest = "", parts[1:]
    elif parts and parts[0] == "apis" and len(parts) >= 2:
        group, rest = parts[1], parts[2:]
        if not rest:
            found = discovery.api_group(group)
            if found is None:
                raise KubeError(404, "NotFound", "the server could not find the requested resource")
            return _json(found)
    else:
        raise KubeError(404, "NotFound", "the server could not find the requested resource")
    if not rest:
        raise KubeError(404, "NotFound", "the server could not find the requested resource")
    version, rest = rest[0], rest[1:]
    if not rest:
        listing = discovery.resource_list(group, version)
        if listing is None:
            raise KubeError(404, "NotFound", "the server could not find the requested resource")
        return _json(listing)
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    if group == "metrics.k8s.io" and request.method == "GET" and rest[0] in ("nodes", "pods"):
        return _json(extras.metrics(cluster, rest[0], namespace, rest[1] if len(rest) > 1 else None))
    if (group, rest) == ("authorization.k8s.io", ["selfsubjectaccessreviews"]) and request.method == "POST":
        return _json(extras.access_review(await _body(request)), 201)
    kind = BY_PLURAL.get((group, version, rest[0]))
    if kind is None or group == "keda.sh" and not keda_enabled(cluster):
        raise KubeError(404, "NotFound", "the server could not find the requested resource")
    name = rest[1] if len(rest) > 1 else None
    if namespace and not kind.namespaced:
        raise KubeError(404, "NotFound", "the server could not find the requested resource")
    sub = rest[2] if len(rest) > 2 else None
    if sub == "log" and kind.kind == "Pod" and request.method == "GET" and namespace and name:
        return await extras.pod_log(request, cluster, namespace, name)
    if sub == "scale" and kind.kind in ("Deployment", "ReplicaSet") and namespace and name:
        body = await _body(request) if request.method in ("PUT", "PATCH") else None
        return _json(extras.scale(cluster, kind, namespace, name, request.method, body))
    if sub not in (None, "status"):
        raise KubeError(404, "NotFound", "the server could not find the requested resource")
    return await verb(request, cluster, kind, namespace, name)


async def verb(request: web.Request, cluster: Cluster, kind: Kind, namespace: str | None, name: str | None
               ) -> web.StreamResponse:
    """Dispatch the HTTP method."""
    q = request.query
    as_table = table.wants_table(request.headers.get("Accept", ""))
    if request.method == "GET" and name is None:
        if q.get("watch") in ("true", "1"):
            return await serve_watch(request, cluster, kind, namespace)
        listed = list_objects(cluster, kind, namespace, q.get("labelSelector", ""), q.get("fieldSelector", ""))
        if as_table:
            return _json(table.table(kind.kind, listed["items"], listed["metadata"]["resourceVersion"],
                                     q.get("includeObject", "Metadata")))
        return _json(listed)
    if request.method == "GET":
        obj = cluster.get(kind, namespace, name or "")
        if obj is None:
            raise not_found(kind, name or "")
        if as_table:
            return _json(table.table(kind.kind, [obj], str(cluster.resource_version), q.get("includeObject",
                                                                                             "Metadata")))
        return _json(obj)
    if request.method == "DELETE" and name:
        obj = cluster.delete(kind, namespace, name)
        if kind.kind == "Namespace":
            for other in [k for k, o in cluster.objects.items() if o["metadata"].get("namespace") == name]:
                o = cluster.objects[other]
                cluster.delete(BY_PLURAL[_kind_key(o)], name, o["metadata"]["name"])
        _save(cluster)
        return _json(obj)  # as the apiserver's generic store does: the object deleted (a Status only when none)
    body = await _body(request)
    manager = q.get("fieldManager", "")
    if request.method == "POST" and name is None:
        obj, warnings = admit(kind, body, namespace, q.get("fieldValidation", "Warn"))
        _namespace_exists(cluster, kind, obj)
        created = cluster.create(kind, obj, manager or _agent(request), "Update")
        _save(cluster)
        return _json(created, 201, warnings)
    if request.method == "PUT" and name:
        obj, warnings = admit(kind, body, namespace, q.get("fieldValidation", "Warn"))
        _same_name(kind, obj, name)
        out = cluster.replace(kind, obj, manager=manager or _agent(request))
        _save(cluster)
        return _json(out, 200, warnings)
    if request.method == "PATCH" and name:
        return patch(request, cluster, kind, namespace, name, body)
    raise KubeError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")


def _namespace_exists(cluster: Cluster, kind: Kind, obj: dict[str, Any]) -> None:
    """The NamespaceLifecycle admission check: namespaced objects need their namespace."""
    ns = obj["metadata"].get("namespace")
    if kind.namespaced and ns and cluster.get(BY_PLURAL[("", "v1", "namespaces")], None, ns) is None:
        raise KubeError(404, "NotFound", f'namespaces "{ns}" not found', {"name": ns, "kind": "namespaces"})


def _agent(request: web.Request) -> str:
    return request.headers.get("User-Agent", "unknown").split("/")[0] or "unknown"


def _kind_key(obj: dict[str, Any]) -> tuple[str, str, str]:
    k = BY_KIND[(obj["apiVersion"], obj["kind"])]
    return (k.group, k.version, k.plural)


def _save(cluster: Cluster) -> None:
    cluster.sbx.store.save()


def _same_name(kind: Kind, obj: dict[str, Any], name: str) -> None:
    if obj["metadata"].get("name") != name:
        raise KubeError(400, "BadRequest", f"the name of the object ({obj['metadata'].get('name')}) does not match "
                        f"the name on the URL ({name})")


async def _body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw:
        return None
    if request.content_type == "application/vnd.kubernetes.protobuf":  # kubectl's built-in types (protobuf.py)
        try:
            return protobuf.decode(raw)
        except (protobuf.ProtobufError, UnicodeDecodeError, ValueError) as err:
            raise KubeError(400, "BadRequest", f"the object provided is unrecognized: {err}") from None
    try:
        if "yaml" in request.content_type:
            return yaml.safe_load(raw)
        return json.loads(raw)
    except (ValueError, yaml.YAMLError) as err:
        raise KubeError(400, "BadRequest", f"the object provided is unrecognized: {err}") from None


def list_objects(cluster: Cluster, kind: Kind, namespace: str | None, labels: str, fields: str) -> dict[str, Any]:
    """A List object."""
    lt, ft = label_selector(labels), field_selector(fields)
    items = [o for o in cluster.list(kind, namespace) if lt(o) and ft(o)]
    return {"kind": f"{kind.kind}List", "apiVersion": kind.api_version,
            "metadata": {"resourceVersion": cluster.resource_version}, "items": items}


def admit(kind: Kind, body: Any, namespace: str | None, validation: str) -> tuple[dict[str, Any], list[str]]:
    """Decode (strictly when asked), default and validate an incoming object."""
    if not isinstance(body, dict):
        raise KubeError(400, "BadRequest", "the object provided is unrecognized (must be a JSON or YAML object)")
    api_version, kind_name = body.get("apiVersion"), body.get("kind")
    if (api_version, kind_name) != (kind.api_version, kind.kind):
        raise KubeError(400, "BadRequest", f"the API version in the data ({api_version}) does not match the expected "
                        f"API version ({kind.api_version})" if api_version != kind.api_version else
                        f"{kind_name} is not the kind {kind.kind} served here")
    problems = unknown_and_type_errors(body, kind.model)
    warnings: list[str] = []
    if problems:
        if validation == "Strict":
            raise KubeError(400, "BadRequest", f'{kind.kind} in version "{kind.version}" cannot be handled as a '
                            f"{kind.kind}: strict decoding error: {', '.join(problems)}")
        if validation == "Warn":
            warnings = problems
    meta = body.setdefault("metadata", {})
    if kind.namespaced:
        if meta.get("namespace") and namespace and meta["namespace"] != namespace:
            raise KubeError(400, "BadRequest", "the namespace of the provided object does not match the namespace "
                            "sent on the request")
        meta["namespace"] = namespace or meta.get("namespace") or "default"
    invalid = invalid_fields(kind, body)
    if invalid:
        what = f"{kind.kind}.{kind.group}" if kind.group else kind.kind
        name = meta.get("name", "")
        raise KubeError(422, "Invalid", f'{what} "{name}" is invalid: ' + ", ".join(f"{f}: {m}" for f, m in invalid),
                        {"name": name, "group": kind.group, "kind": kind.kind,
                         "causes": [{"reason": "FieldValueInvalid", "message": m, "field": f} for f, m in invalid]})
    defaults(kind, body)
    return body, warnings


def defaults(kind: Kind, obj: dict[str, Any]) -> None:
    """The API server's defaulting for the fields the sandbox's controllers read."""
    if kind.kind == "Secret":
        secret_defaults(obj)
    if kind.kind == "Namespace":
        obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        obj["status"] = {"phase": "Active"}
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    spec = obj.get("spec")
    if kind.kind == "Deployment" and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault("strategy", {"type": "RollingUpdate",
                                     "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
    if kind.kind in ("Deployment", "DaemonSet", "ReplicaSet") and isinstance(spec, dict):
        pod = spec.setdefault("template", {}).setdefault("spec", {})
        pod.setdefault("restartPolicy", "Always")
        pod.setdefault("dnsPolicy", "ClusterFirst")
        pod.setdefault("schedulerName", "default-scheduler")


def patch(request: web.Request, cluster: Cluster, kind: Kind, namespace: str | None, name: str, body: Any
          ) -> web.Response:
    """PATCH in its four flavours; server-side apply creates what is missing."""
    ctype = request.content_type
    q = request.query
    current = cluster.get(kind, namespace, name)
    if ctype == "application/apply-patch+yaml":
        manager = q.get("fieldManager")
        if not manager:
            raise KubeError(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: "
                            "is required for apply patch")
        if isinstance(body, dict):
            body.setdefault("metadata", {})
            if body["metadata"].get("name", name) != name:
                _same_name(kind, body, name)
            body["metadata"]["name"] = name
        obj, warnings = admit(kind, body, namespace, q.get("fieldValidation", "Strict"))
        _namespace_exists(cluster, kind, obj)
        if current is None:
            out = cluster.create(kind, obj, manager, "Apply")
            _save(cluster)
            return _json(out, 201, warnings)
        merged = strategic_merge(current, {k: v for k, v in obj.items() if k != "status"})
        merged["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        out = cluster.replace(kind, merged, manager=manager, operation="Apply")
        _save(cluster)
        return _json(out, 200, warnings)
    if current is None:
        raise not_found(kind, name)
    if ctype == "application/json-patch+json":
        new = json_patch(current, body if isinstance(body, list) else [])
    elif ctype == "application/merge-patch+json":
        new = merge_patch(current, body)
    elif ctype == "application/strategic-merge-patch+json":
        new = strategic_merge(current, body)
    else:
        raise KubeError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted "
                        "media types include: application/json-patch+json, application/merge-patch+json, "
                        "application/apply-patch+yaml, application/strategic-merge-patch+json")
    status = new.pop("status", None)
    new_meta = new.get("metadata") or {}
    new_meta.pop("resourceVersion", None)
    obj, warnings = admit(kind, new, namespace, q.get("fieldValidation", "Warn"))
    if status is not None:
        obj["status"] = status
    out = cluster.replace(kind, obj, check_rv=False, manager=q.get("fieldManager", "") or _agent(request))
    _save(cluster)
    return _json(out, 200, warnings)


async def close_watchers() -> None:
    """Wake all watchers so the server can stop."""
    for queues in Cluster.watchers.values():
        for queue in queues:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait({"type": "_CLOSE"})
