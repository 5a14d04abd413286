"""RabbitMQ and Minio on their own VMs with static private IPs; credentials generated into the keyring first."""

from __future__ import annotations

import base64
import string
from pathlib import Path

from azure.mgmt.compute.models import VirtualMachine, VirtualMachineUpdate
from azure.mgmt.network.models import NetworkInterface
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from .. import secrets as keys
from ..assets import asset_text
from ..catalog import service_sizes
from ..errors import WizardError
from .base import CREATE, NONE, UPDATE, Context, Observation, Resource, Step, get_or_none, lookup, rest, tags_missing
from .network import STATIC_IPS

ADMIN_USER = "studioml"
IMAGE = {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"}


def admin_public_key(ctx: Context) -> str:
    """The admin's own SSH public key (``~/.ssh``), else one generated for this install (private half in the
    keyring)."""
    for name in ("id_ed25519.pub", "id_rsa.pub", "id_ecdsa.pub"):
        path = Path.home() / ".ssh" / name
        if path.is_file():
            return path.read_text().strip()

    def make() -> str:
        key = ed25519.Ed25519PrivateKey.generate()
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                 serialization.NoEncryption()).decode()

    private = serialization.load_ssh_private_key(ctx.secrets.ensure(keys.SSH_PRIVATE_KEY, make).encode(), None)
    public = private.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return public.decode() + " studioml-azure"


