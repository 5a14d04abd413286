"""The home VNet: a subnet for AKS and one for the service VMs, both private (no default outbound access, set
explicitly so nothing hangs on an api-version's default); the services subnet has the NAT gateway for outbound and
the NSG whose rules the service-access step converges."""

from __future__ import annotations

from typing import Any

from azure.mgmt.network.models import NetworkSecurityGroup, VirtualNetwork

from .base import CREATE, NONE, UPDATE, Context, Observation, Resource, Step, get_or_none, lookup, rest, tags_missing

ADDRESS_SPACE = "10.20.0.0/16"
AKS_SUBNET, AKS_PREFIX = "aks", "10.20.0.0/20"
SERVICES_SUBNET, SERVICES_PREFIX = "services", "10.20.16.0/24"
STATIC_IPS = {"rabbitmq": "10.20.16.4", "files": "10.20.16.5"}


def _ids(ctx: Context) -> tuple[str, str]:
    base = f"/subscriptions/{ctx.subscription_id}/resourceGroups/{ctx.names.registry_rg}/providers/Microsoft.Network"
    return f"{base}/networkSecurityGroups/{ctx.names.nsg}", f"{base}/virtualNetworks/{ctx.names.vnet}"


def _subnets(ctx: Context) -> list[dict[str, Any]]:
    nsg_id, _vnet = _ids(ctx)
    return [{"name": AKS_SUBNET, "properties": {"addressPrefix": AKS_PREFIX, "defaultOutboundAccess": False}},
            {"name": SERVICES_SUBNET, "properties": {
                "addressPrefix": SERVICES_PREFIX, "defaultOutboundAccess": False,
                "networkSecurityGroup": {"id": nsg_id}, "natGateway": {"id": ctx.facts.outbound_nat_id}}}]


def _same_subnets(have: list[dict[str, Any]], want: list[dict[str, Any]]) -> bool:
    got = {s["name"]: s.get("properties", {}) for s in have}
    for sub in want:
        props = got.get(sub["name"])
        if props is None:
            return False
        for key, value in sub["properties"].items():
            seen = props.get(key)
            if isinstance(value, dict):
                if str((seen or {}).get("id", "")).lower() != value["id"].lower():
                    return False
            elif seen != value:
                return False
    return True


class Network(Step):
    """VNet with two private subnets; the services subnet's NSG and NAT gateway, in the registry's resource group."""

    key, title, needs = "network", "Virtual network and NSG", ("registry-group", "outbound")

    def observe(self, ctx: Context) -> Observation:
        """Compare the NSG's existence and tags, the address space, the subnets and their references."""
        net = ctx.clients.network(ctx.subscription_id)
        rg = ctx.names.registry_rg
        nsg_id, vnet_id = _ids(ctx)
        res = [Resource("virtual network", ctx.names.vnet, vnet_id), Resource("network security group",
                                                                             ctx.names.nsg, nsg_id)]
        nsg = rest(get_or_none(lambda: net.network_security_groups.get(rg, ctx.names.nsg), "reading the NSG"))
        vnet = rest(get_or_none(lambda: net.virtual_networks.get(rg, ctx.names.vnet), "reading the VNet"))
        self._remember(ctx)
        if nsg is None and vnet is None:
            return Observation(CREATE, f"{ADDRESS_SPACE}: {AKS_SUBNET} {AKS_PREFIX}, {SERVICES_SUBNET} "
                               f"{SERVICES_PREFIX} (private; outbound through the NAT gateway)", res)
        changes = []
        if nsg is None or tags_missing(nsg.get("tags"), ctx.tags):
            changes.append("NSG")
        if vnet is None or ADDRESS_SPACE not in lookup(vnet, "properties.addressSpace.addressPrefixes", []) \
                or tags_missing(vnet.get("tags"), ctx.tags) \
                or not _same_subnets(lookup(vnet, "properties.subnets", []), _subnets(ctx)):
            changes.append("VNet and subnets")
        return Observation(UPDATE if changes else NONE, ", ".join(changes), res,
                           {"nsg": nsg is None or "NSG" in changes, "vnet": "VNet and subnets" in changes,
                            "rules": lookup(nsg, "properties.securityRules", []) or [],
                            "peerings": lookup(vnet, "properties.virtualNetworkPeerings", []) or [],
                            "nsg_tags": (nsg or {}).get("tags") or {}, "vnet_tags": (vnet or {}).get("tags") or {}})

    def _remember(self, ctx: Context) -> None:
        _nsg, vnet_id = _ids(ctx)
        ctx.facts.network_vnet_id = vnet_id
        ctx.facts.network_aks_subnet_id = f"{vnet_id}/subnets/{AKS_SUBNET}"
        if ctx.region == ctx.names.home_region:  # the home cluster's subnet; other regions have their own VNet
            ctx.facts.cluster_subnet_id = ctx.facts.network_aks_subnet_id
        ctx.facts.network_services_subnet_id = f"{vnet_id}/subnets/{SERVICES_SUBNET}"

    def apply(self, ctx: Context, obs: Observation) -> None:
        """The NSG (its rules kept: the service-access step owns them), then the VNet with both subnets inline (a
        VNet PUT without them would drop them)."""
        net = ctx.clients.network(ctx.subscription_id)
        rg = ctx.names.registry_rg
        if obs.action == CREATE or obs.data.get("nsg"):
            body = NetworkSecurityGroup({"location": ctx.names.home_region,
                                         "tags": {**obs.data.get("nsg_tags", {}), **ctx.tags},
                                         "properties": {"securityRules": obs.data.get("rules", [])}})
            ctx.wait(self.key, lambda: net.network_security_groups.begin_create_or_update(rg, ctx.names.nsg, body),
                     "creating the NSG")
        if obs.action == CREATE or obs.data.get("vnet"):
            props: dict[str, Any] = {"addressSpace": {"addressPrefixes": [ADDRESS_SPACE]}, "subnets": _subnets(ctx)}
            if obs.data.get("peerings"):  # the regions' peerings, which a VNet PUT without them would drop
                props["virtualNetworkPeerings"] = obs.data["peerings"]
            vnet = VirtualNetwork({"location": ctx.names.home_region,
                                   "tags": {**obs.data.get("vnet_tags", {}), **ctx.tags}, "properties": props})
            ctx.wait(self.key, lambda: net.virtual_networks.begin_create_or_update(rg, ctx.names.vnet, vnet),
                     "creating the VNet")
