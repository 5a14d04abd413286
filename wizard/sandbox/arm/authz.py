"""Microsoft.Authorization in the sandbox: built-in role definitions and role assignments.

Assignments live at any scope (subscription, resource group, resource: the scope carries slashes).
Follows ARM's behaviour: GUID names, 409 ``RoleAssignmentExists`` for a second assignment of the
same role to the same principal at the same scope, and ``PrincipalNotFound`` while a new principal
replicates unless ``principalType`` is given.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from .base import ArmError, json_response, now_iso
from .provider import Call

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# (roleName, description, actions, dataActions, notActions) of the built-in roles, as "Azure built-in roles"
# (learn.microsoft.com/azure/role-based-access-control/built-in-roles) lists them.
CONTRIBUTOR_NOT = ["Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write",
                   "Microsoft.Authorization/elevateAccess/Action", "Microsoft.Blueprint/blueprintAssignments/write",
                   "Microsoft.Blueprint/blueprintAssignments/delete", "Microsoft.Compute/galleries/share/action",
                   "Microsoft.Purview/consents/write", "Microsoft.Purview/consents/delete"]
BUILTIN: dict[str, tuple[str, str, list[str], list[str], list[str]]] = {
    "7f951dda-4ed3-4680-a7ca-43fe172d538d": ("AcrPull", "acr pull", [],
                                             ["Microsoft.ContainerRegistry/registries/pull/read"], []),
    "8311e382-0749-4cb8-b61a-304f252e45ec": ("AcrPush", "acr push", [],
                                             ["Microsoft.ContainerRegistry/registries/pull/read",
                                              "Microsoft.ContainerRegistry/registries/push/write"], []),
    "b24988ac-6180-42a0-ab88-20f7382dd24c": ("Contributor", "Grants full access to manage all resources, but "
                                             "does not allow you to assign roles in Azure RBAC.", ["*"], [],
                                             CONTRIBUTOR_NOT),
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": ("Owner", "Grants full access to manage all resources, including "
                                             "the ability to assign roles in Azure RBAC.", ["*"], [], []),
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": ("Reader", "View all resources, but does not allow you to make any "
                                             "changes.", ["*/read"], [], []),
    "4d97b98b-1d4f-4787-a291-c67834d212e7": ("Network Contributor", "Lets you manage networks, but not access "
                                             "to them.", ["Microsoft.Network/*"], [], []),
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": ("User Access Administrator", "Lets you manage user access to Azure "
                                             "resources.", ["*/read", "Microsoft.Authorization/*",
                                                            "Microsoft.Support/*"], [], []),
    "f58310d9-a9f6-439a-9e8d-f62e7b41a168": ("Role Based Access Control Administrator", "Manage access to Azure "
                                             "resources by assigning roles using Azure RBAC.",
                                             ["Microsoft.Authorization/roleAssignments/write",
                                              "Microsoft.Authorization/roleAssignments/delete", "*/read",
                                              "Microsoft.Support/*"], [], []),
    "b93aa761-3e63-49ed-ac28-beffa264f7ac": ("Container Registry Repository Reader", "Allows read access to "
                                             "Azure Container Registry repositories; supports ABAC conditions on the "
                                             "repository name.", [],
                                             ["Microsoft.ContainerRegistry/registries/repositories/content/read",
                                              "Microsoft.ContainerRegistry/registries/repositories/metadata/read"],
                                             []),
}
PRINCIPAL_TYPES = ("User", "Group", "ServicePrincipal", "ForeignGroup", "Device")


def _definition(scope: str, guid: str) -> dict[str, Any]:
    name, desc, actions, data, not_actions = BUILTIN[guid]
    return {
        "id": f"{scope.rstrip('/')}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
        "name": guid, "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {"roleName": name, "type": "BuiltInRole", "description": desc, "assignableScopes": ["/"],
                       "permissions": [{"actions": actions, "notActions": not_actions, "dataActions": data,
                                        "notDataActions": []}],
                       "createdOn": "2018-10-29T17:52:32.5201177Z", "updatedOn": "2021-11-11T20:13:44.1903478Z",
                       "createdBy": None, "updatedBy": None}}


def role_definitions(call: Call, scope: str, guid: str | None) -> web.Response:
    """GET one definition or list them (``$filter=roleName eq 'X'``)."""
    if guid is not None:
        if guid.lower() not in BUILTIN:
            raise ArmError(404, "RoleDefinitionDoesNotExist", f"The specified role definition with ID '{guid}' "
                           "does not exist.")
        return json_response(_definition(scope, guid.lower()))
    flt = call.query.get("$filter", "")
    m = re.match(r"^\s*roleName\s+eq\s+'(.*)'\s*$", flt)
    items = [_definition(scope, g) for g in BUILTIN]
    if m:
        items = [d for d in items if d["properties"]["roleName"].lower() == m.group(1).lower()]
    elif re.match(r"^\s*type\s+eq\s+'BuiltInRole'\s*$", flt):
        pass
    elif flt:
        raise ArmError(400, "InvalidFilterInQueryString", f"The filter '{flt}' is not supported.")
    return json_response({"value": items})


PROPAGATION_SECONDS = 120.0


def effective(sbx: Any, assignment: dict[str, Any]) -> bool:
    """Whether a role assignment has reached the services that enforce it."""
    return bool(sbx.now() >= sbx.store.data.get("role_effective", {}).get(assignment["name"].lower(), 0))


def _principal_visible(call: Call, principal: str, principal_type: str | None) -> None:
    sbx = call.sbx
    data = sbx.store.data
    if principal in data.get("managed_identities", {}) or principal == data["meta"]["admin_object_id"]:
        return
    sp = next((s for s in data["service_principals"].values() if s["id"] == principal), None)
    replicated = sp is not None and sbx.now() >= sp.get("_visible_at", 0)
    if replicated or (sp is not None and principal_type):
        return
    raise ArmError(400, "PrincipalNotFound",
                   f"Principal {principal.replace('-', '')} does not exist in the directory "
                   f"{data['meta']['tenant_id']}. Check that you have the correct principal ID. If you are creating "
                   "this principal and then immediately assigning a role, this error might be related to a "
                   "replication delay. In this case, set the role assignment principalType property to a value, "
                   "such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype")


def _scope_exists(call: Call, scope: str) -> None:
    parts = scope.strip("/").split("/")
    if len(parts) >= 2 and call.sbx.store.subscription(parts[1]) is None:
        raise ArmError(404, "SubscriptionNotFound", f"The subscription '{parts[1]}' could not be found.")
    if len(parts) > 2 and call.sbx.get_resource(scope) is None:
        raise ArmError(404, "ResourceNotFound" if len(parts) > 4 else "ResourceGroupNotFound",
                       f"The scope '{scope}' does not exist.")


def _assignments(call: Call) -> dict[str, dict[str, Any]]:
    return call.sbx.store.data.setdefault("role_assignments", {})  # type: ignore[no-any-return]


def role_assignments(call: Call, scope: str, name: str | None) -> web.Response:
    """PUT/GET/DELETE one assignment, or list those at, above and below a scope."""
    store = _assignments(call)
    if name is None:
        if call.method != "GET":
            raise ArmError(405, "MethodNotAllowed", "Only GET lists role assignments.")
        flt = call.query.get("$filter", "")
        low = scope.lower().rstrip("/")
        out = [a for a in store.values()
               if low.startswith(a["properties"]["scope"].lower()) or a["properties"]["scope"].lower().startswith(low)]
        if "atScope()" in flt:
            out = [a for a in out if low.startswith(a["properties"]["scope"].lower())]
        m = re.search(r"(?:principalId eq|assignedTo\()\s*'([^']+)'", flt)
        if m:
            out = [a for a in out if a["properties"]["principalId"].lower() == m.group(1).lower()]
        return json_response({"value": out})
    if not GUID.match(name):
        raise ArmError(400, "InvalidRoleAssignmentId", f"The role assignment ID '{name}' is not valid. The role "
                       "assignment ID must be a GUID.")
    key = name.lower()
    existing = store.get(key)
    if call.method == "GET":
        if existing is None or existing["properties"]["scope"].lower() != scope.lower():
            raise ArmError(404, "RoleAssignmentNotFound", "The role assignment was not found.")
        return json_response(existing)
    if call.method == "DELETE":
        if existing is None:
            return json_response(None, status=204)
        del store[key]
        call.sbx.store.save()
        return json_response(existing)
    if call.method != "PUT":
        raise ArmError(405, "MethodNotAllowed", f"{call.method} is not allowed on role assignments.")
    props = call.json_body().get("properties") or {}
    role_id, principal = props.get("roleDefinitionId", ""), props.get("principalId", "")
    guid = role_id.rstrip("/").rsplit("/", 1)[-1].lower()
    if guid not in BUILTIN:
        raise ArmError(400, "RoleDefinitionDoesNotExist", f"The specified role definition with ID '{guid}' does "
                       "not exist.")
    if not GUID.match(principal or ""):
        raise ArmError(400, "InvalidPrincipalId", "A valid principal ID must be provided for role assignment.")
    condition, version = props.get("condition"), props.get("conditionVersion")
    if condition is not None and (not isinstance(condition, str) or version != "2.0"):
        raise ArmError(400, "InvalidConditionVersion" if condition else "InvalidCondition", "A role assignment "
                       "condition must be a string with conditionVersion '2.0'.", target="properties.condition")
    ptype = props.get("principalType")
    if ptype is not None and ptype not in PRINCIPAL_TYPES:
        raise ArmError(400, "InvalidParameter", f"principalType '{ptype}' is not one of {PRINCIPAL_TYPES}.")
    _scope_exists(call, scope)
    _principal_visible(call, principal, ptype)
    for other_key, other in store.items():
        op = other["properties"]
        if op["scope"].lower() == scope.lower() and op["principalId"].lower() == principal.lower() and \
                op["roleDefinitionId"].rsplit("/", 1)[-1].lower() == guid and op.get("condition") == condition:
            if other_key == key:
                return json_response(other, status=201)
            raise ArmError(409, "RoleAssignmentExists", "The role assignment already exists.",
                           details=[{"code": "RoleAssignmentExists", "message": f"Existing: {other['id']}"}])
    if existing is not None:
        raise ArmError(409, "RoleAssignmentUpdateNotPermitted", "Tenant ID, application ID, principal ID, and "
                       "scope are not allowed to be updated.")
    now = now_iso()
    body = {"id": f"{scope.rstrip('/')}/providers/Microsoft.Authorization/roleAssignments/{name}",
            "name": name, "type": "Microsoft.Authorization/roleAssignments",
            "properties": {"roleDefinitionId": role_id, "principalId": principal,
                           "principalType": ptype or "ServicePrincipal", "scope": scope.rstrip("/"),
                           "description": props.get("description"), "condition": condition,
                           "conditionVersion": version if condition else None,
                           "createdOn": now, "updatedOn": now, "createdBy": call.caller.get("oid"),
                           "updatedBy": call.caller.get("oid"), "delegatedManagedIdentityResourceId": None}}
    store[key] = body
    # A new assignment takes minutes to reach the services that enforce it ("Troubleshoot Azure RBAC": changes can
    # take up to 10 minutes): until then a registry refuses the pulls it grants.
    call.sbx.store.data.setdefault("role_effective", {})[key] = call.sbx.now() + call.sbx.scaled(PROPAGATION_SECONDS)
    call.sbx.store.save()
    return json_response(body, status=201)
