"""Where a sandbox VM's packets may go: outbound to the internet, and TCP from an address in a VNet to a VM.

Outbound ("Default outbound access in Azure", Learn): a VM reaches the internet through a public IP on its NIC, a
NAT gateway (with at least one public IP) on its subnet, or, only where the subnet is not private, Azure's default
outbound access. A private subnet with none of these has no internet: connections time out.

Inbound (Learn: "How network security groups filter network traffic"): the destination must be routable from the
source (the same VNet, or VNets peered both ways and Connected with virtual network access allowed); then the NSG of
the destination's subnet and the NSG of its NIC are evaluated, each rule in priority order, the default rules
included, the first match deciding. ``VirtualNetwork`` is the VNet's address space plus every connected peered
VNet's. A denied SYN is dropped (the client times out); an allowed one reaching a port nothing listens on is reset.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ..arm.base import Sandbox


def _get(sbx: Sandbox, rid: str | None) -> dict[str, Any] | None:
    return sbx.get_resource(rid) if rid else None


def vm_nics(sbx: Sandbox, vm: dict[str, Any]) -> list[dict[str, Any]]:
    """The VM's live NIC records."""
    refs = vm["body"]["properties"].get("networkProfile", {}).get("networkInterfaces") or []
    return [n for n in (_get(sbx, r.get("id")) for r in refs) if n is not None]


def _configs(nic: dict[str, Any]) -> list[dict[str, Any]]:
    return [c.get("properties") or {} for c in nic["body"]["properties"].get("ipConfigurations") or []]


def outbound(sbx: Sandbox, vm: dict[str, Any]) -> tuple[bool, str]:
    """Whether the VM reaches the internet now, and how (or why not)."""
    for nic in vm_nics(sbx, vm):
        for cfg in _configs(nic):
            if _get(sbx, (cfg.get("publicIPAddress") or {}).get("id")):
                return True, "the public IP on its NIC"
            subnet = _get(sbx, (cfg.get("subnet") or {}).get("id"))
            if subnet is None:
                continue
            props = subnet["body"]["properties"]
            nat = _get(sbx, (props.get("natGateway") or {}).get("id"))
            if nat is not None and any(_get(sbx, ip.get("id")) for ip in nat["body"]["properties"].get(
                    "publicIpAddresses") or []):
                return True, f"NAT gateway {nat['body']['name']}"
            if props.get("defaultOutboundAccess") is not False:
                return True, "Azure's default outbound access (the subnet is not private)"
            return False, (f"subnet {subnet['body']['name']} is private (defaultOutboundAccess false) and has no NAT "
                           "gateway with a public IP, and the NIC has no public IP")
    return False, "the VM has no network interface in a subnet"


def _vnet_of(subnet_id: str) -> str:
    return subnet_id.lower().split("/subnets/")[0]


def _spaces(sbx: Sandbox, vnet_id: str) -> list[ipaddress.IPv4Network]:
    vnet = _get(sbx, vnet_id)
    if vnet is None:
        return []
    return [ipaddress.IPv4Network(p) for p in vnet["body"]["properties"]["addressSpace"]["addressPrefixes"]]


def _peered(sbx: Sandbox, a: str, b: str) -> bool:
    """VNets ``a`` and ``b`` peered both ways, Connected, with virtual network access allowed."""
    def half(x: str, y: str) -> bool:
        return any((p["body"]["properties"].get("remoteVirtualNetwork") or {}).get("id", "").lower() == y
                   and p["body"]["properties"].get("peeringState") == "Connected"
                   and p["body"]["properties"].get("allowVirtualNetworkAccess", True)
                   for p in sbx.children(x, "virtualNetworkPeerings"))
    return half(a, b) and half(b, a)


def _connected_vnets(sbx: Sandbox, vnet_id: str) -> list[str]:
    out = [vnet_id]
    for p in sbx.children(vnet_id, "virtualNetworkPeerings"):
        remote = (p["body"]["properties"].get("remoteVirtualNetwork") or {}).get("id", "").lower()
        if remote and _peered(sbx, vnet_id, remote):
            out.append(remote)
    return out


