"""Microsoft.Network's network security groups in the sandbox: an NSG's rules checked as the network RP checks them
(priorities, directions, no two rules alike), its default rules, and its rules as child resources."""

from __future__ import annotations

from typing import Any

from .base import ArmError
from .network import NAMESPACE, Net
from .provider import Call, Ref, base_body

# Every NSG has these, below any rule of its own ("Network security groups: default security rules", Learn): the
# first lets every address of the VNet and of the VNets peered with it reach every port.
DEFAULT_RULES = [
    ("AllowVnetInBound", "Allow inbound traffic from all VMs in VNET", "VirtualNetwork", "VirtualNetwork", "Allow",
     65000, "Inbound"),
    ("AllowAzureLoadBalancerInBound", "Allow inbound traffic from azure load balancer", "AzureLoadBalancer", "*",
     "Allow", 65001, "Inbound"),
    ("DenyAllInBound", "Deny all inbound traffic", "*", "*", "Deny", 65500, "Inbound"),
    ("AllowVnetOutBound", "Allow outbound traffic from all VMs to all VMs in VNET", "VirtualNetwork",
     "VirtualNetwork", "Allow", 65000, "Outbound"),
    ("AllowInternetOutBound", "Allow outbound traffic from all VMs to Internet", "*", "Internet", "Allow", 65001,
     "Outbound"),
    ("DenyAllOutBound", "Deny all outbound traffic", "*", "*", "Deny", 65500, "Outbound"),
]


def _check_rule(name: Any, rule: dict[str, Any], where: str) -> dict[str, Any]:
    """One security rule's properties as the network RP checks them (priority, direction, access, protocol,
    addresses, ports)."""
    rp = dict(rule)
    prio, direction = rp.get("priority"), rp.get("direction")
    if not isinstance(prio, int) or not 100 <= prio <= 4096:
        raise ArmError(400, "SecurityRuleInvalidPriority", f"Security rule {name} has invalid priority; it must be "
                       "between 100 and 4096.", target=f"{where}.priority")
    if direction not in ("Inbound", "Outbound") or rp.get("access") not in ("Allow", "Deny"):
        raise ArmError(400, "InvalidRequestFormat", "direction must be Inbound/Outbound and access Allow/Deny.",
                       target=where)
    if rp.get("protocol") not in ("Tcp", "Udp", "Icmp", "Esp", "Ah", "*"):
        raise ArmError(400, "SecurityRuleInvalidProtocol", f"Security rule {name} has invalid protocol "
                       f"{rp.get('protocol')!r}.", target=f"{where}.protocol")
    for side in ("source", "destination"):
        if not rp.get(f"{side}AddressPrefix") and not rp.get(f"{side}AddressPrefixes"):
            raise ArmError(400, "SecurityRuleInvalidAddressPrefix", f"Security rule {name} has no {side} address "
                           "prefix.", target=f"{where}.{side}AddressPrefix")
    if not rp.get("destinationPortRange") and not rp.get("destinationPortRanges"):
        raise ArmError(400, "SecurityRuleInvalidPortRange", f"Security rule {name} has no destination port range.",
                       target=f"{where}.destinationPortRange")
    rp.pop("provisioningState", None)
    return rp


def _no_clash(rules: list[tuple[Any, dict[str, Any]]], where: str) -> None:
    seen: dict[tuple[str, int], Any] = {}
    for name, rp in rules:
        key = (rp["direction"], rp["priority"])
        if key in seen:
            raise ArmError(400, "SecurityRuleConflict", f"Security rule {name} conflicts with rule {seen[key]}: "
                           f"rules share priority {rp['priority']} in direction {rp['direction']}.",
                           target=f"{where}.priority")
        seen[key] = name


