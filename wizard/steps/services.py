"""The service VMs: RabbitMQ, and the file server (S3, SeaweedFS: the role the seed's Minio had), each on Ubuntu 24.04
with a static private IP, made from cloud-init that installs, configures and checks the service, and verified through
VM Run Command (cloud-init's end, the service active, a protocol login on the VM) rather than assumed from Azure's
provisioning state. A VM that failed its check has its boot script run again on the next apply; one made from an
older configuration, or an earlier version's MinIO VM, is replaced."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.mgmt.compute.models import VirtualMachine, VirtualMachineUpdate
from azure.mgmt.network.models import NetworkInterface
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from .. import health, tls, vmconfig
from .. import secrets as keys
from ..catalog import service_sizes
from ..errors import RefusedError, WizardError
from ..events import StepProgress
from ..naming import Names
from .base import CREATE, NONE, UPDATE, Context, Observation, Resource, Step, get_or_none, lookup, rest, tags_missing
from .network import SERVICES_SUBNET, STATIC_IPS

IMAGE = {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"}
BOOT_TAG = "studioml-boot"
CONF_TAG = "studioml-conf"  # the digest of the settings (credentials, certificate) the VM was last given
LABELS = {"rabbitmq": "RabbitMQ", "files": "file server (S3)"}
SECRETS = {"rabbitmq": (keys.RABBITMQ_ADMIN, keys.RABBITMQ_USER, keys.RABBITMQ_EXPERIMENTER),
           "files": (keys.S3_ADMIN_KEY, keys.S3_ADMIN_SECRET, keys.S3_RUNNER_KEY, keys.S3_RUNNER_SECRET,
                     keys.S3_EXPERIMENTER_KEY, keys.S3_EXPERIMENTER_SECRET)}
DNS_SUFFIX = {"azurecr.io": "cloudapp.azure.com", "azurecr.cn": "cloudapp.chinacloudapi.cn",
              "azurecr.us": "cloudapp.usgovcloudapi.net"}
LEGACY_ROLE = "minio"  # the file server of earlier versions


def admin_public_key(store: keys.SecretStore) -> str:
    """The admin's own SSH public key (``~/.ssh``), else one generated for this install (private half in the
    keyring). Azure requires one; the NSG admits no SSH (Run Command replaces it)."""
    for name in ("id_ed25519.pub", "id_rsa.pub", "id_ecdsa.pub"):
        path = Path.home() / ".ssh" / name
        if path.is_file():
            return path.read_text().strip()

    def make() -> str:
        key = ed25519.Ed25519PrivateKey.generate()
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                 serialization.NoEncryption()).decode()

    private = serialization.load_ssh_private_key(store.ensure(keys.SSH_PRIVATE_KEY, make).encode(), None)
    public = private.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return public.decode() + " studioml-azure"


def s3_keys(store: keys.SecretStore, access: str, secret: str) -> vmconfig.S3Keys:
    """An S3 identity's keys from the keyring (made there first, and read back, when missing)."""
    return vmconfig.S3Keys(store.ensure(access, keys.access_key), store.ensure(secret, keys.random_password))


def fqdn(names: Names, role: str, login_server_suffix: str = "azurecr.io") -> str:
    """The DNS name of a service's public IP (its label in the home region, under the cloud's cloudapp zone): in its
    certificate always, so experimenters can be let in later without a new name."""
    zone = DNS_SUFFIX.get(login_server_suffix, DNS_SUFFIX["azurecr.io"])
    return f"{names.dns_label(role)}.{names.home_region}.{zone}"


@dataclass(frozen=True)
class Where:
    """What a service's certificate names: its DNS name and addresses (private, and public when it has one)."""

    dns: str
    ips: tuple[str, ...]


def where(names: Names, role: str, public_ip: str | None = None, suffix: str = "azurecr.io") -> Where:
    """The names and addresses a client or a runner reaches ``role`` by."""
    return Where(fqdn(names, role, suffix), (STATIC_IPS[role], *([public_ip] if public_ip else [])))


def role_secrets(role: str, keda: bool = False) -> tuple[str, ...]:
    """The keyring entries a role's settings are made from (with ``keda``, RabbitMQ's monitoring user for KEDA)."""
    return (*SECRETS[role], keys.RABBITMQ_KEDA) if keda and role == "rabbitmq" else SECRETS[role]


