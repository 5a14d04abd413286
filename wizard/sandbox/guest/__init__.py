"""Inside the sandbox's VMs: cloud-init at boot, a shell with Ubuntu's programs, the services they start, and what
reaches them. A VM's guest boots when its create finishes (evaluated at once, its events stamped with the simulated
moments they happen); Run Command runs a script in it as root, as the RunShellScript command does.

Run Command ("Run scripts in your Linux VM by using action Run Commands", Learn): one script at a time per VM (a
second is refused while one runs); the output returned is the last 4,096 bytes of stdout and of stderr, in one
``InstanceViewStatus`` whose message reads ``Enable succeeded: \\n[stdout]\\n...\\n[stderr]\\n...`` (recorded az
output); a script that exits non-zero is reported as the extension reports a failed command (``Enable failed: failed
to execute command: command terminated with exit status=N``, as the Linux extensions word it).
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..arm.base import Sandbox
from . import boot, checks, files, programs
from .machine import Machine, guests
from .shell import Program, Shell

RUN_COMMAND_SECONDS = 25.0  # the extension's own start-up on a real VM, before the script runs
OUTPUT_LIMIT = 4096


def _programs() -> dict[str, Program]:
    table: dict[str, Program] = dict(files.FILE_PROGRAMS)
    table.update({
        "apt-get": programs.apt_get, "apt": programs.apt_get, "curl": programs.curl, "wget": programs.wget,
        "md5sum": programs.checksum(hashlib.md5, "md5sum"), "sha256sum": programs.checksum(hashlib.sha256, "sha256sum"),
        "tar": programs.tar, "systemctl": programs.systemctl, "rabbitmqctl": programs.rabbitmqctl,
        "cloud-init": programs.cloud_init, "timeout": programs.timeout, "python3": programs.python3,
    })
    return table


PROGRAMS = _programs()


def vm_created(sbx: Sandbox, vm: dict[str, Any], custom_data: str | None, boot_at: float) -> None:
    """A new VM: its guest boots at ``boot_at`` (when its create finishes) from ``custom_data`` (base64)."""
    props = vm["body"]["properties"]
    luns = [d.get("lun") for d in (props.get("storageProfile") or {}).get("dataDisks") or []]
    guests(sbx)[vm["id"].lower()] = {
        "vm_id": vm["id"], "hostname": (props.get("osProfile") or {}).get("computerName", vm["body"]["name"]),
        "boot_at": boot_at, "custom_data": custom_data or "", "luns": luns, "booted": False, "events": []}


def vm_deleted(sbx: Sandbox, vm_id: str) -> None:
    """The VM is gone, and its disk's contents with it."""
    guests(sbx).pop(vm_id.lower(), None)


def tick(sbx: Sandbox) -> None:
    """Boot every guest whose VM has come up; forget those whose VM went with its resource group."""
    for key, guest in list(guests(sbx).items()):
        if sbx.get_resource(str(guest["vm_id"])) is None:
            guests(sbx).pop(key, None)
        elif not guest.get("booted") and sbx.now() >= float(guest["boot_at"]):
            boot.run(sbx, guest, PROGRAMS)
            sbx.store.data["_dirty"] = True


def machine(sbx: Sandbox, vm_id: str, t: float | None = None) -> Machine | None:
    """The guest of a VM as it is at ``t`` (now by default), booting it first if its time has come."""
    guest = guests(sbx).get(vm_id.lower())
    if guest is None:
        return None
    if not guest.get("booted") and sbx.now() >= float(guest["boot_at"]):
        boot.run(sbx, guest, PROGRAMS)
    return Machine(sbx, guest, sbx.now() if t is None else t)


def run_command(sbx: Sandbox, vm_id: str, script: list[str]) -> tuple[float, dict[str, Any]]:
    """Run a RunShellScript script in the VM now: (how long it takes, the RunCommandResult body)."""
    m = machine(sbx, vm_id)
    if m is None:
        return 0.0, _result(1, "", "the VM has no guest the sandbox simulates\n")
    start = m.t
    m.advance(RUN_COMMAND_SECONDS)
    sh = Shell(m, PROGRAMS)
    code = sh.run_script("\n".join(script))
    sbx.store.data["_dirty"] = True
    return m.t - start, _result(code, "".join(sh.stdout), "".join(sh.stderr))


def _result(code: int, out: str, err: str) -> dict[str, Any]:
    out, err = out[-OUTPUT_LIMIT:], err[-OUTPUT_LIMIT:]
    if code == 0:
        status = {"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded",
                  "message": f"Enable succeeded: \n[stdout]\n{out}\n[stderr]\n{err}"}
    else:
        status = {"code": "ProvisioningState/failed/0", "level": "Error", "displayStatus": "Provisioning failed",
                  "message": f"Enable failed: failed to execute command: command terminated with exit status={code}"
                             f"\n[stdout]\n{out}\n[stderr]\n{err}"}
    return {"value": [status]}


__all__ = ["Machine", "checks", "machine", "run_command", "tick", "vm_created", "vm_deleted"]
