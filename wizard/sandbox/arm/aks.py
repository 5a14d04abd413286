"""Microsoft.ContainerService in the sandbox: managed clusters, agent pools and their credentials."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import uuid
from typing import Any

from aiohttp import web

from . import quota
from .base import ArmError, Sandbox, json_response, not_found, now_iso
from .provider import Call, Ref, ResourceType, base_body

NAMESPACE = "Microsoft.ContainerService"
VERSIONS = ["1.31.9", "1.32.6", "1.33.2"]
DEFAULT_VERSION = "1.32.6"
POOL_NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,11}$")
CREATE_SECONDS, UPDATE_SECONDS, DELETE_SECONDS, POOL_SECONDS = 300.0, 120.0, 240.0, 180.0


def kube_key(cluster_id: str) -> str:
    """The path key of a cluster's Kubernetes API on the sandbox."""
    return hashlib.sha256(cluster_id.lower().encode()).hexdigest()[:16]


def _validate_pool(sbx: Sandbox, pool: dict[str, Any], location: str, where: str) -> dict[str, Any]:
    name = pool.get("name", "")
    if not isinstance(name, str) or not POOL_NAME_RE.match(name):
        raise ArmError(400, "InvalidParameter", f"The agent pool name '{name}' is invalid: it must start with a "
                       "lowercase letter and hold at most 12 lowercase letters and digits.", target=f"{where}.name")
    size = pool.get("vmSize") or "Standard_DS2_v2"
    quota.require_size(sbx, size, location, f"{where}.vmSize")
    count = pool.get("count", 1)
    if not isinstance(count, int) or count < 0 or count > 1000:
        raise ArmError(400, "InvalidParameter", f"The agent pool count {count} must be between 0 and 1000.",
                       target=f"{where}.count")
    mode = pool.get("mode") or "User"
    if mode not in ("System", "User"):
        raise ArmError(400, "InvalidParameter", f"mode '{mode}' must be System or User.", target=f"{where}.mode")
    taints = pool.get("nodeTaints") or []
    for taint in taints:
        if not re.match(r"^[\w./-]+=[\w.-]*:(NoSchedule|PreferNoSchedule|NoExecute)$", str(taint)):
            raise ArmError(400, "InvalidParameter", f"The node taint '{taint}' is not key=value:Effect.",
                           target=f"{where}.nodeTaints")
    if mode == "System" and any(str(t).endswith(":NoSchedule") and not str(t).startswith("CriticalAddonsOnly")
                                for t in taints):
        raise ArmError(400, "InvalidParameter", "A System pool cannot carry a NoSchedule taint other than "
                       "CriticalAddonsOnly.", target=f"{where}.nodeTaints")
    taints = _spot(pool, mode, count, where, taints)
    out = dict(pool)
    out.update({"name": name, "vmSize": size, "count": count, "mode": mode, "nodeTaints": taints,
                "type": pool.get("type") or "VirtualMachineScaleSets", "osType": pool.get("osType") or "Linux",
                "maxPods": pool.get("maxPods") or 110, "osDiskSizeGB": pool.get("osDiskSizeGB") or 128,
                "powerState": {"code": "Running"}})
    out.pop("provisioningState", None)
    return out


SPOT_TAINT = "kubernetes.azure.com/scalesetpriority=spot:NoSchedule"


def capacity_error(sbx: Sandbox, location: str, pools: list[dict[str, Any]], old: list[dict[str, Any]]
                   ) -> dict[str, Any] | None:
    """The operation's error when a pool must add VMs of a size the region has no room for now (set through
    ``/sandbox/capacity``), in the words Azure/AKS#1272 recorded."""
    faults = {str(f).lower() for f in sbx.store.data.get("capacity_faults", [])}
    had = {p["name"]: int(p.get("count") or 0) for p in old}
    for pool in pools:
        if f"{location}/{pool['vmSize']}".lower() in faults and int(pool.get("count") or 0) > had.get(pool["name"], 0):
            return {"code": "AllocationFailed", "message": "Provisioning failed. Allocation failed. We do not have "
                    "sufficient capacity for the requested VM size in this region. Read more about improving "
                    "likelihood of allocation success at http://aka.ms/allocation-guidance."}
    return None


