"""The Kubernetes kinds each sandbox API server serves, and strict validation against their schema.

``schema.json`` (made by ``scripts/make_kube_schema.py``) lists every field of every model as the
official Kubernetes OpenAPI defines it. Validation walks an object against it the way the API
server's strict decoding does: an unknown field or a wrong type is an error naming the field path.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Kind:
    """One served resource."""

    group: str
    version: str
    plural: str
    kind: str
    model: str
    namespaced: bool
    short: tuple[str, ...] = ()
    singular: str = ""

    @property
    def api_version(self) -> str:
        """``v1`` or ``apps/v1``."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> str:
        """Storage key prefix."""
        return f"{self.group}/{self.plural}"


KINDS = [
    Kind("", "v1", "namespaces", "Namespace", "V1Namespace", False, ("ns",)),
    Kind("", "v1", "secrets", "Secret", "V1Secret", True),
    Kind("", "v1", "configmaps", "ConfigMap", "V1ConfigMap", True, ("cm",)),
    Kind("", "v1", "serviceaccounts", "ServiceAccount", "V1ServiceAccount", True, ("sa",)),
    Kind("", "v1", "pods", "Pod", "V1Pod", True, ("po",)),
    Kind("", "v1", "nodes", "Node", "V1Node", False, ("no",)),
    Kind("", "v1", "events", "Event", "CoreV1Event", True, ("ev",)),
    Kind("", "v1", "services", "Service", "V1Service", True, ("svc",)),
    Kind("apps", "v1", "daemonsets", "DaemonSet", "V1DaemonSet", True, ("ds",)),
    Kind("apps", "v1", "deployments", "Deployment", "V1Deployment", True, ("deploy",)),
    Kind("apps", "v1", "replicasets", "ReplicaSet", "V1ReplicaSet", True, ("rs",)),
    Kind("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", "V1ClusterRole", False),
    Kind("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", "V1ClusterRoleBinding",
         False),
    Kind("rbac.authorization.k8s.io", "v1", "roles", "Role", "V1Role", True),
    Kind("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", "V1RoleBinding", True),
    # KEDA's CRDs, served where the AKS KEDA add-on is on (server.py): keda.sh/v1alpha1
    Kind("keda.sh", "v1alpha1", "scaledobjects", "ScaledObject", "KedaScaledObject", True, ("so",)),
    Kind("keda.sh", "v1alpha1", "triggerauthentications", "TriggerAuthentication", "KedaTriggerAuthentication", True,
         ("ta",)),
]
# The fields of KEDA's CRDs (keda.sh/v1alpha1, KEDA 2.x's ScaledObject and TriggerAuthentication schemas), as the
# API server's structural-schema pruning checks them.
KEDA_MODELS: dict[str, dict[str, Any]] = {
    "KedaScaledObject": {"apiVersion": "string", "kind": "string", "metadata": {"ref": "V1ObjectMeta"},
                         "spec": {"ref": "KedaScaledObjectSpec"}, "status": "any"},
    "KedaScaledObjectSpec": {"scaleTargetRef": {"ref": "KedaScaleTarget"}, "pollingInterval": "integer",
                             "cooldownPeriod": "integer", "initialCooldownPeriod": "integer",
                             "idleReplicaCount": "integer", "minReplicaCount": "integer",
                             "maxReplicaCount": "integer", "fallback": "any", "advanced": "any",
                             "triggers": {"list": {"ref": "KedaTrigger"}}},
    "KedaScaleTarget": {"name": "string", "kind": "string", "apiVersion": "string",
                        "envSourceContainerName": "string"},
    "KedaTrigger": {"type": "string", "name": "string", "metadata": {"map": "string"},
                    "authenticationRef": {"ref": "KedaAuthRef"}, "metricType": "string", "useCachedMetrics": "boolean"},
    "KedaAuthRef": {"name": "string", "kind": "string"},
    "KedaTriggerAuthentication": {"apiVersion": "string", "kind": "string", "metadata": {"ref": "V1ObjectMeta"},
                                  "spec": {"ref": "KedaTriggerAuthenticationSpec"}, "status": "any"},
    "KedaTriggerAuthenticationSpec": {"secretTargetRef": {"list": {"ref": "KedaSecretTargetRef"}}, "env": "any",
                                      "podIdentity": "any", "hashiCorpVault": "any", "azureKeyVault": "any"},
    "KedaSecretTargetRef": {"parameter": "string", "name": "string", "key": "string"},
}
BY_PLURAL = {(k.group, k.version, k.plural): k for k in KINDS}
BY_KIND = {(k.api_version, k.kind): k for k in KINDS}
GROUPS = sorted({(k.group, k.version) for k in KINDS if k.group})
QUANTITY_MAPS = {"limits", "requests", "capacity", "allocatable", "hard", "used"}
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@cache
def schema() -> dict[str, dict[str, Any]]:
    """Field tables of every model."""
    models: dict[str, dict[str, Any]] = json.loads((Path(__file__).parent / "schema.json").read_text())["models"]
    return {**models, **KEDA_MODELS}


