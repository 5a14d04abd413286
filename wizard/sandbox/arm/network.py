"""Microsoft.Network in the sandbox: VNets, subnets, peerings and NICs (NSGs and their rules are in ``nsg``, public
IPs and NAT gateways in ``outbound``).

Addressing is checked as the network RP checks it: subnets inside the VNet and not overlapping,
static private IPs inside their subnet, not among the five Azure reserves and not taken twice,
peered VNets without overlapping address space.
"""

from __future__ import annotations

import hashlib
import ipaddress
from typing import Any

from .base import ArmError
from .provider import Call, Ref, ResourceType, base_body

NAMESPACE = "Microsoft.Network"
# Subnets made through these api-versions and later are private: no default outbound access unless a subnet says
# defaultOutboundAccess: true ("Default outbound access in Azure", Learn; Azure update "Default outbound access for
# VMs in Azure will be retired": new subnets are private by default in api-versions from 2025-07-01 on).
PRIVATE_SUBNET_API = "2025-07-01"


def _net(prefix: Any, target: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(str(prefix))
    except ValueError:
        raise ArmError(400, "InvalidAddressPrefixFormat", f"Address prefix '{prefix}' is not a valid CIDR.",
                       target=target) from None


class Net(ResourceType):
    """What every network resource type shares: timings, and ``Updating`` while it is made."""

    namespace = NAMESPACE
    create_seconds, update_seconds, delete_seconds = 5.0, 3.0, 5.0
    delete_async_header = True
    creating_state = "Updating"  # the network RP's enum has no Creating


class VirtualNetworks(Net):
    """Microsoft.Network/virtualNetworks (inline subnets become child resources)."""

    types = ("virtualNetworks",)

    def build(self, call: Call, ref: Ref, body: dict[str, Any], existing: dict[str, Any] | None
              ) -> dict[str, Any]:
        """Check the address space and inline subnets."""
        out = base_body(ref, body, existing)
        props = out["properties"]
        prefixes = (props.get("addressSpace") or {}).get("addressPrefixes") or []
        if not prefixes:
            raise ArmError(400, "InvalidRequestFormat", "addressSpace.addressPrefixes is required.",
                           target="properties.addressSpace")
        nets = [_net(p, "properties.addressSpace.addressPrefixes") for p in prefixes]
        subnets: list[dict[str, Any]] = []
        for i, sub in enumerate(props.get("subnets") or []):
            before = call.sbx.get_resource(f"{ref.id}/subnets/{sub.get('name')}")
            sp = SUBNET.check(call, nets, sub.get("properties") or {}, f"properties.subnets[{i}]",
                              [s["properties"] for s in subnets], before["body"]["properties"] if before else None,
                              out["location"])
            subnets.append({"name": sub["name"], "id": f"{ref.id}/subnets/{sub['name']}", "properties": sp})
        props["subnets"] = subnets
        props.setdefault("virtualNetworkPeerings", [])
        props.setdefault("enableDdosProtection", False)
        out["etag"] = 'W/"00000000-0000-0000-0000-000000000001"'
        return out

    def after_put(self, call: Call, ref: Ref, rec: dict[str, Any], created: bool) -> None:
        """Keep subnets as child resources; a PUT's subnet list is the whole list (one left out is deleted)."""
        named = {s["id"].lower() for s in rec["body"]["properties"]["subnets"]}
        for old in call.sbx.children(ref.id, "subnets"):
            if old["id"].lower() not in named:
                call.sbx.remove_resource(old["id"])
        for sub in rec["body"]["properties"]["subnets"]:
            rid = sub["id"]
            call.sbx.store.resources[rid.lower()] = {
                "id": rid, "type": f"{NAMESPACE}/virtualNetworks/subnets", "location": rec["location"],
                "failed": False, "transition": rec.get("transition"), "busy_until": rec.get("busy_until", 0),
                "body": {"id": rid, "name": sub["name"], "type": f"{NAMESPACE}/virtualNetworks/subnets",
                         "properties": sub["properties"]}}


    def view(self, call: Call, rec: dict[str, Any]) -> dict[str, Any]:
        """Subnets and peerings inline as they are now (each is also a child resource of its own), as the REST
        contract's VirtualNetworkPropertiesFormat lists them."""
        body = call.sbx.rendered(rec)
        for prop, child in (("subnets", "subnets"), ("virtualNetworkPeerings", "virtualNetworkPeerings")):
            body["properties"][prop] = [call.sbx.rendered(c) for c in call.sbx.children(rec["id"], child)]
        return body


class Subnets(Net):
    """Microsoft.Network/virtualNetworks/subnets."""

    types = ("virtualNetworks", "subnets")

    def check(self, call: Call, nets: list[ipaddress.IPv4Network], props: dict[str, Any], where: str,
              siblings: list[dict[str, Any]], old: dict[str, Any] | None, location: str) -> dict[str, Any]:
        """Validate one subnet's properties against its VNet, its siblings, what it references, and what it was
        (``old``: its properties before this PUT, None for a new subnet)."""
        prefix = props.get("addressPrefix")
        if prefix is None:
            raise ArmError(400, "InvalidRequestFormat", "addressPrefix is required.", target=f"{where}.addressPrefix")
        net = _net(prefix, f"{where}.addressPrefix")
        if not any(net.subnet_of(n) for n in nets):
            raise ArmError(400, "NetcfgSubnetRangeOutsideVnet", f"Subnet address prefix {prefix} is not within "
                           "the address space of the virtual network.", target=f"{where}.addressPrefix")
        for other in siblings:
            if net.overlaps(_net(other["addressPrefix"], where)):
                raise ArmError(400, "NetcfgSubnetRangesOverlap", f"Subnet address prefix {prefix} overlaps "
                               f"{other['addressPrefix']}.", target=f"{where}.addressPrefix")
        out = dict(props)
        out.pop("provisioningState", None)
        out.setdefault("privateEndpointNetworkPolicies", "Disabled")
        out.setdefault("privateLinkServiceNetworkPolicies", "Enabled")
        if "defaultOutboundAccess" not in out:
            if old is not None:
                if "defaultOutboundAccess" in old:
                    out["defaultOutboundAccess"] = old["defaultOutboundAccess"]
            elif call.api_version >= PRIVATE_SUBNET_API:
                out["defaultOutboundAccess"] = False
        for key, kind in (("natGateway", "NAT gateway"), ("networkSecurityGroup", "network security group"),
                          ("routeTable", "route table")):
            rid = (out.get(key) or {}).get("id")
            if not rid:
                out.pop(key, None)
                continue
            found = call.sbx.get_resource(rid)
            if found is None:
                raise ArmError(400, "InvalidResourceReference", f"Resource {rid} referenced by the subnet was not "
                               "found.", target=f"{where}.{key}.id")
            if found["location"] != location:
                raise ArmError(400, "ResourceNotInSameRegionAsVirtualNetwork", f"The {kind} {rid} is in "
                               f"{found['location']}; the virtual network is in {location}.",
                               target=f"{where}.{key}.id")
            out[key] = {"id": found["id"]}
        return out

    def build(self, call: Call, ref: Ref, body: dict[str, Any], existing: dict[str, Any] | None
              ) -> dict[str, Any]:
        """A subnet PUT on its own."""
        vnet = call.sbx.get_resource(ref.parent_id or "")
        assert vnet is not None
        nets = [_net(p, "vnet") for p in vnet["body"]["properties"]["addressSpace"]["addressPrefixes"]]
        siblings = [s["body"]["properties"] for s in call.sbx.children(vnet["id"], "subnets")
                    if s["id"].lower() != ref.id.lower()]
        old = (existing or {}).get("body", {}).get("properties")
        props = self.check(call, nets, body.get("properties") or {}, "properties", siblings, old, vnet["location"])
        return {"id": ref.id, "name": ref.name, "type": ref.type_name, "properties": props}

    def after_put(self, call: Call, ref: Ref, rec: dict[str, Any], created: bool) -> None:
        """Reflect in the VNet's inline list."""
        vnet = call.sbx.get_resource(ref.parent_id or "")
        assert vnet is not None
        subs = [s for s in vnet["body"]["properties"]["subnets"] if s["name"].lower() != ref.name.lower()]
        subs.append({"name": ref.name, "id": ref.id, "properties": rec["body"]["properties"]})
        vnet["body"]["properties"]["subnets"] = subs

    def before_delete(self, call: Call, ref: Ref, rec: dict[str, Any]) -> None:
        """A subnet with NICs in it cannot go."""
        for other in call.sbx.store.resources.values():
            if other["type"].lower() == "microsoft.network/networkinterfaces" and any(
                    (c.get("properties", {}).get("subnet") or {}).get("id", "").lower() == ref.id.lower()
                    for c in other["body"]["properties"].get("ipConfigurations", [])):
                raise ArmError(400, "InUseSubnetCannotBeDeleted", f"Subnet {ref.name} is in use by "
                               f"{other['id']} and cannot be deleted.")


SUBNET = Subnets()


class Peerings(Net):
    """Microsoft.Network/virtualNetworks/virtualNetworkPeerings."""

    types = ("virtualNetworks", "virtualNetworkPeerings")
    create_seconds = 10.0

    def build(self, call: Call, ref: Ref, body: dict[str, Any], existing: dict[str, Any] | None
              ) -> dict[str, Any]:
        """The remote VNet must exist and its address space must not overlap."""
        props = dict(body.get("properties") or {})
        remote_id = (props.get("remoteVirtualNetwork") or {}).get("id", "")
        remote = call.sbx.get_resource(remote_id)
        if remote is None:
            raise ArmError(400, "ReferencedResourceNotProvisioned", f"Remote virtual network {remote_id} "
                           "was not found.", target="properties.remoteVirtualNetwork.id")
        local = call.sbx.get_resource(ref.parent_id or "")
        assert local is not None
        mine = [_net(p, "") for p in local["body"]["properties"]["addressSpace"]["addressPrefixes"]]
        theirs = [_net(p, "") for p in remote["body"]["properties"]["addressSpace"]["addressPrefixes"]]
        if any(a.overlaps(b) for a in mine for b in theirs):
            raise ArmError(400, "VnetAddressSpacesOverlap", "Cannot create or update peering "
                           f"{ref.name}: the address spaces of the two virtual networks overlap.")
        props.pop("provisioningState", None)
        props["remoteAddressSpace"] = remote["body"]["properties"]["addressSpace"]
        back = [p for p in _peerings_to(call, remote["id"], local["id"])
                if p["body"]["properties"].get("peeringState") != "Disconnected"]
        if existing is not None and existing["body"]["properties"].get("peeringState") == "Disconnected":
            props["peeringState"] = "Disconnected"  # its other half was deleted: only delete + create mends it
        else:
            props["peeringState"] = "Connected" if back else "Initiated"
            for p in back:
                p["body"]["properties"]["peeringState"] = "Connected"
        props["peeringSyncLevel"] = "FullyInSync" if props["peeringState"] == "Connected" else "RemoteNotInSync"
        props.setdefault("allowVirtualNetworkAccess", True)
        return {"id": ref.id, "name": ref.name, "type": ref.type_name, "properties": props}


    def before_delete(self, call: Call, ref: Ref, rec: dict[str, Any]) -> None:
        """The other half of a peering goes Disconnected when this one is deleted."""
        remote_id = (rec["body"]["properties"].get("remoteVirtualNetwork") or {}).get("id", "")
        for p in _peerings_to(call, remote_id, ref.parent_id or ""):
            p["body"]["properties"]["peeringState"] = "Disconnected"
            p["body"]["properties"]["peeringSyncLevel"] = "RemoteNotInSync"


def _peerings_to(call: Call, vnet_id: str, remote_id: str) -> list[dict[str, Any]]:
    """The peerings of ``vnet_id`` whose remote is ``remote_id``."""
    return [p for p in call.sbx.children(vnet_id, "virtualNetworkPeerings")
            if (p["body"]["properties"].get("remoteVirtualNetwork") or {}).get("id", "").lower() == remote_id.lower()]


class NetworkInterfaces(Net):
    """Microsoft.Network/networkInterfaces, with static or dynamic private IPs."""

    types = ("networkInterfaces",)

    def build(self, call: Call, ref: Ref, body: dict[str, Any], existing: dict[str, Any] | None
              ) -> dict[str, Any]:
        """Check subnet, static IP placement and uniqueness; allocate dynamic IPs."""
        sbx = call.sbx
        out = base_body(ref, body, existing)
        configs = out["properties"].get("ipConfigurations") or []
        if not configs:
            raise ArmError(400, "InvalidRequestFormat", "At least one ipConfiguration is required.",
                           target="properties.ipConfigurations")
        taken = _ips_in_use(sbx, exclude=ref.id)  # (VNet id, address) -> NIC: addresses are unique per VNet only
        for i, cfg in enumerate(configs):
            where = f"properties.ipConfigurations[{i}].properties"
            cp = cfg.setdefault("properties", {})
            subnet = sbx.get_resource((cp.get("subnet") or {}).get("id", ""))
            if subnet is None:
                raise ArmError(400, "InvalidResourceReference", f"Subnet {(cp.get('subnet') or {}).get('id')} "
                               "referenced by the NIC was not found.", target=f"{where}.subnet.id")
            net = _net(subnet["body"]["properties"]["addressPrefix"], where)
            vnet = _vnet_of(subnet["id"])
            reserved = {net.network_address, net.broadcast_address, *list(net.hosts())[:3]}
            method = cp.get("privateIPAllocationMethod") or "Dynamic"
            if method == "Static":
                try:
                    ip = ipaddress.IPv4Address(cp.get("privateIPAddress"))
                except ValueError:
                    raise ArmError(400, "InvalidRequestFormat", "privateIPAddress is required for Static "
                                   "allocation.", target=f"{where}.privateIPAddress") from None
                if ip not in net or ip in reserved:
                    raise ArmError(400, "PrivateIPAddressNotInSubnet" if ip not in net else
                                   "PrivateIPAddressIsReserved", f"Private static IP address {ip} does not belong "
                                   f"to the range of subnet prefix {net}, or is one of its reserved addresses.",
                                   target=f"{where}.privateIPAddress")
                if (vnet, str(ip)) in taken:
                    raise ArmError(400, "PrivateIPAddressInUse", f"IP configuration {ref.id} is using the private "
                                   f"IP address {ip} which is already allocated to resource "
                                   f"{taken[(vnet, str(ip))]}.", target=f"{where}.privateIPAddress")
            else:
                ip = next(h for h in net.hosts() if h not in reserved and (vnet, str(h)) not in taken)
            cp.update({"privateIPAddress": str(ip), "privateIPAllocationMethod": method,
                       "privateIPAddressVersion": "IPv4", "primary": i == 0})
            cp.pop("provisioningState", None)
            cfg["id"] = f"{ref.id}/ipConfigurations/{cfg.get('name', f'ipconfig{i + 1}')}"
            taken[(vnet, str(ip))] = ref.id
        old = (existing or {}).get("body", {}).get("properties", {})
        if old.get("virtualMachine"):
            out["properties"]["virtualMachine"] = old["virtualMachine"]
        out["properties"].setdefault("enableAcceleratedNetworking", False)
        mac = hashlib.md5(ref.id.lower().encode()).hexdigest()[:6].upper()
        out["properties"]["macAddress"] = old.get("macAddress") or f"00-0D-3A-{mac[:2]}-{mac[2:4]}-{mac[4:]}"
        return out

    def before_delete(self, call: Call, ref: Ref, rec: dict[str, Any]) -> None:
        """A NIC attached to a VM cannot go."""
        vm = rec["body"]["properties"].get("virtualMachine")
        if vm and call.sbx.get_resource(vm["id"]):
            raise ArmError(400, "NicInUse", f"Network Interface {ref.id} is used by existing resource {vm['id']}. "
                           "In order to delete the network interface, it must be dissociated from the resource.")


def _vnet_of(subnet_id: str) -> str:
    return subnet_id.lower().split("/subnets/")[0]


def _ips_in_use(sbx: Any, exclude: str) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for key, rec in list(sbx.store.resources.items()):
        if rec["type"].lower() == "microsoft.network/networkinterfaces" and key != exclude.lower() \
                and sbx.get_resource(key) is not None:  # a NIC whose delete has finished holds no address
            for cfg in rec["body"]["properties"].get("ipConfigurations", []):
                vnet = _vnet_of(cfg["properties"]["subnet"]["id"])
                out[(vnet, cfg["properties"]["privateIPAddress"])] = rec["id"]
    return out
