"""The Kubernetes adapter: the official client, used through its REST layer for any kind of object.

Objects are plain manifests (dicts). :meth:`Kube.converge` reads the live object and writes only when a field
the manifest sets differs (creating when missing, server-side apply otherwise), so a re-run sends no write.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .actions import Action
from .errors import TransientError, WizardError

PLURALS = {"Namespace": "namespaces", "ConfigMap": "configmaps", "Secret": "secrets",
           "ServiceAccount": "serviceaccounts", "ClusterRole": "clusterroles", "RoleBinding": "rolebindings",
           "ClusterRoleBinding": "clusterrolebindings", "Deployment": "deployments", "DaemonSet": "daemonsets",
           "Pod": "pods", "Event": "events", "Node": "nodes", "ScaledObject": "scaledobjects",
           "TriggerAuthentication": "triggerauthentications"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "Node"}
MANAGER = "studioml-azure"


def object_path(obj: dict[str, Any], *, with_name: bool = True) -> str:
    """The REST path of a manifest (or its collection)."""
    api, kind = obj["apiVersion"], obj["kind"]
    base = "/api/v1" if api == "v1" else f"/apis/{api}"
    meta = obj.get("metadata", {})
    if kind not in CLUSTER_SCOPED:
        base += f"/namespaces/{meta['namespace']}"
    base += f"/{PLURALS[kind]}"
    return f"{base}/{meta['name']}" if with_name else base


def contains(live: Any, want: Any) -> bool:
    """Whether every field ``want`` sets has that value in ``live`` (lists compared item by item)."""
    if isinstance(want, dict):
        return isinstance(live, dict) and all(k in live and contains(live[k], v) for k, v in want.items())
    if isinstance(want, list):
        return isinstance(live, list) and len(live) == len(want) and all(
            contains(a, b) for a, b in zip(live, want, strict=True))
    return bool(live == want or str(live) == str(want))


def context_of(text: str) -> str:
    """A kubeconfig's current context."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return ""
    return str(doc.get("current-context") or "") if isinstance(doc, dict) else ""


def renamed(text: str, name: str) -> str:
    """The kubeconfig AKS returned with its context and cluster entries called ``name``. AKS names both after the
    cluster, which has the same name in every region here: under ``KUBECONFIG=a:b`` kubectl would show one context
    and resolve every region's to the first file's server. (Its user entry, ``clusterUser_<group>_<cluster>``, is
    already unique.)"""
    doc = yaml.safe_load(text)
    old = doc.get("current-context") or doc["contexts"][0]["name"]
    context = next(c for c in doc["contexts"] if c["name"] == old)
    for cluster in doc.get("clusters") or []:
        if cluster["name"] == context["context"]["cluster"]:
            cluster["name"] = name
    context["name"] = context["context"]["cluster"] = doc["current-context"] = name
    doc["contexts"] = [context]  # the one context the file is for
    return str(yaml.safe_dump(doc, sort_keys=False))


if TYPE_CHECKING:
    from kubernetes.client import ApiClient


class KubeError(WizardError):
    """The API server refused a request."""


class Kube:
    """A cluster reached with a kubeconfig file."""

    def __init__(self, kubeconfig: Path) -> None:
        from kubernetes import config  # when a cluster is first reached: the TUI draws before the client loads

        self.kubeconfig = kubeconfig
        self.api: ApiClient = config.new_client_from_config(str(kubeconfig))  # type: ignore[no-untyped-call]

    def request(self, method: str, path: str, body: Any = None, *, query: dict[str, str] | None = None,
                content_type: str = "application/json", ok: tuple[int, ...] = (200, 201)) -> tuple[int, Any]:
        """One REST call; returns (status, JSON body). Statuses outside ``ok`` and 404 raise."""
        headers = {"Accept": "application/json", "Content-Type": content_type}
        args = self.api.param_serialize(method=method, resource_path=path, query_params=list((query or {}).items()),
                                        header_params=headers, body=body, auth_settings=["BearerToken"])
        try:
            resp = self.api.call_api(*args, _request_timeout=30)
            resp.read()  # type: ignore[no-untyped-call]
        except Exception as err:  # urllib3 connection failures
            raise TransientError(f"the cluster's API server could not be reached ({type(err).__name__}).",
                                 "check the network and run again") from None
        data = json.loads(resp.data) if resp.data else None
        if resp.status in ok or resp.status == 404 and 404 in ok:
            return resp.status, data
        message = (data or {}).get("message", "") if isinstance(data, dict) else ""
        if resp.status >= 500 or resp.status == 429:
            raise TransientError(f"{method} {path}: {resp.status} {message}", "run again")
        raise KubeError(f"{method} {path}: {resp.status} {message}", "see the message; the manifest may be wrong")

    def reachable(self) -> bool:
        """Whether the API server answers ``/version`` with these credentials."""
        try:
            return self.request("GET", "/version")[0] == 200
        except WizardError:
            return False

    def get(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        """The live object, or ``None``."""
        status, data = self.request("GET", object_path(obj), ok=(200, 404))
        return data if status == 200 else None

    def differs(self, obj: dict[str, Any]) -> Action:
        """``create``, ``update`` or ``none`` for a manifest."""
        live = self.get(obj)
        if live is None:
            return Action.CREATE
        return Action.NONE if contains(live, {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}) \
            else Action.UPDATE

    def converge(self, obj: dict[str, Any]) -> Action:
        """Create or server-side apply the manifest when it differs; returns what was done."""
        action = self.differs(obj)
        if action == Action.CREATE:
            status, _ = self.request("POST", object_path(obj, with_name=False), obj, ok=(201, 200, 409),
                                     query={"fieldManager": MANAGER, "fieldValidation": "Strict"})
            if status == 409:  # made meanwhile: apply over it
                action = Action.UPDATE
        if action == Action.UPDATE:
            self.request("PATCH", object_path(obj), json.dumps(obj), content_type="application/apply-patch+yaml",
                         query={"fieldManager": MANAGER, "force": "true", "fieldValidation": "Strict"})
        return action

    def list(self, api_path: str, **query: str) -> list[dict[str, Any]]:
        """The items of a collection path (e.g. ``/api/v1/namespaces/x/pods``)."""
        _s, data = self.request("GET", api_path, query=query)
        return list((data or {}).get("items", []))
