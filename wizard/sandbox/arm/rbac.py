"""Azure RBAC in the sandbox: every ARM request is an action over a scope, done only when one of the caller's role
assignments at that scope or above grants it.

Follows "Understand Azure role definitions" (learn.microsoft.com/azure/role-based-access-control/role-definitions):
an operation is ``{namespace}/{resourceType}/{read|write|delete}`` or ``.../{action}/action``; ``*`` in Actions and
NotActions is a wildcard; a role's NotActions only take away from that role's own Actions (another role that grants
the action still does, NotActions is no deny). Assignments at a parent scope are inherited. The refusal is ARM's 403
``AuthorizationFailed`` with the words recorded in Azure/Azure-Landing-Zones#3668 ("The client '...' with object id
'...' does not have authorization to perform action '...' over scope '...' or the scope is invalid. If access was
recently granted, please refresh your credentials.").

The sandbox's admin identities (the signed-in user and the admin service principal) are Owner of every subscription,
as the person who owns a new subscription is; tests take that away through ARM itself.
"""

from __future__ import annotations

import re
import uuid
from functools import lru_cache
from typing import Any

from .base import ArmError

OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
VERBS = {"GET": "read", "HEAD": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}
READ_POSTS = {"checknameavailability"}  # POSTs that ARM authorizes as reads (Microsoft.ContainerRegistry's operations)


def seed_admin_roles(data: dict[str, Any]) -> bool:
    """Owner on every subscription for the sandbox's admin user and admin service principal (once per store)."""
    if data.get("rbac_seeded"):
        return False
    meta = data["meta"]
    admin_sp = next(s["id"] for s in data["service_principals"].values() if s["appId"] == meta["admin_client_id"])
    store = data.setdefault("role_assignments", {})
    for sub in data["subscriptions"]:
        scope = f"/subscriptions/{sub['subscriptionId']}"
        for principal, kind in ((meta["admin_object_id"], "User"), (admin_sp, "ServicePrincipal")):
            name = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{scope}|{principal}|owner"))
            store[name] = {
                "id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}", "name": name,
                "type": "Microsoft.Authorization/roleAssignments",
                "properties": {"roleDefinitionId": f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{OWNER}",
                               "principalId": principal, "principalType": kind, "scope": scope, "description": None,
                               "condition": None, "conditionVersion": None, "createdOn": "2024-01-01T00:00:00Z",
                               "updatedOn": "2024-01-01T00:00:00Z", "createdBy": None, "updatedBy": None,
                               "delegatedManagedIdentityResourceId": None}}
    data["rbac_seeded"] = True
    return True


def operation(method: str, seg: list[str]) -> tuple[str, str] | None:
    """(action, scope) of an ARM request; None for what every signed-in caller may do (tenants, the subscription
    list, which ARM filters instead, and operation status)."""
    low = [s.lower() for s in seg]
    verb = VERBS.get(method.upper(), "action")
    if not low or low[0] != "subscriptions" or len(low) == 1:
        return None
    if any(x in ("operationresults", "operationstatuses") for x in low):
        return None
    if "microsoft.authorization" in low:
        i = low.index("microsoft.authorization")
        if i + 1 < len(seg):
            return f"Microsoft.Authorization/{seg[i + 1]}/{verb}", "/" + "/".join(seg)
    scope = "/" + "/".join(seg)
    rest = seg[2:]
    if not rest:
        return "Microsoft.Resources/subscriptions/read", scope
    if low[2] == "resourcegroups":
        if len(rest) <= 2:
            return f"Microsoft.Resources/subscriptions/resourceGroups/{verb}", scope
        if low[4:5] == ["resources"]:
            return "Microsoft.Resources/subscriptions/resourceGroups/resources/read", scope
        return _provider_op(method, seg[5:], scope) if low[4] == "providers" and len(seg) > 6 else None
    if low[2] == "providers":
        if len(rest) == 3 and low[4] in ("register", "unregister"):
            return f"{seg[3]}/{low[4]}/action", scope
        if len(rest) <= 2:
            return "Microsoft.Resources/subscriptions/providers/read", scope
        return _provider_op(method, seg[3:], scope)
    return f"Microsoft.Resources/subscriptions/{seg[2]}/read", scope


def _provider_op(method: str, parts: list[str], scope: str) -> tuple[str, str]:
    ns, rest = parts[0], parts[1:]
    types = rest[0::2]
    if len(rest) % 2 == 1 and len(rest) >= 3 and method.upper() == "POST":  # .../{name}/{action}
        types, action = rest[0:-1:2], rest[-1]
        return f"{ns}/{'/'.join(types)}/{action}/action", scope
    if method.upper() == "POST":
        last = types[-1] if types else ""
        if last.lower() in READ_POSTS:
            return f"{ns}/{'/'.join(types)}/read", scope
        return f"{ns}/{'/'.join(types)}/action", scope
    return f"{ns}/{'/'.join(types)}/{VERBS.get(method.upper(), 'read')}", scope


@lru_cache(maxsize=512)
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(p) for p in text.split("*")) + "$", re.IGNORECASE)


def grants(actions: list[str], not_actions: list[str], action: str) -> bool:
    """Whether a role's permission block grants ``action``."""
    return any(_pattern(a).match(action) for a in actions) and not any(_pattern(n).match(action) for n in not_actions)


def _covers(assigned: str, scope: str) -> bool:
    a, s = assigned.lower().rstrip("/"), scope.lower().rstrip("/")
    return a == "" or s == a or s.startswith(a + "/")


def allowed(data: dict[str, Any], builtin: dict[str, Any], principal: str, action: str, scope: str) -> bool:
    """Whether any assignment of ``principal`` at or above ``scope`` grants ``action``."""
    for a in data.get("role_assignments", {}).values():
        props = a["properties"]
        if props["principalId"].lower() != principal.lower() or not _covers(props["scope"], scope):
            continue
        role = builtin.get(props["roleDefinitionId"].rstrip("/").rsplit("/", 1)[-1].lower())
        if role is not None and grants(role[2], role[4] if len(role) > 4 else [], action):
            return True
    return False


def authorize(data: dict[str, Any], builtin: dict[str, Any], claims: dict[str, Any], method: str,
              seg: list[str]) -> None:
    """ARM's 403 unless the caller may do this request."""
    op = operation(method, seg)
    known = {s["subscriptionId"].lower() for s in data["subscriptions"]}
    if op is None or seg[1].lower() not in known:  # ARM answers an unknown subscription 404 SubscriptionNotFound
        return
    action, scope = op
    oid = str(claims.get("oid", ""))
    if allowed(data, builtin, oid, action, scope):
        return
    client = claims.get("upn") or claims.get("appid") or oid
    raise ArmError(403, "AuthorizationFailed", f"The client '{client}' with object id '{oid}' does not have "
                   f"authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If "
                   "access was recently granted, please refresh your credentials.")
