"""The home VNet: a subnet for AKS, one for the RabbitMQ and Minio VMs behind an NSG open to the VNet only."""

from __future__ import annotations

from typing import Any

from azure.mgmt.network.models import NetworkSecurityGroup, VirtualNetwork

from .base import CREATE, NONE, UPDATE, Context, Observation, Resource, Step, get_or_none, lookup, rest, tags_missing

ADDRESS_SPACE = "10.20.0.0/16"
AKS_SUBNET, AKS_PREFIX = "aks", "10.20.0.0/20"
SERVICES_SUBNET, SERVICES_PREFIX = "services", "10.20.16.0/24"
STATIC_IPS = {"rabbitmq": "10.20.16.4", "minio": "10.20.16.5"}
# (name, port, priority): reachable from inside the VNet (and peered VNets) only
RULES = [("amqp", "5672", 200), ("rabbitmq-management", "15672", 210), ("minio", "9000", 220), ("ssh", "22", 230)]


def _rules() -> list[dict[str, Any]]:
    return [{"name": f"allow-{name}-from-vnet", "properties": {
        "protocol": "Tcp", "sourcePortRange": "*", "destinationPortRange": port,
        "sourceAddressPrefix": "VirtualNetwork", "destinationAddressPrefix": "VirtualNetwork",
        "access": "Allow", "priority": prio, "direction": "Inbound"}} for name, port, prio in RULES]


def _rules_match(nsg: dict[str, Any]) -> bool:
    have = {r["name"]: r.get("properties", {}) for r in lookup(nsg, "properties.securityRules", [])}
    for want in _rules():
        got = have.get(want["name"])
        if got is None or any(got.get(k) != v for k, v in want["properties"].items()):
            return False
    return True


class Network(Step):
    """VNet with two subnets and the services NSG, in the registry's resource group."""

    key, title, needs = "network", "Virtual network and NSG", ("registry-group",)

    def _ids(self, ctx: Context) -> tuple[str, str]:
        base = (f"/subscriptions/{ctx.subscription_id}/resourceGroups/{ctx.names.registry_rg}"
                "/providers/Microsoft.Network")
        return f"{base}/networkSecurityGroups/{ctx.names.nsg}", f"{base}/virtualNetworks/{ctx.names.vnet}"

    def observe(self, ctx: Context) -> Observation:
        """Compare the NSG rules, address space, subnets and tags."""
        net = ctx.clients.network(ctx.subscription_id)
        rg = ctx.names.registry_rg
        nsg_id, vnet_id = self._ids(ctx)
        res = [Resource("virtual network", ctx.names.vnet, vnet_id), Resource("network security group",
                                                                             ctx.names.nsg, nsg_id)]
        nsg = rest(get_or_none(lambda: net.network_security_groups.get(rg, ctx.names.nsg), "reading the NSG"))
        vnet = rest(get_or_none(lambda: net.virtual_networks.get(rg, ctx.names.vnet), "reading the VNet"))
        self._remember(ctx)
        if nsg is None and vnet is None:
            return Observation(CREATE, f"{ADDRESS_SPACE}: {AKS_SUBNET} {AKS_PREFIX}, {SERVICES_SUBNET} "
                               f"{SERVICES_PREFIX}", res)
        changes = []
        if nsg is None or not _rules_match(nsg) or tags_missing(nsg.get("tags"), ctx.tags):
            changes.append("NSG rules")
        subnets = {s["name"]: s.get("properties", {}) for s in lookup(vnet, "properties.subnets", [])}
        if vnet is None or ADDRESS_SPACE not in lookup(vnet, "properties.addressSpace.addressPrefixes", []) \
                or tags_missing(vnet.get("tags"), ctx.tags) \
                or lookup(subnets.get(AKS_SUBNET), "addressPrefix") != AKS_PREFIX \
                or lookup(subnets.get(SERVICES_SUBNET), "addressPrefix") != SERVICES_PREFIX \
                or str(lookup(subnets.get(SERVICES_SUBNET), "networkSecurityGroup.id", "")).lower() != nsg_id.lower():
            changes.append("VNet and subnets")
        return Observation(UPDATE if changes else NONE, ", ".join(changes), res,
                           {"nsg": nsg is None or "NSG rules" in changes, "vnet": "VNet and subnets" in changes})

    def _remember(self, ctx: Context) -> None:
        _nsg, vnet_id = self._ids(ctx)
        ctx.facts["network.vnet_id"] = vnet_id
        ctx.facts["network.aks_subnet_id"] = f"{vnet_id}/subnets/{AKS_SUBNET}"
        if ctx.region == ctx.names.home_region:  # the home cluster's subnet; other regions have their own VNet
            ctx.facts["cluster.subnet_id"] = ctx.facts["network.aks_subnet_id"]
        ctx.facts["network.services_subnet_id"] = f"{vnet_id}/subnets/{SERVICES_SUBNET}"

    def apply(self, ctx: Context, obs: Observation) -> None:
        """NSG first, then the VNet with both subnets inline (a VNet PUT without them would drop them)."""
        net = ctx.clients.network(ctx.subscription_id)
        rg = ctx.names.registry_rg
        nsg_id, _vnet = self._ids(ctx)
        if obs.action == CREATE or obs.data.get("nsg"):
            groups = net.network_security_groups
            ctx.wait(self.key, groups.begin_create_or_update(rg, ctx.names.nsg, NetworkSecurityGroup({
                "location": ctx.names.home_region, "tags": ctx.tags, "properties": {"securityRules": _rules()}})),
                "creating the NSG")
        if obs.action == CREATE or obs.data.get("vnet"):
            ctx.wait(self.key, net.virtual_networks.begin_create_or_update(rg, ctx.names.vnet, VirtualNetwork({
                "location": ctx.names.home_region, "tags": ctx.tags, "properties": {
                    "addressSpace": {"addressPrefixes": [ADDRESS_SPACE]},
                    "subnets": [
                        {"name": AKS_SUBNET, "properties": {"addressPrefix": AKS_PREFIX}},
                        {"name": SERVICES_SUBNET, "properties": {"addressPrefix": SERVICES_PREFIX,
                                                                 "networkSecurityGroup": {"id": nsg_id}}}]}})),
                "creating the VNet")

