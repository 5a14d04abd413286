"""Outbound internet for the service VMs: a NAT gateway with a Standard static public IP, attached (by the network
step) to the services subnet. Subnets made through current network api-versions are private (no default outbound
access), and the VMs' cloud-init needs apt and the file server's download; a NAT gateway gives them outbound without
any inbound path from the internet."""

from __future__ import annotations

from typing import Any

from azure.mgmt.network.models import NatGateway, PublicIPAddress

from .base import CREATE, NONE, UPDATE, Context, Observation, Resource, Step, get_or_none, lookup, rest, tags_missing

IDLE_MINUTES = 4


def nat_ids(ctx: Context) -> tuple[str, str]:
    """(public IP id, NAT gateway id) of the install."""
    base = f"/subscriptions/{ctx.subscription_id}/resourceGroups/{ctx.names.registry_rg}/providers/Microsoft.Network"
    return f"{base}/publicIPAddresses/{ctx.names.nat_ip}", f"{base}/natGateways/{ctx.names.nat}"


class Outbound(Step):
    """``studioml-nat-<id>`` with its public IP ``studioml-nat-ip-<id>``, in the registry's resource group."""

    key, title, needs = "outbound", "Outbound for the services (NAT gateway)", ("registry-group",)

    def observe(self, ctx: Context) -> Observation:
        """Both exist, the IP Standard and Static and on the gateway, tagged?"""
        net = ctx.clients.network(ctx.subscription_id)
        rg, n = ctx.names.registry_rg, ctx.names
        ip_id, nat_id = nat_ids(ctx)
        ctx.facts.outbound_nat_id = nat_id
        res = [Resource("NAT gateway (Standard)", n.nat, nat_id, cost_item="NAT gateway"),
               Resource("public IP (Standard, static) of the NAT gateway", n.nat_ip, ip_id,
                        cost_item="NAT gateway public IP"),
               Resource("NAT gateway data processed (an assumption, see the estimate)", n.nat,
                        cost_item="NAT gateway data processed")]
        ip = rest(get_or_none(lambda: net.public_ip_addresses.get(rg, n.nat_ip), "reading the NAT public IP"))
        nat = rest(get_or_none(lambda: net.nat_gateways.get(rg, n.nat), "reading the NAT gateway"))
        if ip is None and nat is None:
            return Observation(CREATE, "Standard NAT gateway and its static public IP", res)
        changes = []
        if ip is None or tags_missing(ip.get("tags"), ctx.tags):
            changes.append("public IP")
        attached = [str(p.get("id", "")).lower() for p in lookup(nat, "properties.publicIpAddresses", []) or []]
        if nat is None or ip_id.lower() not in attached or tags_missing(nat.get("tags"), ctx.tags):
            changes.append("NAT gateway")
        if ip is not None:
            ctx.facts.outbound_ip = lookup(ip, "properties.ipAddress")
        return Observation(UPDATE if changes else NONE, ", ".join(changes), res,
                           {"ip": ip is None or "public IP" in changes, "nat": "NAT gateway" in changes,
                            "ip_tags": (ip or {}).get("tags") or {}, "nat_tags": (nat or {}).get("tags") or {}})

    def apply(self, ctx: Context, obs: Observation) -> None:
        """The public IP first, then the gateway that uses it."""
        net = ctx.clients.network(ctx.subscription_id)
        rg, n, loc = ctx.names.registry_rg, ctx.names, ctx.names.home_region
        ip_id, _nat_id = nat_ids(ctx)
        if obs.action == CREATE or obs.data.get("ip"):
            body: dict[str, Any] = {"location": loc, "tags": {**obs.data.get("ip_tags", {}), **ctx.tags},
                                    "sku": {"name": "Standard", "tier": "Regional"},
                                    "properties": {"publicIPAllocationMethod": "Static",
                                                   "publicIPAddressVersion": "IPv4"}}
            ip = rest(ctx.wait(self.key, lambda: net.public_ip_addresses.begin_create_or_update(
                rg, n.nat_ip, PublicIPAddress(body)), f"creating public IP {n.nat_ip}"))
            ctx.facts.outbound_ip = lookup(ip, "properties.ipAddress")
        if obs.action == CREATE or obs.data.get("nat"):
            ctx.wait(self.key, lambda: net.nat_gateways.begin_create_or_update(rg, n.nat, NatGateway({
                "location": loc, "tags": {**obs.data.get("nat_tags", {}), **ctx.tags}, "sku": {"name": "Standard"},
                "properties": {"idleTimeoutInMinutes": IDLE_MINUTES, "publicIpAddresses": [{"id": ip_id}]}})),
                f"creating NAT gateway {n.nat}")
