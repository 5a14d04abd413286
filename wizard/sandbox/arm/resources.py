"""Microsoft.Resources in the sandbox: subscriptions, tenants, locations, providers, resource groups."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from . import catalog
from .base import ArmError, Sandbox, json_response
from .provider import Call, mark_deleting, normalize_location
from .versions import ACCEPTED

# Namespaces every subscription knows; the wizard needs the last two registered.
NAMESPACES = ["Microsoft.Resources", "Microsoft.Authorization", "Microsoft.Compute", "Microsoft.Network",
              "Microsoft.ContainerRegistry", "Microsoft.ContainerService"]
RESOURCE_TYPES: dict[str, list[str]] = {
    "Microsoft.Resources": ["resourceGroups", "subscriptions", "tenants", "resources"],
    "Microsoft.Authorization": ["roleAssignments", "roleDefinitions"],
    "Microsoft.Compute": ["virtualMachines", "locations/usages", "skus", "locations/vmSizes"],
    "Microsoft.Network": ["virtualNetworks", "virtualNetworks/subnets", "virtualNetworks/virtualNetworkPeerings",
                          "networkSecurityGroups", "networkSecurityGroups/securityRules", "publicIPAddresses",
                          "natGateways", "networkInterfaces"],
    "Microsoft.ContainerRegistry": ["registries", "checkNameAvailability"],
    "Microsoft.ContainerService": ["managedClusters", "managedClusters/agentPools"],
}
REGISTRATION_SECONDS = 30.0


def subscription_body(sbx: Sandbox, sub: dict[str, Any]) -> dict[str, Any]:
    """A subscription as ARM lists it."""
    return {
        "id": f"/subscriptions/{sub['subscriptionId']}",
        "subscriptionId": sub["subscriptionId"],
        "tenantId": sbx.store.meta["tenant_id"],
        "displayName": sub["displayName"],
        "state": sub["state"],
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "PayAsYouGo_2014-09-01",
            "spendingLimit": "Off",
        },
        "authorizationSource": "RoleBased",
    }


def list_subscriptions(call: Call) -> web.Response:
    """GET /subscriptions."""
    # ARM lists the subscriptions the caller holds a role in (at, above or below the subscription's scope)
    mine = {a["properties"]["scope"].lower().split("/")[2] for a in call.sbx.store.data.get("role_assignments", {})
            .values() if a["properties"]["principalId"].lower() == str(call.caller.get("oid", "")).lower()
            and a["properties"]["scope"].lower().startswith("/subscriptions/")}
    subs = [subscription_body(call.sbx, s) for s in call.sbx.store.data["subscriptions"]
            if s["subscriptionId"].lower() in mine]
    body: dict[str, Any] = {"value": subs, "count": {"type": "Total", "value": len(subs)}}
    if call.api_version >= "2022-12-01":
        body["nextLink"] = ""  # required by that spec version; empty means no further page
    return json_response(body)


def require_subscription(sbx: Sandbox, sub_id: str) -> dict[str, Any]:
    """The subscription, or ARM's 404 SubscriptionNotFound."""
    sub = sbx.store.subscription(sub_id)
    if sub is None:
        raise ArmError(404, "SubscriptionNotFound", f"The subscription '{sub_id}' could not be found.")
    return sub


def get_subscription(call: Call, sub_id: str) -> web.Response:
    """GET /subscriptions/{id}."""
    return json_response(subscription_body(call.sbx, require_subscription(call.sbx, sub_id)))


def list_tenants(call: Call) -> web.Response:
    """GET /tenants."""
    meta = call.sbx.store.meta
    old_shape = call.api_version == "2016-06-01"  # that spec types domains as one string
    return json_response({"value": [{
        "id": f"/tenants/{meta['tenant_id']}", "tenantId": meta["tenant_id"], "tenantCategory": "Home",
        "country": "United States", "countryCode": "US", "displayName": "StudioML Sandbox",
        "domains": meta["tenant_domain"] if old_shape else [meta["tenant_domain"]],
        "defaultDomain": meta["tenant_domain"], "tenantType": "AAD",
    }], "nextLink": ""})  # both spec versions mark nextLink required; empty means no further page