def secret_inputs(role: str, store: keys.SecretStore, uniq_id: str, at: Where, keda: bool = False) -> dict[str, str]:
    """Every secret a role's settings are made from (each from the keyring, made there first and read back when
    missing; the certificate issued when missing or due, see :func:`wizard.tls.why_renew`)."""
    if role == "rabbitmq":
        values = {k: store.ensure(k, keys.random_password) for k in role_secrets(role, keda)}
    else:
        values = {k: store.ensure(k, keys.access_key if k.endswith("access-key") else keys.random_password)
                  for k in SECRETS[role]}
    cert = tls.server_cert(store, uniq_id, role, [at.dns], list(at.ips))
    _ca_key, ca_pem = tls.ca(store, uniq_id)
    return {**values, "ca": ca_pem, "cert": cert.cert, "key": cert.key}


def settings(role: str, values: dict[str, str], at: Where) -> dict[str, tuple[str, str]]:
    """The role's settings files from its secret inputs."""
    material = vmconfig.Tls(values["ca"], values["cert"], values["key"], at.dns)
    if role == "rabbitmq":
        return vmconfig.rabbitmq_settings(values[keys.RABBITMQ_USER], values[keys.RABBITMQ_ADMIN],
                                          values[keys.RABBITMQ_EXPERIMENTER], material, values.get(keys.RABBITMQ_KEDA))
    def pair(access: str, secret: str) -> vmconfig.S3Keys:
        return vmconfig.S3Keys(values[access], values[secret])
    return vmconfig.files_settings(pair(keys.S3_ADMIN_KEY, keys.S3_ADMIN_SECRET),
                                   pair(keys.S3_RUNNER_KEY, keys.S3_RUNNER_SECRET),
                                   pair(keys.S3_EXPERIMENTER_KEY, keys.S3_EXPERIMENTER_SECRET), material)


def conf_digest(role: str, values: dict[str, str]) -> str:
    """The digest a VM's ``studioml-conf`` tag records: of the secret inputs (high-entropy, so it reveals nothing)
    and the configuration they go into."""
    return vmconfig.settings_digest({"role": (role, vmconfig.boot_digest(role)),
                                     **{k: (v, "") for k, v in sorted(values.items())}})


def cloud_config(role: str, store: keys.SecretStore, values: dict[str, str], at: Where) -> str:
    """The VM's cloud-config."""
    public = admin_public_key(store)
    files = settings(role, values, at)
    return vmconfig.rabbitmq(public, files) if role == "rabbitmq" else vmconfig.files(public, files)


def vm_body(role: str, names: Names, store: keys.SecretStore, nic_id: str, tags: dict[str, str],
            at: Where | None = None, keda: bool = False) -> dict[str, Any]:
    """The service VM's PUT body (the wizard sends it, and ``studioml-azure render`` prints it for the script)."""
    at = at or where(names, role)
    values = secret_inputs(role, store, names.uniq_id, at, keda)
    name = names.vm(role)
    storage: dict[str, Any] = {"imageReference": IMAGE, "osDisk": {
        "createOption": "FromImage", "deleteOption": "Delete", "managedDisk": {"storageAccountType": "Premium_LRS"}}}
    if role == "files":
        storage["dataDisks"] = [{"lun": 0, "name": f"{name}-data", "createOption": "Empty",
                                 "diskSizeGB": service_sizes()["files_data_disk_gb"], "deleteOption": "Detach",
                                 "managedDisk": {"storageAccountType": "Premium_LRS"}}]
    custom = base64.b64encode(cloud_config(role, store, values, at).encode()).decode()
    return {
        "location": names.home_region,
        "tags": {**tags, BOOT_TAG: vmconfig.boot_digest(role), CONF_TAG: conf_digest(role, values)},
        "properties": {
            "hardwareProfile": {"vmSize": str(service_sizes()[role])}, "storageProfile": storage,
            "osProfile": {"computerName": name, "adminUsername": vmconfig.ADMIN_USER, "customData": custom,
                          "linuxConfiguration": {"disablePasswordAuthentication": True, "ssh": {"publicKeys": [
                              {"path": f"/home/{vmconfig.ADMIN_USER}/.ssh/authorized_keys",
                               "keyData": admin_public_key(store)}]}}},
            "networkProfile": {"networkInterfaces": [{"id": nic_id, "properties": {"primary": True}}]}}}


