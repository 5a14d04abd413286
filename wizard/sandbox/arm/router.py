"""ARM request routing: authentication, api-version checks and dispatch by path.

ARM paths are case-insensitive and role-assignment scopes contain slashes, so routing is done
here on path segments rather than by a URL pattern table.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from ..store import iso
from . import acr, aks, authz, compute, network, nsg, outbound, rbac, resources, versions
from .base import ArmError, Sandbox, json_response
from .provider import Call, Ref, ResourceType

TYPES: list[ResourceType] = [
    acr.Registries(), aks.ManagedClusters(), aks.AgentPools(), compute.VirtualMachines(),
    network.VirtualNetworks(), network.SUBNET, network.Peerings(), nsg.NetworkSecurityGroups(),
    nsg.SecurityRules(), outbound.PublicIPAddresses(), outbound.NatGateways(), network.NetworkInterfaces(),
]
BY_PATH = {(t.namespace.lower(), tuple(x.lower() for x in t.types)): t for t in TYPES}
resources.DELETE_SECONDS.update({f"{t.namespace}/{'/'.join(t.types)}".lower(): t.delete_seconds for t in TYPES})
ARM_AUDIENCES = ("https://management.azure.com", "https://management.core.windows.net")


def authenticate(sbx: Sandbox, request: web.Request) -> dict[str, Any]:
    """The bearer token's claims, or ARM's 401."""
    header = request.headers.get("Authorization", "")
    if not header:
        raise ArmError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.",
                       headers={"WWW-Authenticate": f'Bearer authorization_uri="{sbx.base_url}", '
                                                    'error="invalid_token", error_description="The authentication '
                                                    'failed because of missing \'Authorization\' header."'})
    scheme, _, token = header.partition(" ")
    claims = sbx.pki.verify_jwt(token) if scheme.lower() == "bearer" else None
    if claims is None or not str(claims.get("aud", "")).rstrip("/").startswith(ARM_AUDIENCES + (sbx.base_url,)):
        raise ArmError(401, "InvalidAuthenticationToken", "The access token is invalid or has expired.",
                       headers={"WWW-Authenticate": f'Bearer authorization_uri="{sbx.base_url}", '
                                                    'error="invalid_token", error_description="The access token '
                                                    'is invalid."'})
    return claims


async def handle(request: web.Request) -> web.StreamResponse:
    """The ARM entry point."""
    sbx: Sandbox = request.app["sandbox"]
    try:
        claims = authenticate(sbx, request)
        rbac.authorize(sbx.store.data, authz.BUILTIN, claims, request.method, [s for s in request.path.split("/") if s])
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            raise ArmError(400, "InvalidRequestContent", "The request content was not valid JSON.") from None
        call = Call(sbx, request.method, body, request.query.get("api-version", ""), dict(request.query), claims)
        return dispatch(call, [s for s in request.path.split("/") if s])
    except ArmError as err:
        return err.response()


def dispatch(call: Call, seg: list[str]) -> web.StreamResponse:
    """Route by path segments."""
    low = [s.lower() for s in seg]
    if "microsoft.authorization" in low:
        i = low.index("microsoft.authorization")
        if i >= 1 and low[i - 1] == "providers" and len(seg) > i + 1:
            scope = "/" + "/".join(seg[: i - 1])
            versions.check("Microsoft.Authorization", call.api_version, seg[i + 1])
            name = seg[i + 2] if len(seg) > i + 2 else None
            if low[i + 1] == "roleassignments":
                return authz.role_assignments(call, scope, name)
            if low[i + 1] == "roledefinitions":
                return authz.role_definitions(call, scope, name)
    if low == ["tenants"]:
        versions.check("Microsoft.Resources", call.api_version, "tenants")
        return resources.list_tenants(call)
    if not low or low[0] != "subscriptions":
        raise ArmError(404, "NotFound", "No HTTP resource was found that matches the request URI.")
    if len(low) == 1:
        versions.check("Microsoft.Resources", call.api_version, "subscriptions")
        return resources.list_subscriptions(call)
    sub_id = seg[1]
    sub = resources.require_subscription(call.sbx, sub_id)["subscriptionId"]
    rest, lrest = seg[2:], low[2:]
    if not rest:
        versions.check("Microsoft.Resources", call.api_version, "subscriptions")
        return resources.get_subscription(call, sub_id)
    if lrest == ["locations"]:
        versions.check("Microsoft.Resources", call.api_version, "locations")
        return resources.list_locations(call, sub_id)
    if lrest[0] == "operationresults" and len(rest) == 2:
        return poll(call, rest[1], location_style=True)
    if lrest == ["resources"] or lrest[0] == "resourcegroups" and lrest[2:] == ["resources"]:
        versions.check("Microsoft.Resources", call.api_version, "resources")
        return resources.list_resources(call, sub_id, rest[1] if len(rest) == 3 else None)
    if lrest[0] == "resourcegroups":
        if len(rest) <= 2:
            versions.check("Microsoft.Resources", call.api_version, "resourceGroups")
            return resources.resource_groups(call, sub_id, rest[1] if len(rest) == 2 else None)
        if lrest[2] == "providers" and len(rest) >= 5:
            return resource_call(call, sub, rest[1], rest[3], rest[4:])
    if lrest[0] == "providers":
        if len(rest) == 6 and lrest[2] == "locations" and lrest[4] in (
                "operationstatuses", "operationresults"):
            return poll(call, rest[5], location_style=lrest[4] == "operationresults")
        if len(rest) <= 3 and (len(rest) < 3 or lrest[2] in ("register", "unregister")):
            versions.check("Microsoft.Resources", call.api_version, "providers")
            return resources.providers(call, sub_id, rest[1] if len(rest) > 1 else None,
                                       lrest[2] if len(rest) == 3 else None)
        return subscription_provider_call(call, sub, lrest[1], rest[2:])
    raise ArmError(404, "NotFound", "No HTTP resource was found that matches the request URI.")


def subscription_provider_call(call: Call, sub: str, ns: str, rest: list[str]) -> web.StreamResponse:
    """Subscription-level provider operations (lists, name checks, SKUs, usages)."""
    low = [r.lower() for r in rest]
    versions.check(ns, call.api_version, low[0] if low else ns)
    if ns == "microsoft.containerregistry" and low == ["checknameavailability"] and call.method == "POST":
        resources.provider_registered(call.sbx, sub, "Microsoft.ContainerRegistry")
        return acr.check_name(call)
    if ns == "microsoft.compute" and low == ["skus"]:
        return compute.list_skus(call)
    if ns == "microsoft.compute" and len(low) == 3 and low[0] == "locations" and low[2] == "usages":
        return compute.list_usages(call, sub, rest[1])
    if ns == "microsoft.compute" and len(low) == 3 and low[0] == "locations" and low[2] == "vmsizes":
        return compute.list_vm_sizes(call, rest[1])
    if len(low) == 1 and call.method == "GET":
        handler = BY_PATH.get((ns, (low[0],)))
        if handler is not None:
            prefix = f"/subscriptions/{sub}/".lower()
            recs = [r for k, r in list(call.sbx.store.resources.items()) if k.startswith(prefix)
                    and r["type"].lower() == f"{ns}/{low[0]}" and call.sbx.get_resource(k)]
            return handler.list(call, recs)
    raise ArmError(404, "NotFound", "No HTTP resource was found that matches the request URI.")


def resource_call(call: Call, sub: str, rg: str, ns: str, rest: list[str]) -> web.StreamResponse:
    """Operations on resources inside a resource group."""
    low = [r.lower() for r in rest]
    types, names = low[0::2], rest[1::2]
    action = None
    handler = BY_PATH.get((ns.lower(), tuple(types)))
    if handler is None and len(rest) % 2 == 1 and len(rest) >= 3:
        handler = BY_PATH.get((ns.lower(), tuple(types[:-1])))
        action = low[-1]
        names = rest[1:-1:2]
    if handler is None:
        raise ArmError(404, "InvalidResourceType", f"The resource type '{'/'.join(rest[0::2])}' could not be "
                       f"found in the namespace '{ns}' for api version '{call.api_version}'.")
    versions.check(handler.namespace, call.api_version, "/".join(handler.types))
    rg_rec = resources.require_rg(call.sbx, sub, rg)
    ref = Ref(sub, rg_rec["body"]["name"], handler.namespace, list(handler.types[: len(names)]), list(names))
    if len(names) < len(handler.types):  # a collection: GET list
        if len(names) == len(handler.types) - 1 and call.method == "GET" and action is None:
            if names:
                parent = Ref(sub, ref.rg, handler.namespace, list(handler.types[:-1]), list(names))
                return handler.list(call, call.sbx.children(parent.id, handler.types[-1]))
            prefix = ref.rg_id.lower() + "/"
            wanted = f"{handler.namespace}/{handler.types[0]}".lower()
            recs = [r for k, r in list(call.sbx.store.resources.items())
                    if k.startswith(prefix) and r["type"].lower() == wanted and call.sbx.get_resource(k)]
            return handler.list(call, recs)
        raise ArmError(405, "MethodNotAllowed", "The requested method is not allowed on a collection.")
    ref = Ref(sub, ref.rg, handler.namespace, list(handler.types), list(names))
    if ref.parent_id and call.sbx.get_resource(ref.parent_id) is None and call.method != "DELETE":
        raise ArmError(404, "ParentResourceNotFound", f"Can not perform requested operation on nested resource. "
                       f"Parent resource '{'/'.join(names[:-1])}' not found.")
    if action is not None:
        fn = handler.actions().get(action)
        if fn is None or call.method != "POST":
            raise ArmError(404, "NotFound", f"No action '{action}' on {ref.type_name}.")
        return fn(call, ref, {})
    if call.method in ("PUT", "PATCH"):
        resources.provider_registered(call.sbx, sub, handler.namespace)
        return handler.put(call, ref) if call.method == "PUT" else handler.patch(call, ref)
    if call.method == "GET":
        return handler.get(call, ref)
    if call.method == "DELETE":
        return handler.delete(call, ref)
    raise ArmError(405, "MethodNotAllowed", f"{call.method} is not allowed here.")


def poll(call: Call, op_id: str, *, location_style: bool) -> web.StreamResponse:
    """Operation status (Azure-AsyncOperation) and operation result (Location) endpoints."""
    sbx = call.sbx
    op = sbx.store.operations.get(op_id)
    if op is None:
        raise ArmError(404, "OperationNotFound", f"The operation '{op_id}' was not found.")
    status = sbx.op_status(op)
    retry = sbx.retry_after(op["done_at"] - sbx.now())
    if not location_style:
        body: dict[str, Any] = {"id": op_id, "name": op_id, "status": status,
                                "startTime": iso(op["start"])}
        if status != "InProgress":
            body["endTime"] = iso(op["done_at"])
        if status == "Failed":
            body["error"] = op["error"]
        return json_response(body, headers=retry if status == "InProgress" else {})
    if status == "InProgress":
        return json_response(None, status=202, headers={**retry, "Location": sbx.op_urls(op)[1]})
    if status == "Failed":
        raise ArmError(400 if op["error"]["code"] != "InternalServerError" else 500, op["error"]["code"],
                       op["error"]["message"])
    if op["kind"] == "delete" or op["result"] is None:
        return json_response(None, status=200 if op["kind"] != "delete" else 204)
    return json_response(op["result"], status=200)
