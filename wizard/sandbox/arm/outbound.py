"""Microsoft.Network outbound in the sandbox: public IP addresses and NAT gateways.

Checked as the network RP checks them (``azure-specs/.../network/stable/2024-01-01/publicIpAddress.json`` and
``natGateway.json`` for the shapes; Microsoft Learn for the rules):

- Basic SKU public IPs were retired on 2025-09-30 and none can be created since 2025-03-31 ("Upgrade to Standard
  SKU public IP addresses in Azure by 30 September 2025"); a new one is refused with the quota error that
  deployments met once the limit went to 0.
- A Standard public IP must be Static ("Standard sku publicIp ... must have AllocationMethod set to Static.",
  the recorded answer).
- A NAT gateway is Standard, in one region; its public IPs must exist, be Standard, Static and IPv4, in the same
  region, and not be used by anything else ("NAT gateway resource limitations", Learn: nat-gateway-resource).
- A NAT gateway still associated with a subnet cannot be deleted ("InUseNatGatewayCannotBeDeleted").
- A DNS label is unique per region (``<label>.<region>.cloudapp.azure.com``).
"""

from __future__ import annotations

from typing import Any

from .base import ArmError
from .network import NAMESPACE, Net
from .provider import Call, Ref, base_body


def _ip_users(call: Call, ip_id: str, exclude: str = "") -> list[str]:
    """Resources that use a public IP: NIC ip configurations and NAT gateways."""
    users = []
    for rec in call.sbx.store.resources.values():
        if rec["id"].lower() == exclude.lower():
            continue
        kind = rec["type"].lower()
        props = rec["body"].get("properties") or {}
        if kind == "microsoft.network/natgateways":
            refs = [r.get("id", "") for r in props.get("publicIpAddresses") or []]
        elif kind == "microsoft.network/networkinterfaces":
            refs = [((c.get("properties") or {}).get("publicIPAddress") or {}).get("id", "")
                    for c in props.get("ipConfigurations") or []]
        else:
            continue
        if any(r.lower() == ip_id.lower() for r in refs):
            users.append(rec["id"])
    return users


class PublicIPAddresses(Net):
    """Microsoft.Network/publicIPAddresses."""

    types = ("publicIPAddresses",)

    def build(self, call: Call, ref: Ref, body: dict[str, Any], existing: dict[str, Any] | None
              ) -> dict[str, Any]:
        """Standard and Static only; an address from a documentation range, kept across updates."""
        out = base_body(ref, body, existing)
        old_sku = (existing or {}).get("body", {}).get("sku")
        sku = body.get("sku") or old_sku or {"name": "Standard", "tier": "Regional"}
        if old_sku and sku.get("name") != old_sku.get("name"):
            raise ArmError(400, "InvalidParameter", "Sku property is set at creation time and cannot be updated.",
                           target="sku")
        if sku.get("name") == "Basic" and existing is None:
            raise ArmError(400, "PublicIPCountLimitReached", "Cannot create more than 0 IPv4 Basic SKU public IP "
                           "addresses for this subscription in this region (Basic SKU public IPs were retired on "
                           "30 September 2025).", target="sku.name")
        out["sku"] = {"name": sku.get("name", "Standard"), "tier": sku.get("tier", "Regional")}
        props = out["properties"]
        props.setdefault("publicIPAllocationMethod", "Static")
        props.setdefault("publicIPAddressVersion", "IPv4")
        if out["sku"]["name"] == "Standard" and props["publicIPAllocationMethod"] != "Static":
            # The code of this refusal is not recorded; the message is.
            raise ArmError(400, "InvalidParameter", f"Standard sku publicIp {ref.id} must have AllocationMethod "
                           "set to Static.", target="properties.publicIPAllocationMethod")
        label = (props.get("dnsSettings") or {}).get("domainNameLabel")
        if label:
            for other in call.sbx.store.resources.values():
                if other["type"] == "Microsoft.Network/publicIPAddresses" and other["id"].lower() != ref.id.lower() \
                        and other["location"] == out["location"] and (other["body"]["properties"].get(
                            "dnsSettings") or {}).get("domainNameLabel") == label:
                    raise ArmError(400, "DnsRecordInUse", f"DNS record {label}.{out['location']}.cloudapp.azure.com "
                                   "is already used by another public IP.", target="properties.dnsSettings")
            props["dnsSettings"] = {**props["dnsSettings"], "fqdn": f"{label}.{out['location']}.cloudapp.azure.com"}
        old = (existing or {}).get("body", {}).get("properties", {})
        count = sum(1 for r in call.sbx.store.resources.values() if r["type"] == "Microsoft.Network/publicIPAddresses")
        props["ipAddress"] = old.get("ipAddress") or f"203.0.113.{(count % 250) + 2}"
        props.setdefault("idleTimeoutInMinutes", 4)
        return out

    def view(self, call: Call, rec: dict[str, Any]) -> dict[str, Any]:
        """With the NAT gateway that uses it, as the RP shows it."""
        body = call.sbx.rendered(rec)
        for user in _ip_users(call, rec["id"]):
            if "/natgateways/" in user.lower():
                body["properties"]["natGateway"] = {"id": user}
        return body

    def before_delete(self, call: Call, ref: Ref, rec: dict[str, Any]) -> None:
        """A public IP in use cannot go."""
        users = [u for u in _ip_users(call, ref.id) if call.sbx.get_resource(u)]
        if users:
            raise ArmError(400, "PublicIPAddressCannotBeDeleted", f"Public IP address {ref.id} can not be deleted "
                           f"since it is still allocated to resource {users[0]}.")


