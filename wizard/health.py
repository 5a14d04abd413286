"""Whether the services really serve: the VM check run through Run Command, what its output means, and the record of
the last checks (``<tenant>/<uniq_id>/health.json``; no secret), which ``status`` shows and which spares a re-run
from checking again what was found working and has not changed since.

A VM check waits (bounded) for cloud-init, then reads the boot script's status file, asks systemd whether the
service is active, runs the check tool's protocol login (AMQP, or S3 ListBuckets) on the VM itself, and returns the
last lines of the boot log. A failure is explained from those lines: no outbound (connections time out), a download
that is no longer served (the URL and its status), or a checksum that does not match.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .state import TenantState, write_private
from .vmconfig import BOOT_LOG, BOOT_STATUS, CHECK_TOOL, SERVICE_UNITS

_LOCK = threading.Lock()
CLOUD_INIT_WAIT = 900  # seconds a check waits for cloud-init (real boots take 3-6 minutes)
PROTOCOL = {"rabbitmq": "amqp", "files": "s3"}


def check_script(role: str) -> list[str]:
    """The RunShellScript lines of a VM check (no secret: the check tool reads the VM's own check.json)."""
    return [
        f"timeout {CLOUD_INIT_WAIT} cloud-init status --wait > /dev/null 2>&1 || true",
        'echo "cloud-init=$(cloud-init status 2>/dev/null)"',
        f'echo "boot=$(cat {BOOT_STATUS} 2>/dev/null)"',
        f'echo "service=$(systemctl is-active {SERVICE_UNITS[role]})"',
        f"python3 {CHECK_TOOL} {PROTOCOL[role]} || true",
        f"python3 {CHECK_TOOL} tls || true",
        'echo "--- log"',
        f"tail -n 15 {BOOT_LOG} 2>/dev/null || tail -n 8 /var/log/cloud-init-output.log || true",
    ]


def rerun_script() -> list[str]:
    """Run the VM's boot script again (it repeats safely), then report as a check does."""
    return ["/usr/local/sbin/studioml-boot || true"]


@dataclass
class VmHealth:
    """What a VM check found."""

    vm: str
    role: str
    vm_id: str = ""
    boot: str = ""  # the digest of what the VM was made from
    cloud_init: str = "unknown"
    step: str = "unknown"  # the boot script's status: done, running: X, failed: X
    service: str = "unknown"
    protocol: str = ""
    tls: str = ""  # the TLS listener's check: "tls: ok (<name> at ..., certificate valid until T)" or why not
    log: list[str] = field(default_factory=list)
    checked_at: str = ""

    @property
    def ok(self) -> bool:
        """Every boot step done, the service active, the protocol login working. (cloud-init's own status keeps
        saying ``error`` after a failed first boot that a re-run of the boot script has since completed.)"""
        return self.step == "done" and self.service == "active" and f"{PROTOCOL[self.role]}: ok" in self.protocol

    def as_dict(self) -> dict[str, Any]:
        """For the health record and ``status --json``."""
        return {**asdict(self), "ok": self.ok}


def parse(vm: str, role: str, stdout: str) -> VmHealth:
    """A check's output (the script of :func:`check_script`) as a :class:`VmHealth`."""
    head, _, log = stdout.partition("--- log\n")
    found = VmHealth(vm, role, log=[ln for ln in log.splitlines() if ln.strip()][-15:],
                     checked_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    for line in head.splitlines():
        key, _, value = line.partition("=")
        if key == "cloud-init":
            found.cloud_init = value.removeprefix("status: ").strip() or "unknown"
        elif key == "boot":
            found.step = value.strip() or "not started"
        elif key == "service":
            found.service = value.strip() or "unknown"
        elif line.startswith(f"{PROTOCOL[role]}:"):
            found.protocol = line.strip()
        elif line.startswith("tls:"):
            found.tls = line.strip()
    return found


def diagnose(health: VmHealth) -> str:
    """Why a VM check failed, in a person's words, from its status and log."""
    text = "\n".join(health.log)
    step = health.step.removeprefix("failed: ").removeprefix("running: ")
    fetched = re.findall(r"fetching (\S+)", text)
    if re.search(r"(?i)connection timed out|could not connect|failed to connect", text):
        why = "it has no outbound internet access (connections time out)"
    elif m := re.search(r"returned error: (\d+)|ERROR (\d+)", text):
        code = m.group(1) or m.group(2)
        why = f"{fetched[-1] if fetched else 'a download'} answered HTTP {code}" + (
            " (Gone: no longer served)" if code == "410" else "")
    elif "did NOT match" in text:
        why = f"the download {fetched[-2] if len(fetched) > 1 else ''} does not match its published checksum".replace(
            "  ", " ")
    elif health.cloud_init == "running" or health.step.startswith("running"):
        why = f"cloud-init is still running after {CLOUD_INIT_WAIT // 60} minutes"
    elif health.step == "done" and health.service != "active":
        why = f"its service is {health.service}"
    elif health.step == "done":
        why = health.protocol or "the protocol check did not run"
    else:
        why = f"cloud-init says {health.cloud_init}"
    where = f" at step '{step}'" if health.step.startswith(("failed", "running")) else ""
    return f"VM {health.vm} is not serving{where}: {why}"


def book(state: TenantState, uniq_id: str) -> HealthBook:
    """The health record of an install."""
    return HealthBook(state.install_dir(uniq_id) / "health.json")


class HealthBook:
    """The last checks of one install, by key (``vm:<name>``, ``probe:<region>``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def all(self) -> dict[str, Any]:
        """Every record."""
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, key: str) -> dict[str, Any] | None:
        """One record."""
        found = self.all().get(key)
        return found if isinstance(found, dict) else None

    def put(self, key: str, record: dict[str, Any]) -> None:
        """Keep a record (written atomically; steps on other threads write beside it)."""
        with _LOCK:
            data = self.all()
            data[key] = record
            write_private(self.path, json.dumps(data, indent=1).encode())
