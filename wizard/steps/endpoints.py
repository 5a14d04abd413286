"""The services as experimenters reach them: a public IP with a DNS label per service when ``client_cidrs`` admits
anyone from outside the VNet (none otherwise), and the settings each VM was given (credentials, TLS certificate)
kept current: a certificate due for renewal, a new address in it, or a rotated credential is written to the VM through
Run Command and its configure script run (the VM is not re-made), then the VM is tagged with what it now has.

The NSG rules that admit ``client_cidrs`` to the TLS ports only are the service-access step's.
"""

from __future__ import annotations

from typing import Any

from azure.mgmt.compute.models import VirtualMachineUpdate
from azure.mgmt.network.models import NetworkInterface, PublicIPAddress

from .. import health, tls, vmconfig
from .. import secrets as keys
from ..errors import RefusedError
from ..events import StepProgress
from .base import CREATE, NONE, UPDATE, Context, Observation, Resource, Step, get_or_none, lookup, rest, tags_missing
from .services import CONF_TAG, LABELS, conf_digest, role_secrets, run_shell, secret_inputs, settings, where

ROLES = ("rabbitmq", "files")
COST_ITEMS = {"rabbitmq": "RabbitMQ public IP", "files": "file server public IP"}


def _public_ip_body(ctx: Context, role: str, tags: dict[str, str]) -> PublicIPAddress:
    return PublicIPAddress({"location": ctx.names.home_region, "tags": {**tags, **ctx.tags},
                            "sku": {"name": "Standard", "tier": "Regional"},
                            "properties": {"publicIPAllocationMethod": "Static", "publicIPAddressVersion": "IPv4",
                                           "dnsSettings": {"domainNameLabel": ctx.names.dns_label(role)}}})