def _spot(pool: dict[str, Any], mode: str, count: int, where: str, taints: list[str]) -> list[str]:
    """Spot and autoscaler settings as AKS checks them ("Add an Azure Spot node pool", "Cluster autoscaler"): a Spot
    pool is a User pool, evicts with Delete or Deallocate, caps its price at -1 (the on-demand price) or above 0, and
    gets the spot taint from AKS itself; an autoscaled pool has 0 <= minCount <= count <= maxCount."""
    priority = pool.get("scaleSetPriority") or "Regular"
    if priority not in ("Regular", "Spot"):
        raise ArmError(400, "InvalidParameter", f"scaleSetPriority '{priority}' must be Regular or Spot.",
                       target=f"{where}.scaleSetPriority")
    if priority == "Spot":
        if mode == "System":
            raise ArmError(400, "InvalidParameter", "A System mode agent pool cannot use Spot priority.",
                           target=f"{where}.scaleSetPriority")
        if (pool.get("scaleSetEvictionPolicy") or "Delete") not in ("Delete", "Deallocate"):
            raise ArmError(400, "InvalidParameter", "scaleSetEvictionPolicy must be Delete or Deallocate.",
                           target=f"{where}.scaleSetEvictionPolicy")
        price = pool.get("spotMaxPrice", -1)
        if not isinstance(price, (int, float)) or (price != -1 and price <= 0):
            raise ArmError(400, "InvalidParameter", "spotMaxPrice must be -1 or a price above 0.",
                           target=f"{where}.spotMaxPrice")
        taints = [*[t for t in taints if t != SPOT_TAINT], SPOT_TAINT]
    elif pool.get("scaleSetEvictionPolicy") or pool.get("spotMaxPrice") is not None:
        raise ArmError(400, "InvalidParameter", "scaleSetEvictionPolicy and spotMaxPrice apply to Spot pools only.",
                       target=f"{where}.scaleSetPriority")
    if pool.get("enableAutoScaling"):
        low, high = pool.get("minCount"), pool.get("maxCount")
        if not isinstance(low, int) or not isinstance(high, int) or not 0 <= low <= high or not low <= count <= high:
            raise ArmError(400, "InvalidParameter", f"With enableAutoScaling, minCount ({low}) <= count ({count}) <= "
                           f"maxCount ({high}) must hold.", target=f"{where}.minCount")
    return taints


# What a pool is, for a managed-cluster PUT's comparison with the pools the cluster has (read-only fields aside).
POOL_FIELDS = ("vmSize", "count", "mode", "nodeTaints", "nodeLabels", "vnetSubnetID", "maxPods", "osDiskSizeGB",
               "enableAutoScaling", "minCount", "maxCount", "scaleSetPriority", "scaleSetEvictionPolicy",
               "spotMaxPrice")


def _same_pools(have: list[dict[str, Any]], want: list[dict[str, Any]]) -> None:
    """Once a cluster exists, its pools change only through the agentPools API (recorded AKS answers, as the AKS
    docs' "per agent pool operations" say): a managed-cluster PUT that adds, removes or changes a pool is refused."""
    old = {p["name"]: p for p in have}
    new = {p["name"]: p for p in want}
    link = "For agent pool specific change, please use per agent pool operations: https://aka.ms/agent-pool-rest-api"
    if set(new) - set(old):
        raise ArmError(400, "BadRequest", "A new agent pool was introduced. Adding agent pools to an existing cluster "
                       f"is not allowed through managed cluster operations. {link}", target="agentPoolProfiles")
    if set(old) - set(new):
        raise ArmError(400, "BadRequest", "Deleting agent pools from an existing cluster is not allowed through "
                       f"managed cluster operations. {link}", target="agentPoolProfiles")
    for name, pool in new.items():
        before = old[name]
        if any(str(pool.get(f) or "").lower() != str(before.get(f) or "").lower()
               for f in POOL_FIELDS if f in pool or f in before):
            raise ArmError(400, "OperationNotAllowed", "Node pool update via managed cluster not allowed. Use per "
                           "nodepool operations.", target="agentPoolProfiles")