def unknown_and_type_errors(obj: Any, model: str, path: str = "") -> list[str]:
    """Strict-decoding errors of ``obj`` against ``model``: unknown fields and wrong types."""
    errors: list[str] = []
    fields = schema()[model]
    if not isinstance(obj, dict):
        return [f"{path or '<root>'}: expected an object"]
    for key, value in obj.items():
        here = f"{path}.{key}" if path else key
        if key not in fields:
            errors.append(f'unknown field "{here}"')
            continue
        errors += _check(value, fields[key], here, key)
    return errors


def _check(value: Any, spec: Any, path: str, field: str) -> list[str]:
    if value is None:
        return []
    if spec == "any":
        return []
    if isinstance(spec, str):
        ok = {"string": isinstance(value, str), "integer": isinstance(value, int) and not isinstance(value, bool),
              "boolean": isinstance(value, bool), "number": isinstance(value, (int, float))}[spec]
        return [] if ok else [f"{path}: expected {spec}, got {type(value).__name__}"]
    if "ref" in spec:
        return unknown_and_type_errors(value, spec["ref"], path)
    if "list" in spec:
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        out = []
        for i, item in enumerate(value):
            out += _check(item, spec["list"], f"{path}[{i}]", field)
        return out
    if not isinstance(value, dict):
        return [f"{path}: expected a map"]
    out = []
    for k, v in value.items():
        if field in QUANTITY_MAPS and isinstance(v, (int, float)) and not isinstance(v, bool):
            continue
        out += _check(v, spec["map"], f"{path}[{k}]", k)
    return out


def invalid_fields(kind: Kind, obj: dict[str, Any]) -> list[tuple[str, str]]:
    """Semantic validation (422 Invalid): (field path, message) pairs."""
    out: list[tuple[str, str]] = []
    name = (obj.get("metadata") or {}).get("name") or ""
    if not name and not (obj.get("metadata") or {}).get("generateName"):
        out.append(("metadata.name", "Required value: name or generateName is required"))
    elif name and (len(name) > 253 or not NAME_RE.match(name)):
        out.append(("metadata.name", f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of '
                    "lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
                    "character"))
    if kind.kind == "Namespace" and name and (len(name) > 63 or not LABEL_NAME_RE.match(name)):
        out.append(("metadata.name", f'Invalid value: "{name}": a lowercase RFC 1123 label must consist of lower '
                    "case alphanumeric characters or '-'"))
    spec = obj.get("spec") or {}
    if kind.kind in ("Deployment", "DaemonSet", "ReplicaSet"):
        selector = (spec.get("selector") or {}).get("matchLabels")
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not spec.get("selector"):
            out.append(("spec.selector", "Required value"))
        elif selector and any(labels.get(k) != v for k, v in selector.items()):
            out.append(("spec.template.metadata.labels", f"Invalid value: {json.dumps(labels)}: `selector` does "
                        "not match template `labels`"))
        out += _containers((spec.get("template") or {}).get("spec") or {}, "spec.template.spec")
    if kind.kind == "Pod":
        out += _containers(spec, "spec")
    return out


def _containers(pod_spec: dict[str, Any], path: str) -> list[tuple[str, str]]:
    out = []
    containers = pod_spec.get("containers") or []
    if not containers:
        out.append((f"{path}.containers", "Required value"))
    for i, c in enumerate(containers):
        if not c.get("name"):
            out.append((f"{path}.containers[{i}].name", "Required value"))
        if not c.get("image"):
            out.append((f"{path}.containers[{i}].image", "Required value"))
    return out