class Endpoints(Step):
    """Public IPs ``studioml-<role>-ip-<id>`` (only with ``client_cidrs``) and each VM's delivered settings."""

    key, title, needs = "endpoints", "Experimenters' endpoints (public IPs, TLS, credentials)", ("rabbitmq", "files")

    def _read(self, ctx: Context, role: str) -> dict[str, Any]:
        net, compute = ctx.clients.network(ctx.subscription_id), ctx.clients.compute(ctx.subscription_id)
        rg, n = ctx.names.registry_rg, ctx.names
        ip = rest(get_or_none(lambda: net.public_ip_addresses.get(rg, n.service_ip(role)),
                              f"reading public IP {n.service_ip(role)}"))
        nic = rest(get_or_none(lambda: net.network_interfaces.get(rg, f"{n.vm(role)}-nic"), "reading the NIC"))
        vm = rest(get_or_none(lambda: compute.virtual_machines.get(rg, n.vm(role)), f"reading VM {n.vm(role)}"))
        configs = lookup(nic, "properties.ipConfigurations", []) or []
        attached = lookup(configs[0], "properties.publicIPAddress.id", "") if configs else ""
        return {"ip": ip, "nic": nic, "vm": vm, "attached": str(attached or "")}

    def _due(self, ctx: Context, role: str, vm: dict[str, Any] | None, address: str | None) -> str:
        """Why the VM's settings must be delivered again ('' when it has today's)."""
        if vm is None:
            return ""
        at = where(ctx.names, role, address, ctx.login_server.partition(".")[2])
        cert, ca = ctx.secrets.get(keys.tls_cert(role)), ctx.secrets.get(keys.TLS_CA_CERT)
        renew = tls.why_renew(cert, ca, [at.dns], list(at.ips)) if ca else "no install CA yet"
        if renew:
            return f"new TLS certificate ({renew})"
        values = {k: ctx.secrets.get(k) for k in role_secrets(role, ctx.answers.scale_to_zero)}
        if any(v is None for v in values.values()):
            return "credentials the keyring lacks are made"
        key = ctx.secrets.get(keys.tls_key(role))
        digest = conf_digest(role, {**{k: str(v) for k, v in values.items()}, "ca": ca or "", "cert": cert or "",
                                    "key": key or ""})
        return "" if (vm.get("tags") or {}).get(CONF_TAG) == digest else "credentials or certificate changed"

    def observe(self, ctx: Context) -> Observation:
        """Public IPs as ``client_cidrs`` wants them (attached to the VMs' NICs), and each VM's settings current?"""
        public, n = ctx.answers.public_services, ctx.names
        res: list[Resource] = []
        changes: list[str] = []
        create = False
        for role in ROLES:
            got = self._read(ctx, role)
            ip, label = got["ip"], LABELS[role]
            address = lookup(ip, "properties.ipAddress") if ip and public else None
            ctx.facts.service_fqdns[role] = str(lookup(ip, "properties.dnsSettings.fqdn", "") or "") or \
                where(n, role, None, ctx.login_server.partition(".")[2]).dns
            if address:
                ctx.facts.service_public_ips[role] = str(address)
            if public:
                res.append(Resource(f"public IP (Standard, static) of {label}, DNS {ctx.facts.service_fqdns[role]}",
                                    n.service_ip(role), lookup(ip, "id", ""), cost_item=COST_ITEMS[role]))
                if ip is None:
                    create = True
                    changes.append(f"{label}: public IP {n.service_ip(role)} ({ctx.facts.service_fqdns[role]})")
                elif got["attached"].lower() != str(ip["id"]).lower() or tags_missing(ip.get("tags"), ctx.tags):
                    changes.append(f"{label}: attach public IP {n.service_ip(role)}")
            elif ip is not None or got["attached"]:
                changes.append(f"{label}: remove public IP {n.service_ip(role)} (reachable inside the VNet only)")
            due = self._due(ctx, role, got["vm"], str(address) if address else None)
            if due or (public and ip is None and got["vm"] is not None):
                changes.append(f"{label}: deliver settings ({due or 'a certificate naming the new public IP'}, "
                               "Run Command)")
        if not public:
            detail = ("experimenters reach RabbitMQ and the file server only inside the VNet (client_cidrs is empty): "
                      "peer their network with the install's VNet or connect it by VPN")
        else:
            detail = f"from {', '.join(ctx.answers.client_cidrs)} to AMQPS {vmconfig.AMQPS_PORT} and S3 HTTPS " \
                     f"{vmconfig.S3_HTTPS_PORT} only"
        if not changes:
            return Observation(NONE, detail, res)
        return Observation(CREATE if create else UPDATE, "; ".join(changes), res)

    def apply(self, ctx: Context, obs: Observation) -> None:
        """Per service: public IP made and attached (or detached and deleted), then its settings delivered."""
        for role in ROLES:
            ctx.check_stop()
            got = self._read(ctx, role)
            address = None
            if ctx.answers.public_services:
                address = self._public_ip(ctx, role, got)
            else:
                self._remove(ctx, role, got)
            if got["vm"] is not None and self._due(ctx, role, got["vm"], address):
                self._deliver(ctx, role, got["vm"], address)

    def converge_settings(self, ctx: Context, role: str) -> bool:
        """Deliver the role's settings if its VM lacks today's (rotation uses this); whether it delivered."""
        got = self._read(ctx, role)
        address = lookup(got["ip"], "properties.ipAddress") if got["ip"] and got["attached"] else None
        if got["vm"] is None or not self._due(ctx, role, got["vm"], address):
            return False
        self._deliver(ctx, role, got["vm"], address)
        return True

    def _public_ip(self, ctx: Context, role: str, got: dict[str, Any]) -> str | None:
        net = ctx.clients.network(ctx.subscription_id)
        rg, name = ctx.names.registry_rg, ctx.names.service_ip(role)
        ip = got["ip"]
        if ip is None or tags_missing(ip.get("tags"), ctx.tags):
            ip = rest(ctx.wait(self.key, lambda: net.public_ip_addresses.begin_create_or_update(
                rg, name, _public_ip_body(ctx, role, (ip or {}).get("tags") or {})), f"creating public IP {name}"))
        assert ip is not None
        ctx.facts.service_fqdns[role] = str(lookup(ip, "properties.dnsSettings.fqdn", ctx.facts.service_fqdns.get(
            role, "")))
        if got["nic"] is not None and got["attached"].lower() != str(ip["id"]).lower():
            self._put_nic(ctx, got["nic"], {"id": ip["id"]}, f"attaching {name}")
        address = lookup(ip, "properties.ipAddress")
        if address:
            ctx.facts.service_public_ips[role] = str(address)
        return str(address) if address else None

    def _remove(self, ctx: Context, role: str, got: dict[str, Any]) -> None:
        """Detach first (Azure refuses to delete an IP in use), then delete."""
        net = ctx.clients.network(ctx.subscription_id)
        rg, name = ctx.names.registry_rg, ctx.names.service_ip(role)
        if got["nic"] is not None and got["attached"]:
            self._put_nic(ctx, got["nic"], None, f"detaching {name}")
        if got["ip"] is not None:
            ctx.wait(self.key, lambda: net.public_ip_addresses.begin_delete(rg, name), f"deleting public IP {name}")
        ctx.facts.service_public_ips.pop(role, None)

    def _put_nic(self, ctx: Context, nic: dict[str, Any], public: dict[str, str] | None, what: str) -> None:
        net = ctx.clients.network(ctx.subscription_id)
        configs = [dict(c) for c in lookup(nic, "properties.ipConfigurations", [])]
        props = dict(configs[0].get("properties") or {})
        if public:
            props["publicIPAddress"] = public
        else:
            props.pop("publicIPAddress", None)
        configs[0] = {**configs[0], "properties": props}
        body = NetworkInterface({"location": nic["location"], "tags": nic.get("tags") or {},
                                 "properties": {**nic["properties"], "ipConfigurations": configs}})
        ctx.wait(self.key, lambda: net.network_interfaces.begin_create_or_update(
            ctx.names.registry_rg, nic["name"], body), what)

    def _deliver(self, ctx: Context, role: str, vm: dict[str, Any], address: str | None) -> None:
        """Settings to the VM (Run Command), its configure script run and its check passed, then the tag."""
        at = where(ctx.names, role, address, ctx.login_server.partition(".")[2])
        values = secret_inputs(role, ctx.secrets, ctx.names.uniq_id, at,  # a due certificate is issued here
                               ctx.answers.scale_to_zero)
        name = ctx.names.vm(role)
        ctx.emit(StepProgress(self.key, f"{name}: writing its credentials and TLS certificate, then reconfiguring "
                                        "(Run Command)"))
        out = run_shell(ctx, self.key, name, vmconfig.delivery_script(settings(role, values, at))
                        + health.check_script(role), f"configuring {name} (Run Command)")
        found = health.parse(name, role, out)
        if not found.ok:
            raise RefusedError(health.diagnose(found) + (f"; {found.tls}" if found.tls else ""),
                               "read the VM's boot log (portal: Run command: tail -n 50 "
                               f"{vmconfig.BOOT_LOG}), fix the cause, then run apply again")
        compute = ctx.clients.compute(ctx.subscription_id)
        tags = {**(vm.get("tags") or {}), CONF_TAG: conf_digest(role, values)}
        ctx.wait(self.key, lambda: compute.virtual_machines.begin_update(
            ctx.names.registry_rg, name, VirtualMachineUpdate({"tags": tags})), f"tagging {name}")
        ctx.emit(StepProgress(self.key, f"{name}: {found.tls or found.protocol}"))
