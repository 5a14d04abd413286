"""cloud-init on a sandbox VM: the VM's customData, run as Ubuntu 24.04's cloud-init runs a ``#cloud-config``.

Modules in the order of Ubuntu's ``cloud.cfg``: ``write_files`` (init stage, before any user but root exists: a file
owned by anyone else fails the module, as ``getpwnam()`` does there), ``disk_setup``/``fs_setup``/``mounts`` (a
device path must exist: ``/dev/disk/azure/scsi1/lun<N>`` only for a data disk at that LUN), ``users``/``groups``;
then in the final stage ``packages`` (apt, which needs outbound), ``write_files`` entries with ``defer: true``, and
``runcmd`` as one ``/bin/sh`` script whose exit status is that of its last command. Any failure makes ``cloud-init
status`` say ``error``, with the module and the error. Output goes to ``/var/log/cloud-init-output.log``.
Durations are real-VM seconds (about 40 s of boot before ``runcmd``), scaled by the sandbox's speed.
"""

from __future__ import annotations

import base64
from typing import Any

import yaml

from ..arm.base import Sandbox
from .machine import UBUNTU_USERS, Machine
from .shell import Shell

BOOT_SECONDS, FINAL_SECONDS = 30.0, 10.0


def _files(m: Machine, entries: list[dict[str, Any]], deferred: bool, errors: list[str]) -> None:
    for entry in entries:
        if bool(entry.get("defer")) != deferred:
            continue
        owner, _, group = str(entry.get("owner", "root:root")).partition(":")
        known = m.users if deferred else UBUNTU_USERS
        if owner not in known:
            errors.append(f"('write_files', KeyError(\"getpwnam(): name not found: '{owner}'\"))")
            continue
        content = entry.get("content", "")
        if entry.get("encoding") in ("b64", "base64"):
            content = base64.b64decode(content).decode()
        path = str(entry.get("path", ""))
        m.write(path, str(content), mode=str(entry.get("permissions", "0644")).replace("0o", "0"), owner=owner,
                group=group or owner, append=entry.get("append") is True)


def _disks(m: Machine, cfg: dict[str, Any], luns: list[int], errors: list[str]) -> None:
    labels = {}
    for device in (cfg.get("disk_setup") or {}):
        if not _device_exists(device, luns):
            errors.append(f"('disk_setup', RuntimeError('Device {device} did not exist and was not created'))")
    for fs in cfg.get("fs_setup") or []:
        device = str(fs.get("device", ""))
        if _device_exists(device, luns):
            labels[str(fs.get("label", ""))] = device
    for mount in cfg.get("mounts") or []:
        source, target = str(mount[0]), str(mount[1])
        device = labels.get(source.removeprefix("LABEL="), source if _device_exists(source, luns) else None)
        if device:
            m.record("mount", target, device)
        elif "nofail" not in (str(mount[3]) if len(mount) > 3 else ""):
            errors.append(f"('mounts', RuntimeError('{source} not found'))")


def _device_exists(device: str, luns: list[int]) -> bool:
    prefix = "/dev/disk/azure/scsi1/lun"
    return device.startswith(prefix) and device[len(prefix):].isdigit() and int(device[len(prefix):]) in luns


def run(sbx: Sandbox, guest: dict[str, Any], programs: dict[str, Any]) -> None:
    """Boot the guest from its customData at ``guest['boot_at']``: every module, the runcmd script, the status."""
    m = Machine(sbx, guest, float(guest["boot_at"]))
    errors: list[str] = []
    raw = guest.pop("custom_data", None) or ""
    try:
        text = base64.b64decode(raw).decode() if raw else ""
        cfg = yaml.safe_load(text) if text.startswith("#cloud-config") else {}
    except (ValueError, yaml.YAMLError) as err:
        cfg, text = {}, ""
        errors.append(f"('init', RuntimeError('Failed loading yaml blob: {type(err).__name__}'))")
    cfg = cfg if isinstance(cfg, dict) else {}
    m.advance(BOOT_SECONDS)
    m.log("Cloud-init v. 24.4.1-0ubuntu0~24.04.1 running 'init' at boot; datasource DataSourceAzure")
    _files(m, cfg.get("write_files") or [], False, errors)
    _disks(m, cfg, [int(lun) for lun in guest.get("luns", [])], errors)
    for group in cfg.get("groups") or []:
        m.record("user", str(group), str(group))
    for user in cfg.get("users") or []:
        if isinstance(user, dict) and user.get("name"):
            m.record("user", str(user["name"]), str(user.get("primary_group", user["name"])))
    m.advance(FINAL_SECONDS)
    shell = Shell(m, programs)
    if cfg.get("package_update") or cfg.get("package_upgrade") or cfg.get("packages"):
        res = shell.call(["apt-get", "update"])
        m.log(res.out + res.err)
    if cfg.get("packages"):
        res = shell.call(["apt-get", "install", "-y", *[str(p) for p in cfg["packages"]]])
        if res.code != 0:
            m.log(res.out + res.err)
            errors.append("('package_update_upgrade_install', RuntimeError('Failed to install packages'))")
    _files(m, cfg.get("write_files") or [], True, errors)
    commands = cfg.get("runcmd") or []
    if commands:
        script = "\n".join(c if isinstance(c, str) else " ".join(_quote(a) for a in c) for c in commands)
        runner = Shell(m, programs)
        code = runner.run_script(script)
        m.log("".join(runner.stdout) + "".join(runner.stderr))
        if code != 0:
            errors.append("('scripts_user', RuntimeError('Runparts: 1 failures (runcmd) in 1 attempted commands'))")
    m.log(f"Cloud-init v. 24.4.1 finished. Datasource DataSourceAzure. Up {int(m.t - guest['boot_at'])} seconds")
    guest["boot_done_at"] = m.t
    m.record("cloud-init", "status", {"status": "error" if errors else "done", "errors": errors})
    guest["booted"] = True


def _quote(arg: Any) -> str:
    text = str(arg)
    return text if text and all(c.isalnum() or c in "-_./=:" for c in text) else "'" + text.replace("'", "'\\''") + "'"