def list_locations(call: Call, sub_id: str) -> web.Response:
    """GET /subscriptions/{id}/locations, in the shape of the api-version asked for."""
    sub = require_subscription(call.sbx, sub_id)["subscriptionId"]
    out = []
    for name, display, regional, geo, lat, lon, pair in catalog.REGIONS:
        loc: dict[str, Any] = {"id": f"/subscriptions/{sub}/locations/{name}", "name": name,
                               "displayName": display}
        if call.api_version == "2016-06-01":
            loc.update({"subscriptionId": sub, "latitude": lat, "longitude": lon})
        else:
            loc.update({"type": "Region", "regionalDisplayName": regional, "metadata": {
                "regionType": "Physical", "regionCategory": "Recommended", "geography": geo,
                "geographyGroup": geo, "longitude": lon, "latitude": lat, "physicalLocation": display,
                "pairedRegion": [{"name": pair, "id": f"/subscriptions/{sub}/locations/{pair}"}],
            }})
        out.append(loc)
    return json_response({"value": out})


# --- providers ---------------------------------------------------------------------------------

def _provider_state(sbx: Sandbox, sub: str, namespace: str) -> str:
    states: dict[str, Any] = sbx.store.data["providers"].setdefault(sub.lower(), {})
    entry = states.get(namespace.lower())
    if entry is None:
        first = sbx.store.data["subscriptions"][0]["subscriptionId"].lower()
        unregistered = sub.lower() != first and namespace in ("Microsoft.ContainerService",
                                                               "Microsoft.ContainerRegistry")
        return "NotRegistered" if unregistered else "Registered"
    if entry["state"] == "Registering" and sbx.now() >= entry["until"]:
        entry["state"] = "Registered"
    return str(entry["state"])


def provider_registered(sbx: Sandbox, sub: str, namespace: str) -> None:
    """Raise MissingSubscriptionRegistration as ARM does for an unregistered namespace."""
    canonical = next((n for n in NAMESPACES if n.lower() == namespace.lower()), namespace)
    if _provider_state(sbx, sub, canonical) != "Registered":
        raise ArmError(409, "MissingSubscriptionRegistration",
                       f"The subscription is not registered to use namespace '{canonical}'. See "
                       "https://aka.ms/rps-not-found for how to register subscriptions.",
                       details=[{"code": "MissingSubscriptionRegistration", "target": canonical,
                                 "message": f"The subscription is not registered to use namespace "
                                            f"'{canonical}'."}])


def provider_body(sbx: Sandbox, sub: str, namespace: str) -> dict[str, Any]:
    """A provider as ARM describes it."""
    return {
        "id": f"/subscriptions/{sub}/providers/{namespace}", "namespace": namespace,
        "registrationState": _provider_state(sbx, sub, namespace), "registrationPolicy": "RegistrationRequired",
        "resourceTypes": [{"resourceType": t, "locations": [r[1] for r in catalog.REGIONS],
                           "apiVersions": sorted(ACCEPTED.get(namespace.lower(), ()), reverse=True)}
                          for t in RESOURCE_TYPES[namespace]],
    }


def providers(call: Call, sub_id: str, namespace: str | None, action: str | None) -> web.Response:
    """GET providers, GET one, POST register."""
    sub = require_subscription(call.sbx, sub_id)["subscriptionId"]
    if namespace is None:
        return json_response({"value": [provider_body(call.sbx, sub, n) for n in NAMESPACES]})
    canonical = next((n for n in NAMESPACES if n.lower() == namespace.lower()), None)
    if canonical is None:
        raise ArmError(404, "InvalidResourceNamespace", f"The resource namespace '{namespace}' is invalid.")
    if action == "register" and call.method == "POST":
        if _provider_state(call.sbx, sub, canonical) != "Registered":
            call.sbx.store.data["providers"].setdefault(sub.lower(), {})[canonical.lower()] = {
                "state": "Registering", "until": call.sbx.now() + call.sbx.scaled(REGISTRATION_SECONDS)}
            call.sbx.store.save()
    elif action is not None:
        raise ArmError(404, "NotFound", f"No HTTP resource was found for action '{action}'.")
    return json_response(provider_body(call.sbx, sub, canonical))


