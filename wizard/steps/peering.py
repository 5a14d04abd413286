"""A region after the first: its own VNet (a private AKS subnet in the region's cluster resource group) peered both
ways with the home VNet, so its runners reach the home RabbitMQ and file server at their private addresses."""

from __future__ import annotations

import ipaddress
import zlib
from typing import Any

from azure.mgmt.network.models import VirtualNetwork, VirtualNetworkPeering

from ..azure.errors import azure_call
from ..errors import RefusedError
from ..naming import TAG
from .base import CREATE, NONE, UPDATE, Context, Observation, Resource, Step, get_or_none, lookup, rest, tags_missing
from .cluster import POD_CIDR, SERVICE_CIDR
from .network import ADDRESS_SPACE, AKS_SUBNET

FIRST_REGION_OCTET = 21  # the home VNet is 10.20.0.0/16; regions take a free 10.N.0.0/16 from 10.21 up
OCTETS = 255 - FIRST_REGION_OCTET


def _vnet_id(ctx: Context, rg: str, name: str) -> str:
    return (f"/subscriptions/{ctx.subscription_id}/resourceGroups/{rg}/providers/Microsoft.Network/"
            f"virtualNetworks/{name}")


def _free_space(ctx: Context) -> str:
    """A 10.N.0.0/16 that overlaps no VNet of this install (Azure is the record) nor the clusters' pod and service
    ranges. Each region starts looking at its own N (from its name), so two admins adding two regions at the same
    moment (each listing before the other has made its VNet) still get different spaces, unless their names
    happen to share a starting point."""
    with azure_call("listing virtual networks"):
        taken = [ipaddress.IPv4Network(p) for v in ctx.clients.network(ctx.subscription_id).virtual_networks.list_all()
                 if (v.tags or {}).get(TAG) == ctx.names.uniq_id
                 for p in (v.address_space.address_prefixes if v.address_space else None) or []]
    taken += [ipaddress.IPv4Network(n) for n in (ADDRESS_SPACE, POD_CIDR, SERVICE_CIDR)]
    start = zlib.crc32(ctx.region.encode()) % OCTETS
    for i in range(OCTETS):
        space = ipaddress.IPv4Network(f"10.{FIRST_REGION_OCTET + (start + i) % OCTETS}.0.0/16")
        if not any(space.overlaps(t) for t in taken):
            return str(space)
    raise RefusedError("no free 10.N.0.0/16 is left for another region's VNet.",
                       "remove a region this install no longer uses, then run again")


def _aks_prefix(space: str) -> str:
    return str(next(ipaddress.IPv4Network(space).subnets(new_prefix=20)))


class RegionNetwork(Step):
    """``studioml-vnet-<id>-<region>`` with an ``aks`` subnet, in ``leafai-<id>-<region>``."""

    key, title, needs = "region-network", "Region virtual network", ("cluster-group", "network")

    def observe(self, ctx: Context) -> Observation:
        """Exists with its AKS subnet and tags? A new one gets the next free address space."""
        rg, name = ctx.names.cluster_rg(ctx.region), ctx.names.region_vnet(ctx.region)
        vnet_id = _vnet_id(ctx, rg, name)
        ctx.facts.region_vnet_id = vnet_id
        ctx.facts.cluster_subnet_id = f"{vnet_id}/subnets/{AKS_SUBNET}"
        res = [Resource("virtual network", name, vnet_id)]
        vnet = rest(get_or_none(lambda: ctx.clients.network(ctx.subscription_id).virtual_networks.get(rg, name),
                                "reading the region's VNet"))
        if vnet is None:
            space = _free_space(ctx)
            ctx.facts.region_space, ctx.facts.region_aks_prefix = space, _aks_prefix(space)
            return Observation(CREATE, f"{space}: {AKS_SUBNET} {_aks_prefix(space)}, peered with the home VNet", res,
                               {"space": space})
        space = lookup(vnet, "properties.addressSpace.addressPrefixes", [ADDRESS_SPACE])[0]
        ctx.facts.region_aks_prefix = _aks_prefix(space)
        subnets = {s["name"]: s.get("properties", {}) for s in lookup(vnet, "properties.subnets", [])}
        ok = lookup(subnets.get(AKS_SUBNET), "addressPrefix") == _aks_prefix(space) \
            and lookup(subnets.get(AKS_SUBNET), "defaultOutboundAccess") is False \
            and not tags_missing(vnet.get("tags"), ctx.tags)
        return Observation(NONE if ok else UPDATE, "" if ok else "subnet and tags", res,
                           {"space": space, "peerings": lookup(vnet, "properties.virtualNetworkPeerings", [])})

    def apply(self, ctx: Context, obs: Observation) -> None:
        """One PUT with the subnet inline (and the peerings it has, which a VNet PUT would otherwise drop)."""
        rg, name = ctx.names.cluster_rg(ctx.region), ctx.names.region_vnet(ctx.region)
        space = obs.data["space"]
        props: dict[str, Any] = {"addressSpace": {"addressPrefixes": [space]}, "subnets": [
            {"name": AKS_SUBNET, "properties": {"addressPrefix": _aks_prefix(space), "defaultOutboundAccess": False}}]}
        if obs.data.get("peerings"):
            props["virtualNetworkPeerings"] = obs.data["peerings"]
        net = ctx.clients.network(ctx.subscription_id)
        body = VirtualNetwork({"location": ctx.region, "tags": ctx.tags, "properties": props})
        ctx.wait(self.key, lambda: net.virtual_networks.begin_create_or_update(rg, name, body),
                 f"creating VNet {name} ({space})")


