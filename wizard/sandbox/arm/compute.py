"""Microsoft.Compute in the sandbox: virtual machines (booted by :mod:`..guest`, and Run Command), resource SKUs,
usages and VM sizes."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from aiohttp import web

from .. import guest
from . import catalog, quota
from .base import ArmError, json_response, now_iso
from .provider import Call, Ref, ResourceType, base_body, normalize_location

NAMESPACE = "Microsoft.Compute"


class VirtualMachines(ResourceType):
    """Microsoft.Compute/virtualMachines."""

    namespace = NAMESPACE
    types = ("virtualMachines",)
    create_seconds, update_seconds, delete_seconds = 120.0, 30.0, 60.0

    def build(self, call: Call, ref: Ref, body: dict[str, Any], existing: dict[str, Any] | None
              ) -> dict[str, Any]:
        """Check size, NICs and quota; never keep the password or custom data readable."""
        sbx = call.sbx
        out = base_body(ref, body, existing)
        props = out["properties"]
        location = out["location"]
        size = (props.get("hardwareProfile") or {}).get("vmSize")
        if not size:
            raise ArmError(400, "InvalidParameter", "Required parameter 'hardwareProfile.vmSize' is missing.",
                           target="hardwareProfile.vmSize")
        quota.require_size(sbx, size, location, "hardwareProfile.vmSize")
        nics = (props.get("networkProfile") or {}).get("networkInterfaces") or []
        if not nics:
            raise ArmError(400, "InvalidParameter", "At least one network interface is required.",
                           target="networkProfile.networkInterfaces")
        for nic_ref in nics:
            nic = sbx.get_resource(nic_ref.get("id", ""))
            if nic is None:
                raise ArmError(400, "InvalidParameter", f"Resource {nic_ref.get('id')} was not found.",
                               target="networkProfile.networkInterfaces")
            if nic["location"] != location:
                raise ArmError(400, "InvalidParameter", f"NIC {nic['id']} is in {nic['location']}; the VM is in "
                               f"{location}.", target="networkProfile.networkInterfaces")
            owner = nic["body"]["properties"].get("virtualMachine")
            if owner and owner["id"].lower() != ref.id.lower() and sbx.get_resource(owner["id"]):
                raise ArmError(409, "NicInUse", f"Network interface {nic['id']} is attached to {owner['id']}.")
        os_profile = props.get("osProfile")
        if existing is None:
            if not os_profile or not os_profile.get("adminUsername"):
                raise ArmError(400, "InvalidParameter", "Required parameter 'osProfile.adminUsername' is missing.",
                               target="osProfile.adminUsername")
            linux = os_profile.get("linuxConfiguration") or {}
            keys = (linux.get("ssh") or {}).get("publicKeys") or []
            if not os_profile.get("adminPassword") and not keys:
                raise ArmError(400, "InvalidParameter", "Either an admin password or an SSH public key is required.",
                               target="osProfile")
            quota.check(sbx, ref.sub, location, [(size, 1, False)], ref.id, status=409, code="OperationNotAllowed")
        custom = (os_profile or {}).get("customData")
        if existing is not None and custom is not None and existing.get("custom_data_sha") != _sha(custom):
            # "Custom data is passed to the VM at creation time" and the property cannot change afterwards.
            raise ArmError(409, "PropertyChangeNotAllowed", "Changing property 'customData' is not allowed.",
                           target="osProfile.customData")
        if os_profile:
            props["osProfile"] = {k: v for k, v in os_profile.items() if k not in ("adminPassword", "customData")}
            props["osProfile"].setdefault("computerName", ref.name)
        elif existing:
            props["osProfile"] = existing["body"]["properties"].get("osProfile")
        old = (existing or {}).get("body", {}).get("properties", {})
        props["vmId"] = old.get("vmId") or str(uuid.uuid4())
        props["timeCreated"] = old.get("timeCreated") or now_iso()
        return out

    def actions(self) -> dict[str, Any]:
        """Run Command (the action form: ``POST .../runCommand``)."""
        return {"runcommand": self.run_command}

    def after_put(self, call: Call, ref: Ref, rec: dict[str, Any], created: bool) -> None:
        """Attach the NICs to this VM; a new VM's guest boots from its customData once the create finishes."""
        for nic_ref in rec["body"]["properties"]["networkProfile"]["networkInterfaces"]:
            nic = call.sbx.get_resource(nic_ref["id"])
            if nic:
                nic["body"]["properties"]["virtualMachine"] = {"id": ref.id}
        if created:
            custom = ((call.json_body().get("properties") or {}).get("osProfile") or {}).get("customData")
            rec["custom_data_sha"] = _sha(custom) if custom else None
            guest.vm_created(call.sbx, rec, custom, float(rec.get("busy_until") or call.sbx.now()))

    def run_command(self, call: Call, ref: Ref, _: dict[str, Any]) -> web.Response:
        """POST runCommand: RunShellScript on a running Linux VM, one at a time; a long-running operation whose
        result (``final-state-via: location``) is the script's RunCommandResult."""
        sbx = call.sbx
        rec = sbx.get_resource(ref.id)
        if rec is None:
            raise ArmError(404, "ResourceNotFound", f"The Resource 'Microsoft.Compute/virtualMachines/{ref.name}' "
                           f"under resource group '{ref.rg}' was not found.")
        body = call.json_body()
        if body.get("commandId") != "RunShellScript":
            raise ArmError(400, "InvalidParameter", f"The command id {body.get('commandId')!r} is not valid for a "
                           "Linux VM; use RunShellScript.", target="commandId")
        if sbx.provisioning_state(rec) != "Succeeded":
            raise ArmError(409, "OperationNotAllowed", f"Run command is not allowed while the VM is "
                           f"{sbx.provisioning_state(rec)}.")
        busy = [op for op in sbx.store.operations.values() if op.get("kind") == "runcommand"
                and op.get("resource_id", "").lower() == ref.id.lower() and sbx.op_status(op) == "InProgress"]
        if busy:
            raise ArmError(409, "Conflict", "Run command extension execution is in progress. Please wait for "
                           "completion before invoking a run command.")
        script = [str(line) for line in body.get("script") or []]
        seconds, result = guest.run_command(sbx, ref.id, script)
        op = sbx.start_operation(sub=ref.sub, namespace=NAMESPACE, location=rec["location"],
                                 seconds=seconds * sbx.speed, resource_id=ref.id, kind="runcommand", result=result,
                                 api_version=call.api_version, can_fail=False)
        sbx.store.save()
        return json_response(None, status=202, headers=sbx.op_headers(op, async_header=True, location=True))

    def before_delete(self, call: Call, ref: Ref, rec: dict[str, Any]) -> None:
        """Detach NICs (they remain, as in Azure, unless deleteOption says otherwise); the guest goes."""
        guest.vm_deleted(call.sbx, ref.id)
        for nic_ref in rec["body"]["properties"]["networkProfile"]["networkInterfaces"]:
            nic = call.sbx.get_resource(nic_ref["id"])
            if nic:
                nic["body"]["properties"].pop("virtualMachine", None)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def list_skus(call: Call) -> web.Response:
    """GET /providers/Microsoft.Compute/skus (optionally $filter=location eq 'x')."""
    flt = call.query.get("$filter", "")
    only = None
    if flt:
        parts = flt.replace("'", "").split()
        if len(parts) == 3 and parts[0].lower() == "location" and parts[1].lower() == "eq":
            only = normalize_location(parts[2])
        else:
            raise ArmError(400, "InvalidFilter", f"Unsupported $filter '{flt}'. Only \"location eq '<region>'\" "
                           "is supported.", target="$filter")
    items = [catalog.sku_entry(size, region) for size in catalog.SIZES for region in size[5]
             if only is None or region == only]
    return json_response({"value": items})


def _require_region(location: str) -> str:
    loc = normalize_location(location)
    if loc not in catalog.REGION_NAMES:
        raise ArmError(404, "NoRegisteredProviderFound", f"No registered resource provider found for location "
                       f"'{location}'.", target="location")
    return loc


def list_usages(call: Call, sub: str, location: str) -> web.Response:
    """GET /locations/{location}/usages."""
    return json_response({"value": quota.usage_list(call.sbx, sub, _require_region(location))})


def list_vm_sizes(call: Call, location: str) -> web.Response:
    """GET /locations/{location}/vmSizes."""
    loc = _require_region(location)
    return json_response({"value": [
        {"name": s[0], "numberOfCores": s[2], "osDiskSizeInMB": 1047552, "resourceDiskSizeInMB": s[2] * 8192,
         "memoryInMB": int(s[3] * 1024), "maxDataDiskCount": min(64, s[2] * 2)}
        for s in catalog.SIZES if loc in s[5]]})