class ServiceVm(Step):
    """One service VM (``rabbitmq`` or ``minio``): NIC with a static IP in the services subnet, Ubuntu 24.04,
    cloud-init from ``assets/cloud-init``."""

    def __init__(self, role: str) -> None:
        self.role = role
        self.key, self.title, self.needs = role, f"{role.capitalize()} VM", ("network",)
        self.secret_keys = ((keys.RABBITMQ_ADMIN, keys.RABBITMQ_USER) if role == "rabbitmq"
                            else (keys.MINIO_USER, keys.MINIO_PASSWORD))

    @property
    def size(self) -> str:
        """The VM size (the seed's recommendation)."""
        return str(service_sizes()[self.role])

    def observe(self, ctx: Context) -> Observation:
        """VM present with the size and tags? Its credentials in the keyring?"""
        name, rg = ctx.names.vm(self.role), ctx.names.registry_rg
        ctx.facts[f"{self.role}.ip"] = STATIC_IPS[self.role]
        label = "RabbitMQ" if self.role == "rabbitmq" else "Minio"
        disk_gb = service_sizes()["minio_data_disk_gb"]
        res = [Resource(f"VM {self.size}", name, cost_item=f"{label} VM"),
               Resource(f"network interface (static IP {STATIC_IPS[self.role]})", f"{name}-nic"),
               Resource("OS disk (30 GiB)", f"{name} OS disk", cost_item=f"{label} OS disk (30 GiB)")]
        if self.role == "minio":
            res.append(Resource(f"data disk {disk_gb} GiB (Premium SSD)", f"{name}-data",
                                cost_item=f"Minio data disk ({disk_gb} GiB)"))
        vm = rest(get_or_none(lambda: ctx.clients.compute(ctx.subscription_id).virtual_machines.get(rg, name),
                              f"reading VM {name}"))
        if vm is None:
            return Observation(CREATE, f"{self.size} at {STATIC_IPS[self.role]}", res)
        res[0].id = vm["id"]
        missing = [k for k in self.secret_keys if ctx.secrets.get(k) is None]
        if missing:
            raise WizardError(f"VM {name} exists but the keyring holds none of its credentials "
                              f"({', '.join(missing)}).",
                              f"restore the keyring, or delete VM {name} (and its NIC) and run again to remake it")
        if lookup(vm, "properties.hardwareProfile.vmSize") != self.size:
            ctx.warn(self.key, f"{name} is {lookup(vm, 'properties.hardwareProfile.vmSize')}, not {self.size}; "
                               "left as it is (resizing restarts it)")
        return Observation(UPDATE if tags_missing(vm.get("tags"), ctx.tags) else NONE, "", res,
                           {"tags": vm.get("tags") or {}})

    def _cloud_init(self, ctx: Context) -> str:
        values = {"ADMIN_USER": ADMIN_USER, "PUBLIC_KEY": admin_public_key(ctx)}
        if self.role == "rabbitmq":
            values["RMQ_ADMIN_PASSWORD"] = ctx.secrets.ensure(keys.RABBITMQ_ADMIN, keys.random_password)
            values["RMQ_USER_PASSWORD"] = ctx.secrets.ensure(keys.RABBITMQ_USER, keys.random_password)
        else:
            values["MINIO_ROOT_USER"] = ctx.secrets.ensure(keys.MINIO_USER, lambda: "studioml-"
                                                           + keys.random_password(12).lower().replace("_", "x"))
            values["MINIO_ROOT_PASSWORD"] = ctx.secrets.ensure(keys.MINIO_PASSWORD, keys.random_password)
        return string.Template(asset_text("cloud-init", f"{self.role}.yaml")).safe_substitute(values)

    def apply(self, ctx: Context, obs: Observation) -> None:
        """Credentials to the keyring (read back), the NIC, then the VM with cloud-init as customData."""
        compute, net = ctx.clients.compute(ctx.subscription_id), ctx.clients.network(ctx.subscription_id)
        name, rg = ctx.names.vm(self.role), ctx.names.registry_rg
        if obs.action == UPDATE:
            ctx.wait(self.key, compute.virtual_machines.begin_update(rg, name, VirtualMachineUpdate({
                "tags": {**obs.data.get("tags", {}), **ctx.tags}})), f"tagging {name}")
            return
        user_data = base64.b64encode(self._cloud_init(ctx).encode()).decode()
        nic = rest(get_or_none(lambda: net.network_interfaces.get(rg, f"{name}-nic"), "reading the NIC"))
        if nic is None:
            nics = net.network_interfaces
            nic = rest(ctx.wait(self.key, nics.begin_create_or_update(rg, f"{name}-nic", NetworkInterface({
                "location": ctx.names.home_region, "tags": ctx.tags, "properties": {"ipConfigurations": [{
                    "name": "ipconfig1", "properties": {
                        "subnet": {"id": ctx.facts["network.services_subnet_id"]},
                        "privateIPAllocationMethod": "Static", "privateIPAddress": STATIC_IPS[self.role]}}]}})),
                f"creating {name}-nic"))
        assert nic is not None
        storage: dict[str, object] = {"imageReference": IMAGE, "osDisk": {
            "createOption": "FromImage", "deleteOption": "Delete",
            "managedDisk": {"storageAccountType": "Premium_LRS"}}}
        if self.role == "minio":
            storage["dataDisks"] = [{"lun": 0, "name": f"{name}-data", "createOption": "Empty",
                                     "diskSizeGB": service_sizes()["minio_data_disk_gb"], "deleteOption": "Detach",
                                     "managedDisk": {"storageAccountType": "Premium_LRS"}}]
        ctx.wait(self.key, compute.virtual_machines.begin_create_or_update(rg, name, VirtualMachine({
            "location": ctx.names.home_region, "tags": ctx.tags, "properties": {
                "hardwareProfile": {"vmSize": self.size}, "storageProfile": storage,
                "osProfile": {"computerName": name, "adminUsername": ADMIN_USER, "customData": user_data,
                              "linuxConfiguration": {"disablePasswordAuthentication": True, "ssh": {"publicKeys": [
                                  {"path": f"/home/{ADMIN_USER}/.ssh/authorized_keys",
                                   "keyData": admin_public_key(ctx)}]}}},
                "networkProfile": {"networkInterfaces": [{"id": nic["id"], "properties": {"primary": True}}]}}})),
            f"creating VM {name}")

    def verify(self, ctx: Context) -> None:
        """The credentials are in the keyring."""
        for key in self.secret_keys:
            if ctx.secrets.get(key) is None:
                raise WizardError(f"{key} is missing from the keyring after creating the VM.", "run again")