class ManagedClusters(ResourceType):
    """Microsoft.ContainerService/managedClusters."""

    namespace = NAMESPACE
    busy = ("OperationNotAllowed", "Operation is not allowed: Another operation ({state}) is in progress, please wait "
            "for it to finish before starting a new operation.")
    types = ("managedClusters",)
    create_seconds, update_seconds, delete_seconds = CREATE_SECONDS, UPDATE_SECONDS, DELETE_SECONDS

    def actions(self) -> dict[str, Any]:
        """The two credential actions."""
        return {"listclusterusercredential": self.user_credential,
                "listclusteradmincredential": self.admin_credential}

    def build(self, call: Call, ref: Ref, body: dict[str, Any], existing: dict[str, Any] | None
              ) -> dict[str, Any]:
        """Validate pools, size availability and quota; fill what AKS fills."""
        sbx = call.sbx
        out = base_body(ref, body, existing)
        props = out["properties"]
        location = out["location"]
        pools = props.get("agentPoolProfiles") or []
        if not pools:
            raise ArmError(400, "InvalidParameter", "At least one agent pool is required.",
                           target="properties.agentPoolProfiles")
        checked = [_validate_pool(sbx, p, location, f"properties.agentPoolProfiles[{i}]") for i, p in enumerate(pools)]
        if existing is not None:
            _same_pools(existing["body"]["properties"].get("agentPoolProfiles") or [], checked)
        if len({p["name"] for p in checked}) != len(checked):
            raise ArmError(400, "InvalidParameter", "Agent pool names must be unique.",
                           target="properties.agentPoolProfiles")
        if not any(p["mode"] == "System" for p in checked):
            raise ArmError(400, "InvalidParameter", "A cluster needs at least one agent pool in System mode.",
                           target="properties.agentPoolProfiles")
        version = props.get("kubernetesVersion") or DEFAULT_VERSION
        if version not in VERSIONS and not any(v.startswith(version + ".") for v in VERSIONS):
            raise ArmError(400, "K8sVersionNotSupported", f"Version {version} is not supported in this region. "
                           f"Supported versions: {', '.join(VERSIONS)}.", target="properties.kubernetesVersion")
        version = next(v for v in VERSIONS if v == version or v.startswith(version + "."))
        quota.check(sbx, ref.sub, location, [(p["vmSize"], p["count"], p.get("scaleSetPriority") == "Spot")
                                             for p in checked], ref.id, status=400, code=quota.AKS_QUOTA)
        for p in checked:
            p["orchestratorVersion"] = p["currentOrchestratorVersion"] = version
        dns = props.get("dnsPrefix") or f"{ref.name[:10]}-{ref.rg[:16]}-{ref.sub[:6]}"
        old = (existing or {}).get("body", {}).get("properties", {})
        suffix = old.get("fqdn", "").split(".")[0].rsplit("-", 1)[-1] or secrets.token_hex(4)
        props.update({
            "agentPoolProfiles": checked, "kubernetesVersion": version, "currentKubernetesVersion": version,
            "dnsPrefix": dns, "fqdn": f"{dns}-{suffix}.hcp.{location}.azmk8s.io",
            "nodeResourceGroup": props.get("nodeResourceGroup") or f"MC_{ref.rg}_{ref.name}_{location}",
            "enableRBAC": props.get("enableRBAC", True), "maxAgentPools": 100,
            "powerState": {"code": "Running"},
            "networkProfile": {"networkPlugin": "kubenet", "podCidr": "10.244.0.0/16", "serviceCidr": "10.0.0.0/16",
                               "dnsServiceIP": "10.0.0.10", "outboundType": "loadBalancer",
                               "loadBalancerSku": "standard", **(props.get("networkProfile") or {})},
            "identityProfile": old.get("identityProfile") or {"kubeletidentity": {
                "resourceId": f"/subscriptions/{ref.sub}/resourcegroups/MC_{ref.rg}_{ref.name}_{location}/providers/"
                              f"Microsoft.ManagedIdentity/userAssignedIdentities/{ref.name}-agentpool",
                "clientId": str(uuid.uuid4()), "objectId": str(uuid.uuid4())}},
        })
        sp = props.get("servicePrincipalProfile")
        if sp:
            props["servicePrincipalProfile"] = {"clientId": sp.get("clientId", "msi")}
        ident = body.get("identity") or (existing or {}).get("body", {}).get("identity")
        if ident or not sp:
            kind = (ident or {}).get("type", "SystemAssigned")
            prev = (existing or {}).get("body", {}).get("identity", {})
            out["identity"] = {"type": kind, "principalId": prev.get("principalId") or str(uuid.uuid4()),
                               "tenantId": sbx.store.meta["tenant_id"]}
        out["sku"] = body.get("sku") or {"name": "Base", "tier": "Free"}
        # ARM's systemData (the spec's TrackedResource): who made it and when, kept across updates
        who = call.caller.get("upn") or call.caller.get("appid") or ""
        kind = "User" if call.caller.get("upn") else "Application"
        made = ((existing or {}).get("body", {}).get("systemData") or {})
        stamp = now_iso()
        out["systemData"] = {"createdBy": made.get("createdBy", who), "createdByType": made.get("createdByType", kind),
                             "createdAt": made.get("createdAt", stamp), "lastModifiedBy": who,
                             "lastModifiedByType": kind, "lastModifiedAt": stamp}
        return out

    def operation_error(self, call: Call, ref: Ref, stored: dict[str, Any], existing: dict[str, Any] | None
                        ) -> dict[str, Any] | None:
        """No room for the pools' new VMs in the region now."""
        old = ((existing or {}).get("body") or {}).get("properties", {}).get("agentPoolProfiles") or []
        return capacity_error(call.sbx, stored["location"], stored["properties"]["agentPoolProfiles"], old)

    def after_put(self, call: Call, ref: Ref, rec: dict[str, Any], created: bool) -> None:
        """Mirror the pools as child resources; register the kubelet identity and the kube endpoint."""
        sbx = call.sbx
        props = rec["body"]["properties"]
        keep = set()
        for pool in props["agentPoolProfiles"]:
            pid = f"{ref.id}/agentPools/{pool['name']}"
            keep.add(pid.lower())
            body = {"id": pid, "name": pool["name"], "type": f"{NAMESPACE}/managedClusters/agentPools",
                    "properties": {k: v for k, v in pool.items() if k != "name"}}
            sbx.store.resources[pid.lower()] = {
                "id": pid, "type": f"{NAMESPACE}/managedClusters/agentPools", "location": "",
                "cluster_location": rec["location"], "body": body, "failed": rec.get("failed", False),
                "transition": rec.get("transition"), "busy_until": rec.get("busy_until", 0)}
        for pool_rec in sbx.children(ref.id, "agentPools"):
            if pool_rec["id"].lower() not in keep:
                sbx.remove_resource(pool_rec["id"])
        kubelet = props["identityProfile"]["kubeletidentity"]
        identities = sbx.store.data.setdefault("managed_identities", {})
        identities[kubelet["objectId"]] = kubelet["clientId"]
        principal = (rec["body"].get("identity") or {}).get("principalId")
        if principal:  # the cluster's system-assigned identity is a directory principal too
            identities[principal] = f"{ref.name}-system-assigned"
        kube = rec.setdefault("kube", {"key": kube_key(ref.id), "user_token": secrets.token_hex(32),
                                       "admin_token": secrets.token_hex(32)})
        sbx.store.data["kube"].setdefault(kube["key"], {"cluster_id": ref.id, "objects": {}})

    def before_delete(self, call: Call, ref: Ref, rec: dict[str, Any]) -> None:
        """The cluster's Kubernetes objects go with it."""
        call.sbx.store.data["kube"].pop(kube_key(ref.id), None)

    def _credential(self, call: Call, ref: Ref, admin: bool) -> web.Response:
        sbx = call.sbx
        rec = sbx.get_resource(ref.id)
        if rec is None:
            raise not_found(ref.type_name, ref.name, ref.rg)
        if sbx.provisioning_state(rec) == "Creating":
            raise ArmError(409, "OperationNotAllowed", "The cluster is still being created; credentials are "
                           "available once provisioning succeeds.")
        name, kube = rec["body"]["name"], rec["kube"]
        server = f"{sbx.base_url}/k8s/{kube['key']}"
        ca = base64.b64encode(sbx.pki.ca_path.read_bytes()).decode()
        if admin:
            cert, key = sbx.pki.client_certificate("masterclient", "system:masters")
            user = f"clusterAdmin_{ref.rg}_{name}"
            auth = (f"    client-certificate-data: {base64.b64encode(cert.encode()).decode()}\n"
                    f"    client-key-data: {base64.b64encode(key.encode()).decode()}\n"
                    f"    token: {kube['admin_token']}\n")
        else:
            user = f"clusterUser_{ref.rg}_{name}"
            auth = f"    token: {kube['user_token']}\n"
        kubeconfig = (
            "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n"
            f"    certificate-authority-data: {ca}\n    server: {server}\n  name: {name}\n"
            f"contexts:\n- context:\n    cluster: {name}\n    user: {user}\n  name: {name}\n"
            f"current-context: {name}\npreferences: {{}}\nusers:\n- name: {user}\n  user:\n{auth}"
        )
        return json_response({"kubeconfigs": [
            {"name": "clusterAdmin" if admin else "clusterUser",
             "value": base64.b64encode(kubeconfig.encode()).decode()}]})

    def user_credential(self, call: Call, ref: Ref, _: dict[str, Any]) -> web.Response:
        """POST listClusterUserCredential."""
        return self._credential(call, ref, admin=False)

    def admin_credential(self, call: Call, ref: Ref, _: dict[str, Any]) -> web.Response:
        """POST listClusterAdminCredential."""
        return self._credential(call, ref, admin=True)


