"""Copy the Azure REST spec files the contract tests read into tests/contract/specs/.

Starts from the spec files of the operations the sandbox serves and follows every ``$ref`` to other
files, so the copy is closed. Relative paths are kept as upstream has them. Run from the checkout:
``python scripts/copy_specs.py ../shared/azure-specs``.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

ENTRY = [
    "subscription/resource-manager/Microsoft.Subscription/stable/2016-06-01/subscriptions.json",
    "resources/resource-manager/Microsoft.Resources/stable/2022-12-01/subscriptions.json",
    "resources/resource-manager/Microsoft.Resources/resources/stable/2025-04-01/resources.json",
    "containerregistry/resource-manager/Microsoft.ContainerRegistry/Registry/stable/2025-11-01/containerregistry.json",
    "containerservice/resource-manager/Microsoft.ContainerService/aks/stable/2024-02-01/managedClusters.json",
    "compute/resource-manager/Microsoft.Compute/ComputeRP/stable/2024-03-01/virtualMachine.json",
    "compute/resource-manager/Microsoft.Compute/ComputeRP/stable/2024-03-01/computeRPCommon.json",
    "compute/resource-manager/Microsoft.Compute/Skus/stable/2021-07-01/skus.json",
    "network/resource-manager/Microsoft.Network/stable/2024-01-01/virtualNetwork.json",
    "network/resource-manager/Microsoft.Network/stable/2024-01-01/networkSecurityGroup.json",
    "network/resource-manager/Microsoft.Network/stable/2024-01-01/publicIpAddress.json",
    "network/resource-manager/Microsoft.Network/stable/2024-01-01/networkInterface.json",
    "authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/authorization-RoleAssignmentsCalls.json",
    "authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/authorization-RoleDefinitionsCalls.json",
]


def refs(node: Any) -> set[str]:
    """Every file part of every ``$ref`` in a JSON document."""
    out: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "x-ms-examples":
                continue
            if key == "$ref" and isinstance(value, str) and not value.startswith("#"):
                out.add(value.split("#", 1)[0])
            else:
                out |= refs(value)
    elif isinstance(node, list):
        for item in node:
            out |= refs(item)
    return out


def main(source: Path) -> None:
    spec_root = source / "specification"
    dest = Path(__file__).resolve().parent.parent / "tests" / "contract" / "specs" / "specification"
    todo, done = [spec_root / e for e in ENTRY], set()
    while todo:
        path = todo.pop().resolve()
        if path in done:
            continue
        done.add(path)
        for ref in refs(json.loads(path.read_text())):
            todo.append((path.parent / ref).resolve())
    for path in sorted(done):
        rel = path.relative_to(spec_root.resolve())
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest / rel)
        print(rel)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/azure-specs"))
