"""Whether the signed-in identity may make what an apply makes, read from its own role assignments before the first
write (Azure would otherwise refuse half-way, after the groups, network and cluster exist).

Azure RBAC as "Understand Azure role definitions" describes it: an action is granted by an assignment at its scope
or above whose role lists it in Actions (``*`` a wildcard) and not in that role's NotActions. What cannot be read
(no permission to list role assignments, a custom role we may not read) is not guessed at: the check then says
nothing and Azure's own answer to the write decides.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from .azure.clients import Clients
from .azure.errors import azure_call
from .errors import RefusedError, WizardError
from .naming import Names

ADVICE = ("ask an Owner of the subscription for the Owner role, or for Contributor plus Role Based Access Control "
          "Administrator (or User Access Administrator), on the subscription; then run again (nothing was changed)")


def needed(sub: str, names: Names, region: str) -> list[tuple[str, str, str]]:
    """(action, scope, why) of what an apply of ``region`` writes."""
    home = region == names.home_region
    base = f"/subscriptions/{sub}/resourceGroups"
    cluster_rg, registry_rg = f"{base}/{names.cluster_rg(region)}", f"{base}/{names.registry_rg}"
    out = [("Microsoft.Resources/subscriptions/resourceGroups/write", cluster_rg,
            "create the cluster's resource group"),
           ("Microsoft.Network/virtualNetworks/write", cluster_rg, "create the cluster's VNet"),
           ("Microsoft.ContainerService/managedClusters/write", cluster_rg, "create the AKS cluster"),
           ("Microsoft.ContainerService/managedClusters/listClusterUserCredential/action", cluster_rg,
            "read the cluster's kubeconfig")]
    if home:
        out += [("Microsoft.Resources/subscriptions/resourceGroups/write", registry_rg,
                 "create the registry's resource group"),
                ("Microsoft.ContainerRegistry/registries/write", registry_rg, "create the registry"),
                ("Microsoft.Compute/virtualMachines/write", registry_rg, "create the RabbitMQ and file-server VMs"),
                ("Microsoft.Compute/virtualMachines/runCommand/action", registry_rg,
                 "check the service VMs' health with Run Command"),
                ("Microsoft.Authorization/roleAssignments/write", registry_rg,
                 "let the runners' service principal pull the runner image (a role assignment on the registry)")]
    return out


def object_id(clients: Clients) -> str:
    """The signed-in identity's object id, from its ARM token (``oid``); '' when the token names none."""
    token = clients.credential.get_token(clients.cloud.arm_scope).token
    try:
        part = token.split(".")[1]
        return str(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))).get("oid", ""))
    except (IndexError, ValueError, AttributeError):
        return ""


def _grants(actions: list[str], not_actions: list[str], action: str) -> bool:
    def match(pattern: str) -> bool:
        return re.fullmatch(".*".join(re.escape(p) for p in pattern.split("*")), action, re.IGNORECASE) is not None

    return any(match(a) for a in actions) and not any(match(n) for n in not_actions)


def _covers(assigned: str, scope: str) -> bool:
    a, s = assigned.lower().rstrip("/"), scope.lower().rstrip("/")
    return a == "" or s == a or s.startswith(a + "/")


def check_permissions(clients: Clients, sub: str, names: Names, region: str) -> None:
    """Refuse (exit 3) before any write when the caller's role assignments grant less than an apply needs."""
    refuse_missing(clients, sub, needed(sub, names, region), "an apply does")


def refuse_missing(clients: Clients, sub: str, needs: list[tuple[str, str, str]], doing: str) -> None:
    """Refuse (exit 3) when the caller's role assignments grant less than ``needs`` ((action, scope, why) each)."""
    oid = object_id(clients)
    if not oid:
        return
    authz = clients.authz(sub)
    try:
        with azure_call("reading your role assignments"):
            assigned = list(authz.role_assignments.list_for_subscription(filter=f"assignedTo('{oid}')"))
            roles: dict[str, Any] = {}
            for a in assigned:
                rid = str(a.role_definition_id)
                if rid not in roles:
                    roles[rid] = authz.role_definitions.get_by_id(rid)
    except WizardError:  # not allowed to read them (or a custom role out of reach): Azure's answer to the write decides
        return
    missing: list[tuple[str, str, str]] = []
    for action, scope, why in needs:
        ok = any(_covers(str(a.scope), scope) and any(
            _grants(list(p.actions or []), list(p.not_actions or []), action)
            for p in (roles[str(a.role_definition_id)].permissions or [])) for a in assigned)
        if not ok:
            missing.append((action, scope, why))
    if not missing:
        return
    held = sorted({f"{roles[str(a.role_definition_id)].role_name} on {a.scope}" for a in assigned}) or ["none"]
    lines = "; ".join(f"{why} ({action})" for action, _scope, why in missing)
    raise RefusedError(f"the signed-in identity (object id {oid}) may not do all {doing} in subscription {sub}: "
                       f"it cannot {lines}. Its role assignments: {', '.join(held)}.", ADVICE, "AuthorizationFailed")