# --- resource groups ---------------------------------------------------------------------------

def rg_id(sub: str, name: str) -> str:
    """A resource group's id."""
    return f"/subscriptions/{sub}/resourceGroups/{name}"


def require_rg(sbx: Sandbox, sub: str, name: str) -> dict[str, Any]:
    """The live resource group record, or ARM's 404 ResourceGroupNotFound."""
    rec = sbx.get_resource(rg_id(sub, name))
    if rec is None or rec.get("transition") == "Deleting":
        raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")
    return rec


TAG_FILTER = re.compile(r"^tagName eq '([^']*)'(?: and tagValue eq '([^']*)')?$")


def _tag_filtered(groups: list[dict[str, Any]], flt: str) -> list[dict[str, Any]]:
    """``$filter`` as ARM takes it on resource groups: ``tagName eq 'n'`` optionally ``and tagValue eq 'v'``."""
    if not flt:
        return groups
    m = TAG_FILTER.match(flt.strip())
    if m is None:
        raise ArmError(400, "InvalidFilterInQueryString", f"The filter '{flt}' is not supported. Use tagName eq "
                       "'name' [and tagValue eq 'value'].")
    name, value = m.group(1), m.group(2)
    return [g for g in groups if name in (g.get("tags") or {})
            and (value is None or g["tags"][name] == value)]


def resource_groups(call: Call, sub_id: str, name: str | None) -> web.Response:
    """Resource group verbs; delete is long-running and takes what the group holds with it."""
    sbx = call.sbx
    sub = require_subscription(sbx, sub_id)["subscriptionId"]
    if name is None:
        prefix = f"/subscriptions/{sub}/resourcegroups/".lower()
        groups = [sbx.rendered(r) for k, r in list(sbx.store.resources.items())
                  if k.startswith(prefix) and "/" not in k[len(prefix):] and sbx.get_resource(k)]
        return json_response({"value": _tag_filtered(groups, call.query.get("$filter", ""))})
    if len(name) > 90 or not name or name.endswith(".") or not all(c.isalnum() or c in "-_.()" for c in name):
        raise ArmError(400, "InvalidResourceGroupName", "The resource group name is invalid. It can contain "
                       "letters, digits, '_', '-', '.', '(' and ')', up to 90 characters, not ending in '.'.",
                       target="resourceGroupName")
    rid = rg_id(sub, name)
    rec = sbx.get_resource(rid)
    if call.method == "HEAD":
        return json_response(None, status=204 if rec and rec.get("transition") != "Deleting" else 404)
    if call.method == "GET":
        return json_response(sbx.rendered(require_rg(sbx, sub, name)))
    if call.method in ("PUT", "PATCH"):
        body = call.json_body()
        if call.method == "PATCH":
            rec = require_rg(sbx, sub, name)
        elif rec is not None and rec.get("transition") == "Deleting":
            raise ArmError(409, "ResourceGroupBeingDeleted",
                           f"The resource group '{name}' is in deprovisioning state and cannot perform this "
                           "operation.")
        if call.method == "PUT" and not body.get("location"):
            raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
        if rec is not None:
            new_loc = normalize_location(body.get("location") or rec["body"]["location"])
            if new_loc != rec["body"]["location"]:
                raise ArmError(409, "InvalidResourceGroupLocation",
                               f"Invalid resource group location '{new_loc}'. The Resource group already "
                               f"exists in location '{rec['body']['location']}'.")
            if "tags" in body:
                rec["body"]["tags"] = body["tags"] or {}
            sbx.store.save()
            return json_response(sbx.rendered(rec), status=200)
        real_name = name
        rec = {"id": rid, "type": "Microsoft.Resources/resourceGroups", "location": "", "failed": False,
               "transition": None, "busy_until": 0, "body": {
                   "id": rid, "name": real_name, "type": "Microsoft.Resources/resourceGroups",
                   "location": normalize_location(body["location"]), "tags": body.get("tags") or {},
                   "properties": {}}}
        if body.get("managedBy"):
            rec["body"]["managedBy"] = body["managedBy"]
        sbx.store.resources[rid.lower()] = rec
        sbx.store.save()
        return json_response(sbx.rendered(rec), status=201)
    if call.method == "DELETE":
        if rec is None:
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")
        real = rec["body"]["name"]
        held = [r for k, r in sbx.store.resources.items() if k.startswith(rid.lower() + "/")]
        seconds = 1.0 + max((DELETE_SECONDS.get(r["type"].lower(), 5.0) for r in held), default=0.0)
        op = sbx.start_operation(sub=sub, namespace="Microsoft.Resources", location="global", seconds=seconds,
                                 resource_id=rg_id(sub, real), kind="delete", can_fail=False)
        mark_deleting(sbx, rid, op["done_at"])
        sbx.store.save()
        location = f"{sbx.base_url}/subscriptions/{sub}/operationresults/{op['id']}?api-version={call.api_version}"
        return json_response(None, status=202, headers={
            "Location": location, **sbx.retry_after(op["done_at"] - sbx.now())})
    raise ArmError(405, "MethodNotAllowed", f"The method '{call.method}' is not allowed here.")