def find_nic(sbx: Sandbox, from_vnet: str, ip: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(NIC, subnet) holding private ``ip`` in a VNet routable from ``from_vnet`` (addresses are per VNet)."""
    reachable = set(_connected_vnets(sbx, from_vnet))
    for key in list(sbx.store.resources):
        rec = sbx.store.resources.get(key)
        if not rec or rec["type"] != "Microsoft.Network/networkInterfaces" or not sbx.get_resource(key):
            continue
        for cfg in _configs(rec):
            sid = (cfg.get("subnet") or {}).get("id", "")
            if cfg.get("privateIPAddress") == ip and _vnet_of(sid) in reachable:
                subnet = _get(sbx, sid)
                if subnet is not None:
                    return rec, subnet
    return None


def _matches(prefixes: list[str], addr: ipaddress.IPv4Address, vnet_spaces: list[ipaddress.IPv4Network],
             internet: bool = False) -> bool:
    for p in prefixes:
        if p in ("*", "Any", "0.0.0.0/0"):
            return True
        if p == "VirtualNetwork":
            if not internet and any(addr in s for s in vnet_spaces):
                return True
            continue
        if p == "Internet":
            if internet:
                return True
            continue
        if p == "AzureLoadBalancer":
            continue  # never a VNet address
        try:
            if addr in ipaddress.IPv4Network(p, strict=False):
                return True
        except ValueError:
            continue
    return False


def _port_in(ranges: list[str], port: int) -> bool:
    for r in ranges:
        if r == "*":
            return True
        lo, _, hi = r.partition("-")
        if int(lo) <= port <= int(hi or lo):
            return True
    return False


def nsg_decides(nsg: dict[str, Any], src: ipaddress.IPv4Address, dst: ipaddress.IPv4Address, port: int,
                vnet_spaces: list[ipaddress.IPv4Network], internet: bool = False) -> tuple[bool, str]:
    """An NSG's inbound verdict for a TCP SYN: (allowed, the rule that decided)."""
    props = nsg["body"]["properties"]
    rules = [r for r in (props.get("securityRules") or []) + (props.get("defaultSecurityRules") or [])
             if (r.get("properties") or {}).get("direction") == "Inbound"]
    for rule in sorted(rules, key=lambda r: int(r["properties"]["priority"])):
        rp = rule["properties"]
        if rp.get("protocol") not in ("Tcp", "*"):
            continue
        sources = [rp["sourceAddressPrefix"]] if rp.get("sourceAddressPrefix") else rp.get("sourceAddressPrefixes", [])
        dests = [rp["destinationAddressPrefix"]] if rp.get("destinationAddressPrefix") else \
            rp.get("destinationAddressPrefixes", [])
        ports = [rp["destinationPortRange"]] if rp.get("destinationPortRange") else rp.get("destinationPortRanges", [])
        if _matches(sources, src, vnet_spaces, internet) and _matches(dests, dst, vnet_spaces) and \
                _port_in(ports, port):
            return rp.get("access") == "Allow", str(rule.get("name"))
    return False, "no rule"


def tcp_path(sbx: Sandbox, from_subnet_id: str, src_ip: str, dst_ip: str, port: int
             ) -> tuple[str, dict[str, Any] | None]:
    """A TCP connection's fate up to the destination's NIC: ("open", VM record) when the SYN is delivered, else
    ("timeout", None) with the reason in the sandbox log (no route, or an NSG rule dropped it)."""
    vnet = _vnet_of(from_subnet_id)
    found = find_nic(sbx, vnet, dst_ip)
    if found is None:
        return "timeout", None
    nic, subnet = found
    dst_vnet = _vnet_of(subnet["id"])
    spaces = [s for v in _connected_vnets(sbx, dst_vnet) for s in _spaces(sbx, v)]
    src, dst = ipaddress.IPv4Address(src_ip), ipaddress.IPv4Address(dst_ip)
    for ref in ((subnet["body"]["properties"].get("networkSecurityGroup") or {}).get("id"),
                (nic["body"]["properties"].get("networkSecurityGroup") or {}).get("id")):
        nsg = _get(sbx, ref)
        if nsg is not None and not nsg_decides(nsg, src, dst, port, spaces)[0]:
            return "timeout", None
    vm = _get(sbx, (nic["body"]["properties"].get("virtualMachine") or {}).get("id"))
    return ("open", vm) if vm is not None else ("timeout", None)


def from_internet(sbx: Sandbox, client: str, host: str, port: int) -> tuple[str, dict[str, Any] | None, str]:
    """A TCP connection from ``client`` (an internet address) to ``host`` (a public IP's address or its DNS name) on
    ``port``: ("open", VM record, why) when the SYN reaches the VM behind it, else ("timeout", None, why). Azure
    translates the public address to the NIC's private one before the NSGs see it (Learn: "How network security
    groups filter network traffic"); the source keeps the client's address, which only ``Internet``, ``*`` or a
    prefix holding it matches."""
    pip = next((r for r in sbx.store.resources.values() if r["type"] == "Microsoft.Network/publicIPAddresses"
                and host in (r["body"]["properties"].get("ipAddress"),
                             (r["body"]["properties"].get("dnsSettings") or {}).get("fqdn"))), None)
    if pip is None:
        return "timeout", None, f"{host} is no public IP address or DNS name of the sandbox"
    for nic in (r for r in sbx.store.resources.values() if r["type"] == "Microsoft.Network/networkInterfaces"):
        for cfg in _configs(nic):
            if str((cfg.get("publicIPAddress") or {}).get("id", "")).lower() != pip["id"].lower():
                continue
            subnet = _get(sbx, (cfg.get("subnet") or {}).get("id"))
            dst = ipaddress.IPv4Address(str(cfg.get("privateIPAddress")))
            spaces = [s for v in _connected_vnets(sbx, _vnet_of(subnet["id"])) for s in _spaces(sbx, v)] \
                if subnet else []
            refs = ((subnet or {}).get("body", {}).get("properties", {}).get("networkSecurityGroup") or {}).get("id"), \
                (nic["body"]["properties"].get("networkSecurityGroup") or {}).get("id")
            why = "no NSG"
            for ref in refs:
                nsg = _get(sbx, ref)
                if nsg is None:
                    continue
                allowed, rule = nsg_decides(nsg, ipaddress.IPv4Address(client), dst, port, spaces, internet=True)
                why = f"NSG {nsg['body']['name']} rule {rule}"
                if not allowed:
                    return "timeout", None, f"dropped by {why}"
            vm = _get(sbx, (nic["body"]["properties"].get("virtualMachine") or {}).get("id"))
            return ("open", vm, f"allowed by {why}") if vm else ("timeout", None, "the NIC has no VM")
    return "timeout", None, f"public IP {pip['body']['name']} is attached to no network interface"