def public_address(ctx: Context, role: str) -> str | None:
    """The address of the service's public IP, when it has one."""
    net = ctx.clients.network(ctx.subscription_id)
    ip = rest(get_or_none(lambda: net.public_ip_addresses.get(ctx.names.registry_rg, ctx.names.service_ip(role)),
                          f"reading public IP {ctx.names.service_ip(role)}"))
    return lookup(ip, "properties.ipAddress") if ip else None


def run_shell(ctx: Context, step: str, vm: str, lines: list[str], what: str) -> str:
    """Run a script in a service VM (RunShellScript) and return its stdout."""
    compute = ctx.clients.compute(ctx.subscription_id)
    result = ctx.wait(step, lambda: compute.virtual_machines.begin_run_command(
        ctx.names.registry_rg, vm, {"commandId": "RunShellScript", "script": lines}), what)
    message = str(result.value[0].message if result and result.value else "")
    return message.partition("[stdout]\n")[2].partition("\n[stderr]\n")[0]


class ServiceVm(Step):
    """One service VM (``rabbitmq`` or ``files``): NIC with a static IP in the services subnet, cloud-init from
    :mod:`wizard.vmconfig`."""

    def __init__(self, role: str) -> None:
        self.role = role
        self.key, self.title, self.needs = role, f"{LABELS[role][0].upper()}{LABELS[role][1:]} VM", ("network",)

    @property
    def size(self) -> str:
        """The VM size (the seed's recommendation)."""
        return str(service_sizes()[self.role])

    def _resources(self, ctx: Context, name: str) -> list[Resource]:
        label = "RabbitMQ" if self.role == "rabbitmq" else "file server"
        res = [Resource(f"VM {self.size}", name, cost_item=f"{label} VM"),
               Resource(f"network interface (static IP {STATIC_IPS[self.role]})", f"{name}-nic"),
               Resource("OS disk (30 GiB)", f"{name} OS disk", cost_item=f"{label} OS disk (30 GiB)")]
        if self.role == "files":
            gb = service_sizes()["files_data_disk_gb"]
            res.append(Resource(f"data disk {gb} GiB (Premium SSD)", f"{name}-data",
                                cost_item=f"file server data disk ({gb} GiB)"))
        return res

    def observe(self, ctx: Context) -> Observation:
        """VM there, made from today's configuration, tagged, its secrets in the keyring, its last check passed?"""
        name, rg = ctx.names.vm(self.role), ctx.names.registry_rg
        compute = ctx.clients.compute(ctx.subscription_id)
        ctx.facts.service_ips[self.role] = STATIC_IPS[self.role]
        res = self._resources(ctx, name)
        vm = rest(get_or_none(lambda: compute.virtual_machines.get(rg, name), f"reading VM {name}"))
        legacy = None
        if self.role == "files":
            legacy = rest(get_or_none(lambda: compute.virtual_machines.get(rg, ctx.names.vm(LEGACY_ROLE)),
                                      "reading the MinIO VM of an earlier version"))
        retire = (f"; replaces MinIO VM {ctx.names.vm(LEGACY_ROLE)} (MinIO is archived and its downloads are gone): "
                  "it is deleted with its NIC; its data disk is kept, detached: the wizard put no data there"
                  if legacy else "")
        if vm is None:
            return Observation(CREATE, f"{self.size} at {STATIC_IPS[self.role]}{retire}", res, {"legacy": legacy})
        res[0].id = vm["id"]
        ctx.facts.vm_ids[self.role] = lookup(vm, "properties.vmId")
        missing = [k for k in SECRETS[self.role] if ctx.secrets.get(k) is None]
        if missing:
            raise WizardError(f"VM {name} exists but the keyring holds none of its credentials "
                              f"({', '.join(missing)}).",
                              f"restore the keyring, or delete VM {name} (and its NIC) and run again to remake it")
        if lookup(vm, "properties.hardwareProfile.vmSize") != self.size:
            ctx.warn(self.key, f"{name} is {lookup(vm, 'properties.hardwareProfile.vmSize')}, not {self.size}; "
                               "left as it is (resizing restarts it)")
        tags = vm.get("tags") or {}
        digest = vmconfig.boot_digest(self.role)
        if tags.get(BOOT_TAG) != digest:
            lost = "; its queues' messages are lost" if self.role == "rabbitmq" else "; its data disk is kept"
            return Observation(UPDATE, f"replace: made from an earlier configuration ({tags.get(BOOT_TAG, 'none')} -> "
                               f"{digest}); re-created with the same NIC and IP{lost}", res,
                               {"replace": True, "tags": tags})
        last = health.book(ctx.state, ctx.names.uniq_id).get(f"vm:{name}")
        if last and not last.get("ok") and last.get("vm_id") == ctx.facts.vm_ids.get(self.role):
            return Observation(UPDATE, "run its boot script again (last check: not serving)", res,
                               {"rerun": True, "tags": tags})
        if tags_missing(tags, ctx.tags):
            return Observation(UPDATE, "tags", res, {"tags": tags})
        return Observation(NONE, "", res)

    def apply(self, ctx: Context, obs: Observation) -> None:
        """Retire or replace what must go; then re-run the boot script, re-tag, or make the NIC and VM."""
        compute = ctx.clients.compute(ctx.subscription_id)
        name, rg = ctx.names.vm(self.role), ctx.names.registry_rg
        if obs.data.get("legacy"):
            self._retire_minio(ctx)
        if obs.data.get("replace"):
            ctx.wait(self.key, lambda: compute.virtual_machines.begin_delete(rg, name), f"deleting VM {name}")
        elif obs.data.get("rerun"):
            ctx.emit(StepProgress(self.key, f"running the boot script of {name} again (Run Command)"))
            run_shell(ctx, self.key, name, health.rerun_script(), f"re-running the boot script on {name}")
            ctx.facts.recheck.add(self.key)
            return
        elif obs.action == UPDATE:
            ctx.wait(self.key, lambda: compute.virtual_machines.begin_update(rg, name, VirtualMachineUpdate({
                "tags": {**obs.data.get("tags", {}), **ctx.tags}})), f"tagging {name}")
            return
        self._create(ctx)

    def _create(self, ctx: Context) -> None:
        """Credentials to the keyring (read back), the NIC, then the VM with cloud-init as customData."""
        compute, net = ctx.clients.compute(ctx.subscription_id), ctx.clients.network(ctx.subscription_id)
        name, rg = ctx.names.vm(self.role), ctx.names.registry_rg
        nic = rest(get_or_none(lambda: net.network_interfaces.get(rg, f"{name}-nic"), "reading the NIC"))
        if nic is None:
            body = NetworkInterface({"location": ctx.names.home_region, "tags": ctx.tags, "properties": {
                "ipConfigurations": [{"name": "ipconfig1", "properties": {
                    "subnet": {"id": ctx.facts.network_services_subnet_id},
                    "privateIPAllocationMethod": "Static", "privateIPAddress": STATIC_IPS[self.role]}}]}})
            nic = rest(ctx.wait(self.key, lambda: net.network_interfaces.begin_create_or_update(
                rg, f"{name}-nic", body), f"creating {name}-nic"))
        assert nic is not None
        at = where(ctx.names, self.role, public_address(ctx, self.role), ctx.login_server.partition(".")[2])
        vm = VirtualMachine(vm_body(self.role, ctx.names, ctx.secrets, nic["id"], ctx.tags, at,
                                    ctx.answers.scale_to_zero))
        made = rest(ctx.wait(self.key, lambda: compute.virtual_machines.begin_create_or_update(rg, name, vm),
                             f"creating VM {name}"))
        ctx.facts.vm_ids[self.role] = lookup(made, "properties.vmId")

    def _retire_minio(self, ctx: Context) -> None:
        """An earlier version's MinIO VM: delete it and its NIC (which holds the file server's IP); its data disk
        stays; then its keyring entries, which nothing uses any more."""
        compute, net = ctx.clients.compute(ctx.subscription_id), ctx.clients.network(ctx.subscription_id)
        old, rg = ctx.names.vm(LEGACY_ROLE), ctx.names.registry_rg
        ctx.wait(self.key, lambda: compute.virtual_machines.begin_delete(rg, old), f"deleting MinIO VM {old}")
        if get_or_none(lambda: net.network_interfaces.get(rg, f"{old}-nic"), "reading the MinIO NIC") is not None:
            ctx.wait(self.key, lambda: net.network_interfaces.begin_delete(rg, f"{old}-nic"), f"deleting {old}-nic")
        for key in keys.LEGACY:
            ctx.secrets.delete(key)
        ctx.warn(self.key, f"MinIO VM {old} is replaced by the file server; its data disk {old}-data (if it exists) "
                           f"is kept, detached: delete it once checked (az disk delete -g {rg} -n {old}-data)")

    def verify(self, ctx: Context) -> None:
        """The VM serves: checked through Run Command unless the last check passed for this very VM and
        configuration and nothing was done to it since."""
        name = ctx.names.vm(self.role)
        self._wait_idle(ctx, name)
        book = health.book(ctx.state, ctx.names.uniq_id)
        vm_id, digest = ctx.facts.vm_ids.get(self.role), vmconfig.boot_digest(self.role)
        last = book.get(f"vm:{name}")
        if last and last.get("ok") and last.get("vm_id") == vm_id and last.get("boot") == digest \
                and self.key not in ctx.facts.recheck:
            return
        ctx.emit(StepProgress(self.key, f"checking {name}: cloud-init, {vmconfig.SERVICE_UNITS[self.role]}, and a "
                                        f"login over {health.PROTOCOL[self.role].upper()} (Run Command; up to "
                                        f"{health.CLOUD_INIT_WAIT // 60} min while it boots)"))
        out = run_shell(ctx, self.key, name, health.check_script(self.role), f"checking {name} (Run Command)")
        found = health.parse(name, self.role, out)
        found.vm_id, found.boot = str(vm_id or ""), digest
        book.put(f"vm:{name}", found.as_dict())
        if not found.ok:
            raise RefusedError(health.diagnose(found) + ("\n  last lines of its boot log:\n    "
                                                         + "\n    ".join(found.log[-6:]) if found.log else ""),
                               self._next_step(ctx, found))
        ctx.emit(StepProgress(self.key, f"{name}: {found.protocol}"))

    def _wait_idle(self, ctx: Context, name: str) -> None:
        """A VM another run left being made (or updated) is waited for: Run Command needs it provisioned."""
        compute = ctx.clients.compute(ctx.subscription_id)
        while True:
            vm = rest(get_or_none(lambda: compute.virtual_machines.get(ctx.names.registry_rg, name),
                                  f"reading VM {name}"))
            state = lookup(vm, "properties.provisioningState", "")
            if vm is None or state not in ("Creating", "Updating", "Deleting"):
                if vm is not None:
                    ctx.facts.vm_ids[self.role] = lookup(vm, "properties.vmId")
                return
            ctx.emit(StepProgress(self.key, f"VM {name}: {state}"))
            ctx.sleep(ctx.poll_seconds)

    def _next_step(self, ctx: Context, found: health.VmHealth) -> str:
        why = health.diagnose(found)
        again = "then run apply again: the VM's boot script runs again, nothing is re-made"
        if "no outbound" in why:
            net = ctx.clients.network(ctx.subscription_id)
            subnet = rest(get_or_none(lambda: net.subnets.get(ctx.names.registry_rg, ctx.names.vnet, SERVICES_SUBNET),
                                      "reading the services subnet"))
            nat = lookup(subnet, "properties.natGateway.id")
            where = (f"subnet {SERVICES_SUBNET} has NAT gateway {str(nat).rsplit('/', 1)[-1]}: check it has its public "
                     "IP and that no route table or firewall sends 0.0.0.0/0 elsewhere" if nat else
                     f"subnet {SERVICES_SUBNET} has no NAT gateway (run apply again: it attaches "
                     f"{ctx.names.nat})")
            return f"the VM needs outbound internet for apt and its download: {where}; {again}"
        if "HTTP" in why:
            return ("the pinned download is not served there any more: update studioml-azure (it pins the version "
                    f"it installs), {again}")
        if "checksum" in why:
            return f"do not use that download (broken or tampered); {again} later, and report it if it persists"
        return f"read the VM's boot log (portal: Run command: tail -n 50 {vmconfig.BOOT_LOG}), fix the cause, {again}"