FILTER_TERM = re.compile(r"^\s*(resourceType|name|location|resourceGroup)\s+eq\s+'([^']*)'\s*$", re.I)


def list_resources(call: Call, sub_id: str, group: str | None) -> web.Response:
    """``GET /subscriptions/{s}/resources`` (and a group's): every top-level resource, with ARM's ``$filter`` terms
    ``resourceType``/``name``/``location``/``resourceGroup eq '...'`` joined by ``and`` (az finds a registry's group
    this way); child resources are not listed, as ARM lists none."""
    sbx = call.sbx
    sub = require_subscription(sbx, sub_id)["subscriptionId"]
    if group is not None:
        require_rg(sbx, sub, group)
    terms: list[tuple[str, str]] = []
    # "You can filter by tag names and values ... $filter=tagName eq 'tag1' and tagValue eq 'Value1'. When you filter
    # by a tag name and value, the tags for each resource are not returned in the results." (the spec's $filter)
    tag = TAG_FILTER.match(call.query.get("$filter", "").strip())
    for part in filter(None, re.split(r"\s+and\s+", call.query.get("$filter", ""), flags=re.I) if not tag else []):
        m = FILTER_TERM.match(part)
        if m is None:
            raise ArmError(400, "InvalidFilterInQueryString", f"Invalid $filter '{call.query['$filter']}' specified "
                           "in the query string.")
        terms.append((m.group(1).lower(), m.group(2).lower()))
    out = []
    for key, rec in list(sbx.store.resources.items()):
        parts = key.split("/")  # '', subscriptions, s, resourcegroups, g, providers, ns, type, name
        if len(parts) != 9 or parts[2] != sub.lower() or parts[5] != "providers" or not sbx.get_resource(key):
            continue
        if group is not None and parts[4] != group.lower():
            continue
        body = rec["body"]
        fields = {"resourcetype": rec["type"].lower(), "name": str(body.get("name", "")).lower(),
                  "location": str(rec.get("location") or body.get("location") or "").lower(), "resourcegroup": parts[4]}
        tags = body.get("tags") or {}
        if tag and (tag.group(1) not in tags or tag.group(2) is not None and tags[tag.group(1)] != tag.group(2)):
            continue
        if all(fields[k] == v for k, v in terms):
            out.append({k: body[k] for k in ("id", "name", "type", "location", "tags", "sku", "kind") if k in body
                        and not (tag and tag.group(2) is not None and k == "tags")})
    return json_response({"value": out})


DELETE_SECONDS: dict[str, float] = {}
"""Per-type delete durations, filled in by the router from the registered types."""