class AgentPools(ResourceType):
    """Microsoft.ContainerService/managedClusters/agentPools."""

    namespace = NAMESPACE
    busy = ManagedClusters.busy
    types = ("managedClusters", "agentPools")
    create_seconds, update_seconds, delete_seconds = POOL_SECONDS, POOL_SECONDS, POOL_SECONDS

    def build(self, call: Call, ref: Ref, body: dict[str, Any], existing: dict[str, Any] | None
              ) -> dict[str, Any]:
        """Validate the pool against the cluster's region and quota."""
        parent = call.sbx.get_resource(ref.parent_id or "")
        assert parent is not None
        location = parent["location"]
        pool = _validate_pool(call.sbx, {**(body.get("properties") or {}), "name": ref.name}, location,
                              "properties")
        old = ((existing or {}).get("body") or {}).get("properties") or {}
        if existing is not None and (old.get("scaleSetPriority") or "Regular") != (pool.get("scaleSetPriority")
                                                                                  or "Regular"):
            raise ArmError(400, "InvalidParameter", "Changing property 'scaleSetPriority' is not allowed.",
                           target="properties.scaleSetPriority")
        quota.check(call.sbx, ref.sub, location, [(pool["vmSize"], pool["count"], pool.get("scaleSetPriority") ==
                                                    "Spot")], ref.id, status=400, code=quota.AKS_QUOTA)
        version = parent["body"]["properties"]["kubernetesVersion"]
        pool["orchestratorVersion"] = pool["currentOrchestratorVersion"] = version
        pool.pop("name")
        return {"id": ref.id, "name": ref.name, "type": ref.type_name, "properties": pool}

    def operation_error(self, call: Call, ref: Ref, stored: dict[str, Any], existing: dict[str, Any] | None
                        ) -> dict[str, Any] | None:
        """No room for the pool's new VMs in the region now."""
        parent = call.sbx.get_resource(ref.parent_id or "")
        old = [{"name": ref.name, **existing["body"]["properties"]}] if existing else []
        return capacity_error(call.sbx, parent["location"] if parent else "", [{"name": ref.name,
                                                                               **stored["properties"]}], old)

    def after_put(self, call: Call, ref: Ref, rec: dict[str, Any], created: bool) -> None:
        """Reflect the pool in the cluster's agentPoolProfiles."""
        parent = call.sbx.get_resource(ref.parent_id or "")
        assert parent is not None
        rec["cluster_location"] = parent["location"]
        profiles = [p for p in parent["body"]["properties"]["agentPoolProfiles"] if p["name"] != ref.name]
        profiles.append({"name": ref.name, **rec["body"]["properties"]})
        parent["body"]["properties"]["agentPoolProfiles"] = profiles

    def before_delete(self, call: Call, ref: Ref, rec: dict[str, Any]) -> None:
        """The last System pool cannot go."""
        parent = call.sbx.get_resource(ref.parent_id or "")
        assert parent is not None
        profiles = parent["body"]["properties"]["agentPoolProfiles"]
        rest = [p for p in profiles if p["name"] != ref.name]
        if rec["body"]["properties"].get("mode") == "System" and not any(p["mode"] == "System" for p in rest):
            raise ArmError(400, "OperationNotAllowed", "A cluster must keep at least one System pool.")
        parent["body"]["properties"]["agentPoolProfiles"] = rest