class NatGateways(Net):
    """Microsoft.Network/natGateways: Standard, its public IPs checked; the subnets using it are read-only."""

    types = ("natGateways",)
    create_seconds, update_seconds, delete_seconds = 20.0, 10.0, 20.0

    def build(self, call: Call, ref: Ref, body: dict[str, Any], existing: dict[str, Any] | None
              ) -> dict[str, Any]:
        """Check the SKU and every public IP."""
        out = base_body(ref, body, existing)
        sku = (body.get("sku") or {}).get("name") or (existing or {}).get("body", {}).get("sku", {}).get("name")
        if sku not in ("Standard", "StandardV2"):
            raise ArmError(400, "InvalidNatGatewaySku", f"NAT gateway {ref.name} must have sku Standard or "
                           "StandardV2.", target="sku.name")
        out["sku"] = {"name": sku}
        props = out["properties"]
        props.pop("subnets", None)  # read-only: which subnets use it is the subnets' own say
        props.setdefault("idleTimeoutInMinutes", 4)
        if not 4 <= int(props["idleTimeoutInMinutes"]) <= 120:
            raise ArmError(400, "InvalidParameter", "idleTimeoutInMinutes must be between 4 and 120.",
                           target="properties.idleTimeoutInMinutes")
        ips = props.get("publicIpAddresses") or []
        for i, ip_ref in enumerate(ips):
            where = f"properties.publicIpAddresses[{i}].id"
            ip = call.sbx.get_resource(ip_ref.get("id", ""))
            if ip is None:
                raise ArmError(400, "InvalidResourceReference", f"Resource {ip_ref.get('id')} referenced by "
                               f"resource {ref.id} was not found.", target=where)
            ip_props = ip["body"]["properties"]
            if ip["body"].get("sku", {}).get("name") != "Standard" or \
                    ip_props.get("publicIPAllocationMethod") != "Static" or \
                    ip_props.get("publicIPAddressVersion", "IPv4") != "IPv4":
                raise ArmError(400, "NatGatewayCannotUseBasicOrDynamicPublicIp", f"NAT gateway {ref.id} can only "
                               f"use Standard SKU, Static, IPv4 public IP addresses; {ip['id']} is not.", target=where)
            if ip["location"] != out["location"]:
                raise ArmError(400, "NatGatewayAndPublicIpNotInSameRegion", f"Public IP {ip['id']} is in "
                               f"{ip['location']}; NAT gateway {ref.id} is in {out['location']}.", target=where)
            others = _ip_users(call, ip["id"], exclude=ref.id)
            if others:
                raise ArmError(400, "PublicIpAddressInUse", f"Public IP {ip['id']} is already used by {others[0]}.",
                               target=where)
        return out

    def view(self, call: Call, rec: dict[str, Any]) -> dict[str, Any]:
        """With the subnets that use it, as ``subnets`` (read-only) lists them."""
        body = call.sbx.rendered(rec)
        body["properties"]["subnets"] = [{"id": s["id"]} for s in nat_subnets(call, rec["id"])]
        return body

    def before_delete(self, call: Call, ref: Ref, rec: dict[str, Any]) -> None:
        """Not while a subnet uses it."""
        used = nat_subnets(call, ref.id)
        if used:
            raise ArmError(400, "InUseNatGatewayCannotBeDeleted", f"Nat Gateway {ref.id} is in use by "
                           f"{used[0]['id']} and cannot be deleted. Disassociate it from the subnet first.")


def nat_subnets(call: Call, nat_id: str) -> list[dict[str, Any]]:
    """The live subnet records that reference the NAT gateway."""
    out = []
    for key in list(call.sbx.store.resources):
        rec = call.sbx.store.resources.get(key)
        if rec and rec["type"] == f"{NAMESPACE}/virtualNetworks/subnets" and \
                ((rec["body"]["properties"].get("natGateway") or {}).get("id", "")).lower() == nat_id.lower() \
                and call.sbx.get_resource(key):
            out.append(rec)
    return out
