"""Who may reach the services: the services subnet's NSG rules, converged from the install's clusters.

An NSG's default rule ``AllowVnetInBound`` (priority 65000) lets every address of the VNet and of every peered VNet
reach every port, so allow rules alone restrict nothing. The rules here admit only the install's cluster subnets
(every region's ``aks`` subnet: with Azure CNI overlay, pods leave from their node's address) to AMQP on the
RabbitMQ VM and to S3 on the file server, and deny all other VirtualNetwork traffic above the defaults: no SSH (Run
Command needs none), nothing else. Adding a region adds its subnet here. With ``client_cidrs``, those networks (and
only they) may reach the TLS ports from outside: AMQPS on RabbitMQ, S3 over HTTPS on the file server (an NSG sees the
VM's private address as the destination of traffic to its public IP); the default ``DenyAllInBound`` keeps every
other port, the plain ones, SSH and any management UI, closed to the internet.
"""

from __future__ import annotations

from typing import Any

from azure.mgmt.network.models import NetworkSecurityGroup

from ..azure.errors import azure_call
from ..naming import TAG
from ..vmconfig import AMQP_PORT, AMQPS_PORT, MANAGEMENT_PORT, S3_HTTPS_PORT, S3_PORT
from .base import NONE, UPDATE, Context, Observation, Resource, Step, get_or_none, lookup, rest
from .network import AKS_PREFIX, AKS_SUBNET, STATIC_IPS

DENY_PRIORITY = 4000


def wanted_rules(sources: list[str], clients: tuple[str, ...] = (), keda: bool = False) -> list[dict[str, Any]]:
    """The NSG's rules for these cluster subnets and experimenters' networks (``keda``: the clusters also reach
    RabbitMQ's management API, where KEDA reads the queue lengths; its user may only monitor)."""
    def allow(name: str, port: int, target: str, priority: int, who: list[str], what: str) -> dict[str, Any]:
        return {"name": name, "properties": {
            "protocol": "Tcp", "sourcePortRange": "*", "sourceAddressPrefixes": sorted(who),
            "destinationAddressPrefix": f"{STATIC_IPS[target]}/32", "destinationPortRange": str(port),
            "access": "Allow", "priority": priority, "direction": "Inbound",
            "description": f"{what} to {target} (studioml-azure)"}}
    experimenters = [allow("allow-amqps-from-clients", AMQPS_PORT, "rabbitmq", 220, list(clients),
                           "experimenters' networks (client_cidrs), TLS only,"),
                     allow("allow-s3-https-from-clients", S3_HTTPS_PORT, "files", 230, list(clients),
                           "experimenters' networks (client_cidrs), TLS only,")] if clients else []
    return [allow("allow-amqp-from-clusters", AMQP_PORT, "rabbitmq", 200, sources, "the install's cluster subnets"),
            allow("allow-s3-from-clusters", S3_PORT, "files", 210, sources, "the install's cluster subnets"),
            *([allow("allow-rabbitmq-management-from-clusters", MANAGEMENT_PORT, "rabbitmq", 240, sources,
                     "the install's cluster subnets (KEDA reads queue lengths; scale_to_zero)")] if keda else []),
            *experimenters,
            {"name": "deny-other-vnet-inbound", "properties": {
                "protocol": "*", "sourcePortRange": "*", "sourceAddressPrefix": "VirtualNetwork",
                "destinationAddressPrefix": "*", "destinationPortRange": "*", "access": "Deny",
                "priority": DENY_PRIORITY, "direction": "Inbound",
                "description": "nothing else from the VNet or peered VNets (studioml-azure)"}}]


def _norm(props: dict[str, Any]) -> dict[str, Any]:
    """A rule's properties with the singular and plural forms of its prefixes and ranges merged (Azure treats
    ``sourceAddressPrefix: X`` and ``sourceAddressPrefixes: [X]`` alike; az writes a single value singular)."""
    out = {k: v for k, v in props.items() if not k.endswith(("AddressPrefix", "AddressPrefixes", "PortRange",
                                                                 "PortRanges"))}
    for side in ("source", "destination"):
        for what in ("AddressPrefix", "PortRange"):
            one, many = props.get(f"{side}{what}"), props.get(f"{side}{what}es" if what.endswith("x") else
                                                           f"{side}{what}s") or []
            out[f"{side}{what}"] = sorted({str(v) for v in [one, *many] if v})
    return out