class Peering(Step):
    """Both halves of the peering: ``to-<region>`` on the home VNet and ``to-home`` on the region's."""

    key, title, needs = "peering", "VNet peering with the home region", ("region-network", "network")

    def _halves(self, ctx: Context) -> list[tuple[str, str, str, str]]:
        """(resource group, VNet, peering name, remote VNet id) of each half."""
        n, region = ctx.names, ctx.region
        home_id = _vnet_id(ctx, n.registry_rg, n.vnet)
        region_id = _vnet_id(ctx, n.cluster_rg(region), n.region_vnet(region))
        return [(n.registry_rg, n.vnet, f"to-{region}", region_id),
                (n.cluster_rg(region), n.region_vnet(region), "to-home", home_id)]

    def _get(self, ctx: Context, rg: str, vnet: str, name: str) -> dict[str, Any] | None:
        peerings = ctx.clients.network(ctx.subscription_id).virtual_network_peerings
        return rest(get_or_none(lambda: peerings.get(rg, vnet, name), f"reading peering {name}"))

    def observe(self, ctx: Context) -> Observation:
        """Both halves there and Connected?"""
        res, missing, broken = [], [], []
        for rg, vnet, name, _remote in self._halves(ctx):
            got = self._get(ctx, rg, vnet, name)
            res.append(Resource("VNet peering", f"{vnet}/{name}", lookup(got, "id", "")))
            if got is None:
                missing.append(name)
            elif lookup(got, "properties.peeringState") != "Connected":
                broken.append(f"{name} {lookup(got, 'properties.peeringState')}")
        if len(missing) == 2:
            return Observation(CREATE, "home <-> region, VNet traffic only", res)
        if missing or broken:
            return Observation(UPDATE, ", ".join([*(f"{m} missing" for m in missing), *broken]), res)
        return Observation(NONE, "connected", res)

    def apply(self, ctx: Context, obs: Observation) -> None:
        """PUT each half. A half whose other side was deleted is Disconnected, and a PUT does not mend it: it is
        deleted and made again (what the portal asks for)."""
        peerings = ctx.clients.network(ctx.subscription_id).virtual_network_peerings
        for rg, vnet, name, _remote in self._halves(ctx):
            if lookup(self._get(ctx, rg, vnet, name), "properties.peeringState") == "Disconnected":
                ctx.wait(self.key, lambda r=rg, v=vnet, n=name: peerings.begin_delete(r, v, n),
                         f"removing disconnected peering {name}")
        for rg, vnet, name, remote in self._halves(ctx):
            body = VirtualNetworkPeering({"properties": {
                "remoteVirtualNetwork": {"id": remote}, "allowVirtualNetworkAccess": True,
                "allowForwardedTraffic": False, "allowGatewayTransit": False, "useRemoteGateways": False}})
            ctx.wait(self.key, lambda r=rg, v=vnet, n=name, b=body: peerings.begin_create_or_update(r, v, n, b),
                     f"peering {vnet} {name}")
        ctx.facts.peering_changed = True

    def verify(self, ctx: Context) -> None:
        """Both halves Connected."""
        for rg, vnet, name, _remote in self._halves(ctx):
            state = lookup(self._get(ctx, rg, vnet, name), "properties.peeringState")
            if state != "Connected":
                raise RefusedError(f"peering {vnet}/{name} is {state}, not Connected.", "run again")