class NetworkSecurityGroups(Net):
    """Microsoft.Network/networkSecurityGroups (inline rules are child resources too, as on Azure)."""

    types = ("networkSecurityGroups",)

    def build(self, call: Call, ref: Ref, body: dict[str, Any], existing: dict[str, Any] | None
              ) -> dict[str, Any]:
        """Check rule priorities, directions and uniqueness."""
        out = base_body(ref, body, existing)
        rules = []
        for i, rule in enumerate(out["properties"].get("securityRules") or []):
            rp = _check_rule(rule.get("name"), rule.get("properties") or {}, f"properties.securityRules[{i}]")
            rules.append({"name": rule.get("name"), "id": f"{ref.id}/securityRules/{rule.get('name')}",
                          "properties": rp})
        _no_clash([(r["name"], r["properties"]) for r in rules], "properties.securityRules")
        out["properties"]["securityRules"] = rules
        out["properties"]["defaultSecurityRules"] = [
            {"name": name, "id": f"{ref.id}/defaultSecurityRules/{name}", "properties": {
                "description": text, "protocol": "*", "sourcePortRange": "*", "destinationPortRange": "*",
                "sourceAddressPrefix": src, "destinationAddressPrefix": dst, "access": access, "priority": prio,
                "direction": direction, "sourcePortRanges": [], "destinationPortRanges": [],
                "sourceAddressPrefixes": [], "destinationAddressPrefixes": []}}
            for name, text, src, dst, access, prio, direction in DEFAULT_RULES]
        return out

    def after_put(self, call: Call, ref: Ref, rec: dict[str, Any], created: bool) -> None:
        """Keep the rules as child resources; a PUT's rule list is the whole list."""
        named = {r["id"].lower() for r in rec["body"]["properties"]["securityRules"]}
        for old in call.sbx.children(ref.id, "securityRules"):
            if old["id"].lower() not in named:
                call.sbx.remove_resource(old["id"])
        for rule in rec["body"]["properties"]["securityRules"]:
            rtype = f"{NAMESPACE}/networkSecurityGroups/securityRules"
            call.sbx.store.resources[rule["id"].lower()] = {
                "id": rule["id"], "type": rtype, "location": rec["location"], "failed": False,
                "transition": rec.get("transition"), "busy_until": rec.get("busy_until", 0),
                "body": {"id": rule["id"], "name": rule["name"], "type": rtype, "properties": rule["properties"]}}

    def view(self, call: Call, rec: dict[str, Any]) -> dict[str, Any]:
        """The rules inline as they are now (each is also a child resource of its own)."""
        body = call.sbx.rendered(rec)
        body["properties"]["securityRules"] = [call.sbx.rendered(c) for c in call.sbx.children(rec["id"],
                                                                                                "securityRules")]
        return body


class SecurityRules(Net):
    """Microsoft.Network/networkSecurityGroups/securityRules: one rule PUT on its own (``az network nsg rule``)."""

    types = ("networkSecurityGroups", "securityRules")

    def build(self, call: Call, ref: Ref, body: dict[str, Any], existing: dict[str, Any] | None
              ) -> dict[str, Any]:
        """The rule checked, and against its siblings' priorities."""
        rp = _check_rule(ref.name, body.get("properties") or {}, "properties")
        siblings = [(c["body"]["name"], c["body"]["properties"]) for c in call.sbx.children(ref.parent_id or "",
                                                                                            "securityRules")
                    if c["id"].lower() != ref.id.lower()]
        _no_clash([*siblings, (ref.name, rp)], "properties")
        return {"id": ref.id, "name": ref.name, "type": ref.type_name, "properties": rp}

    def after_put(self, call: Call, ref: Ref, rec: dict[str, Any], created: bool) -> None:
        """Reflect in the NSG's inline list."""
        nsg = call.sbx.get_resource(ref.parent_id or "")
        assert nsg is not None
        rules = [r for r in nsg["body"]["properties"]["securityRules"] if r["name"].lower() != ref.name.lower()]
        rules.append({"name": ref.name, "id": ref.id, "properties": rec["body"]["properties"]})
        nsg["body"]["properties"]["securityRules"] = rules