def _same(have: list[dict[str, Any]], want: list[dict[str, Any]]) -> bool:
    got = {r.get("name"): _norm(r.get("properties", {})) for r in have}
    if set(got) != {r["name"] for r in want}:
        return False
    for rule in want:
        props = got[rule["name"]]
        if any(props.get(key) != value for key, value in _norm(rule["properties"]).items()):
            return False
    return True


def cluster_sources(ctx: Context) -> list[str]:
    """Every region's AKS subnet prefix: the home one, each tagged region VNet's, and this run's new region."""
    sources = {AKS_PREFIX}
    with azure_call("listing the install's virtual networks"):
        vnets = [rest(v) for v in ctx.clients.network(ctx.subscription_id).virtual_networks.list_all()
                 if (v.tags or {}).get(TAG) == ctx.names.uniq_id]
    for vnet in vnets:
        for sub in lookup(vnet, "properties.subnets", []) or []:
            if sub.get("name") == AKS_SUBNET and lookup(sub, "properties.addressPrefix"):
                sources.add(str(lookup(sub, "properties.addressPrefix")))
    if ctx.facts.region_aks_prefix:
        sources.add(ctx.facts.region_aks_prefix)
    return sorted(sources)


class ServiceAccess(Step):
    """The rules of ``studioml-services-nsg-<id>``."""

    key, title = "service-access", "Service access rules (NSG)"

    def __init__(self, needs: tuple[str, ...] = ("network",)) -> None:
        self.needs = needs

    def observe(self, ctx: Context) -> Observation:
        """The NSG's rules against the ones for today's clusters."""
        net = ctx.clients.network(ctx.subscription_id)
        rg, name = ctx.names.registry_rg, ctx.names.nsg
        sources = cluster_sources(ctx)
        clients = ctx.answers.client_cidrs
        want = wanted_rules(sources, clients, ctx.answers.scale_to_zero)
        nsg = rest(get_or_none(lambda: net.network_security_groups.get(rg, name), "reading the NSG"))
        who = (f"; AMQPS {AMQPS_PORT} and S3 HTTPS {S3_HTTPS_PORT} from {', '.join(clients)}" if clients else
               "; nothing from outside the VNet")
        res = [Resource("NSG rules", f"{name}: AMQP {AMQP_PORT} and S3 {S3_PORT} from {len(sources)} cluster "
                                     f"subnet(s){who}, deny other VNet traffic", lookup(nsg, "id", ""))]
        ctx.facts.service_access_sources = sources
        have = lookup(nsg, "properties.securityRules", []) or []
        if nsg is not None and _same(have, want):
            return Observation(NONE, f"from {', '.join(sources)}", res)
        old = sorted(r.get("name") for r in have if r.get("name") not in {w["name"] for w in want})
        detail = f"admit {', '.join(sources)} to AMQP and S3 only" + (
            f"; {', '.join(clients)} to AMQPS and S3 HTTPS only" if clients else "") + (
            f"; remove {', '.join(old)}" if old else "")
        return Observation(UPDATE, detail, res, {"nsg": nsg, "want": want})

    def apply(self, ctx: Context, obs: Observation) -> None:
        """One PUT of the NSG with exactly these rules (rules left out are removed)."""
        net = ctx.clients.network(ctx.subscription_id)
        nsg = obs.data.get("nsg") or {}
        body = NetworkSecurityGroup({"location": ctx.names.home_region, "tags": {**(nsg.get("tags") or {}), **ctx.tags},
                                     "properties": {"securityRules": obs.data["want"]}})
        ctx.wait(self.key, lambda: net.network_security_groups.begin_create_or_update(
            ctx.names.registry_rg, ctx.names.nsg, body), "setting the NSG rules")
        ctx.facts.service_access_changed = True
