"""Write wizard/sandbox/kube/schema.json: field names and types of the Kubernetes kinds the sandbox serves.

The source is the official Kubernetes OpenAPI as the ``kubernetes`` Python package renders it into
generated models (``openapi_types`` and ``attribute_map`` of each model). The sandbox reads only this
data file at run time, never the client package, so its validation is the API's, not the wizard's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import kubernetes
from kubernetes import client

ROOTS = ["V1Namespace", "V1Secret", "V1ConfigMap", "V1ServiceAccount", "V1DaemonSet", "V1Deployment",
         "V1ReplicaSet", "V1Pod", "V1Node", "CoreV1Event", "V1ClusterRole", "V1ClusterRoleBinding", "V1Role",
         "V1RoleBinding", "V1Service"]
PRIMITIVE = {"bytearray": "string", "bytes": "string",
             "str": "string", "int": "integer", "bool": "boolean", "float": "number", "datetime": "string",
             "date": "string", "object": "any"}


def type_of(t: str, todo: list[str]) -> Any:
    m = re.match(r"^[lL]ist\[(.*)\]$", t)
    if m:
        return {"list": type_of(m.group(1), todo)}
    m = re.match(r"^[dD]ict[(\[](\w+), (.*)[)\]]$", t)
    if m:
        return {"map": type_of(m.group(2), todo)}
    if t in PRIMITIVE:
        return PRIMITIVE[t]
    todo.append(t)
    return {"ref": t}


def main() -> None:
    models: dict[str, dict[str, Any]] = {}
    todo = list(ROOTS)
    while todo:
        name = todo.pop()
        if name in models:
            continue
        cls = getattr(client, name)
        fields = {cls.attribute_map[attr]: type_of(t, todo) for attr, t in cls.openapi_types.items()}
        models[name] = fields
    out = Path(__file__).resolve().parent.parent / "wizard" / "sandbox" / "kube" / "schema.json"
    doc = {"source": f"kubernetes python client {kubernetes.__version__} generated models (official OpenAPI)",
           "models": dict(sorted(models.items()))}
    out.write_text(json.dumps(doc, separators=(",", ":"), sort_keys=False) + "\n")
    print(f"{out}: {len(models)} models")


if __name__ == "__main__":
    main()
