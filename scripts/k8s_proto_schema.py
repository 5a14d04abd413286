"""Distil Kubernetes' ``generated.proto`` files into the field table the sandbox's protobuf decoder reads.

Usage: python scripts/k8s_proto_schema.py PROTO_ROOT > wizard/sandbox/kube/proto_schema.json

PROTO_ROOT holds the files of kubernetes/api (``api/<group>/<version>/generated.proto``) and kubernetes/apimachinery
(``am/pkg/.../generated.proto``), both Apache-2.0. Only the messages reachable from the kinds the sandbox serves are
kept: ``{"<package>.<Message>": {"<number>": [name, type, label]}}`` with label ``opt``, ``rep`` or ``map`` (a map's
type is ``key,value``) and types fully qualified for messages.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

SCALARS = {"string", "bytes", "bool", "int32", "int64", "uint32", "uint64", "double", "float", "fixed64", "fixed32"}
ROOTS = [f"k8s.io.api.core.v1.{k}" for k in ("Namespace", "Secret", "ConfigMap", "ServiceAccount", "Pod", "Node",
                                            "Event", "Service", "Binding")] + \
    [f"k8s.io.api.apps.v1.{k}" for k in ("Deployment", "DaemonSet", "ReplicaSet")] + \
    [f"k8s.io.api.rbac.v1.{k}" for k in ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")] + \
    ["k8s.io.api.autoscaling.v1.Scale", "k8s.io.api.authorization.v1.SelfSubjectAccessReview",
     "k8s.io.api.batch.v1.Job", "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions",
     "k8s.io.apimachinery.pkg.runtime.Unknown"]
FIELD = re.compile(r"^\s*(optional|repeated)?\s*(map<\s*([\w.]+)\s*,\s*([\w.]+)\s*>|[\w.]+)\s+(\w+)\s*=\s*(\d+)\s*;")


def parse(root: Path) -> dict[str, dict[str, list[str]]]:
    """Every message of every file under ``root``."""
    out: dict[str, dict[str, list[str]]] = {}
    for path in sorted(root.rglob("generated.proto")):
        text = path.read_text()
        package = re.search(r"^package ([\w.]+);", text, re.M).group(1)  # type: ignore[union-attr]
        current: str | None = None
        depth = 0
        for line in text.splitlines():
            code = line.split("//")[0]
            m = re.match(r"^\s*message (\w+) \{", code)
            if m and depth == 0:
                current, depth = f"{package}.{m.group(1)}", 1
                out[current] = {}
                continue
            if current is None:
                continue
            f = FIELD.match(code)
            if f:
                label, whole, key, value, name, number = f.groups()
                if key:
                    out[current][number] = [name, f"{_qualify(key, package)},{_qualify(value, package)}", "map"]
                else:
                    out[current][number] = [name, _qualify(whole, package), "rep" if label == "repeated" else "opt"]
            depth += code.count("{") - code.count("}")
            if depth == 0:
                current = None
    return out


def _qualify(name: str, package: str) -> str:
    if name in SCALARS:
        return name
    return name[1:] if name.startswith(".") else f"{package}.{name}"


def reachable(schema: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, list[str]]]:
    """The messages the roots need."""
    keep: dict[str, dict[str, list[str]]] = {}
    todo = list(ROOTS)
    while todo:
        name = todo.pop()
        if name in keep or name not in schema:
            continue
        keep[name] = schema[name]
        for _field, kind, _label in schema[name].values():
            todo.extend(t for t in kind.split(",") if t not in SCALARS)
    return dict(sorted(keep.items()))


if __name__ == "__main__":
    json.dump(reachable(parse(Path(sys.argv[1]))), sys.stdout, separators=(",", ":"), sort_keys=True)
    sys.stdout.write("\n")
