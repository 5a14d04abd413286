"""A sandbox VM's guest as a log of timed events: files, users, packages, services, mounts, broker users, buckets.

Everything that happens inside a VM (cloud-init at boot, a Run Command later) appends events stamped with the
simulated moment they happen, which may lie ahead of the wall clock (a boot evaluated at once takes minutes of
simulated time). A :class:`Machine` is the guest as it is at one moment: the fold of every event up to then. So a
Run Command that arrives while cloud-init is still running sees the files and services of that moment, and one that
waits for cloud-init sees the end.
"""

from __future__ import annotations

import copy
from typing import Any

from ..arm.base import Sandbox

UBUNTU_USERS = {"root": "root", "syslog": "syslog", "_apt": "nogroup", "nobody": "nogroup"}
BASE_PACKAGES = ("python3", "curl", "ca-certificates", "openssh-server", "cloud-init", "tar", "coreutils")
SSH_PORT = 22


def guests(sbx: Sandbox) -> dict[str, dict[str, Any]]:
    """Every VM's guest record, by lower-case VM id."""
    return sbx.store.data.setdefault("guests", {})  # type: ignore[no-any-return]


class Machine:
    """The guest of one VM at the moment ``t``; changes are appended as events at the (advancing) ``t``."""

    def __init__(self, sbx: Sandbox, guest: dict[str, Any], t: float) -> None:
        self.sbx, self.guest, self.t = sbx, guest, t
        self.files: dict[str, dict[str, Any]] = {}
        self.users: dict[str, str] = dict(UBUNTU_USERS)
        self.packages: set[str] = set(BASE_PACKAGES)
        self.services: dict[str, str] = {"ssh": "active"}
        self.enabled: set[str] = {"ssh"}
        self.mounts: dict[str, str] = {}
        self.broker: dict[str, Any] = {}
        self.buckets: list[str] = []
        self.svcconf: dict[str, dict[str, Any]] = {}  # what each started service loaded
        self.cloud_init: dict[str, Any] = {"status": "running", "errors": []}
        self.apt_lists = False  # cloud images ship without package lists: apt-get update comes first
        for event in guest.get("events", []):
            if event[0] <= t:
                self._fold(event[1], event[2], event[3])

    def _fold(self, kind: str, key: str, value: Any) -> None:
        if kind == "file":
            if value is None:
                self.files.pop(key, None)
            else:
                self.files[key] = value
        elif kind == "user":
            self.users[key] = value
        elif kind == "pkg":
            self.packages.add(key)
        elif kind == "svc":
            self.services[key] = value
        elif kind == "enable":
            self.enabled.add(key)
        elif kind == "mount":
            self.mounts[key] = value
        elif kind == "broker":
            self.broker = value
        elif kind == "bucket":
            if key not in self.buckets:
                self.buckets.append(key)
        elif kind == "svcconf":
            self.svcconf[key] = value
        elif kind == "apt":
            self.apt_lists = bool(value)
        elif kind == "cloud-init":
            self.cloud_init = value

    def record(self, kind: str, key: str, value: Any) -> None:
        """A change at the current moment: kept in the guest's log and seen at once."""
        self.guest.setdefault("events", []).append([self.t, kind, key, copy.deepcopy(value)])
        self._fold(kind, key, value)

    def advance(self, real_seconds: float) -> None:
        """Let ``real_seconds`` of real-VM time pass (scaled by the sandbox's speed)."""
        self.wait_until(self.t + self.sbx.scaled(real_seconds))

    def wait_until(self, t: float) -> None:
        """Move to the moment ``t`` (never back), seeing what happened meanwhile (a boot still running)."""
        old, self.t = self.t, max(self.t, t)
        for event in self.guest.get("events", []):
            if old < event[0] <= self.t:
                self._fold(event[1], event[2], event[3])

    # --- files ------------------------------------------------------------------------------------

    def write(self, path: str, text: str, *, mode: str = "0644", owner: str = "root", group: str = "root",
              append: bool = False, blob: bytes | None = None) -> None:
        """Write (or append to) a file."""
        old = self.files.get(path)
        if append and old is not None and old.get("blob") is None:
            text = old.get("text", "") + text
        entry: dict[str, Any] = {"text": text, "mode": mode, "owner": owner, "group": group}
        if old is not None and append:
            entry.update(mode=old["mode"], owner=old["owner"], group=old["group"])
        if blob is not None:
            entry = {"blob": blob.hex(), "mode": mode, "owner": owner, "group": group}
        self.record("file", path, entry)

    def read(self, path: str) -> str | None:
        """A text file's content, or None."""
        entry = self.files.get(path)
        if entry is None:
            return None
        if entry.get("blob") is not None:
            return bytes.fromhex(entry["blob"]).decode(errors="replace")
        return str(entry.get("text", ""))

    def read_bytes(self, path: str) -> bytes | None:
        """A file's bytes, or None."""
        entry = self.files.get(path)
        if entry is None:
            return None
        return bytes.fromhex(entry["blob"]) if entry.get("blob") is not None else str(entry.get("text", "")).encode()

    def can_read(self, user: str, path: str) -> bool:
        """Whether ``user`` may read ``path`` by its owner, group and mode (root may read anything)."""
        entry = self.files.get(path)
        if entry is None:
            return False
        if user == "root":
            return True
        mode = int(str(entry["mode"]), 8)
        if entry["owner"] == user:
            return bool(mode & 0o400)
        if entry["group"] == self.users.get(user, user):
            return bool(mode & 0o040)
        return bool(mode & 0o004)

    def chown(self, path: str, owner: str, group: str | None) -> None:
        """Change a file's owner (and group)."""
        entry = self.files.get(path)
        if entry is not None:
            self.record("file", path, {**entry, "owner": owner, "group": group or entry["group"]})

    def chmod(self, path: str, mode: str) -> None:
        """Change a file's mode."""
        entry = self.files.get(path)
        if entry is not None:
            self.record("file", path, {**entry, "mode": mode})

    def is_dir(self, path: str) -> bool:
        """A folder: made, a mount point, or the parent of a file."""
        path = path.rstrip("/") or "/"
        return path in ("/", "/tmp", "/etc", "/var", "/usr/local/bin", "/var/lib", "/var/log") \
            or self.files.get(path, {}).get("dir") is True or path in self.mounts \
            or any(p.startswith(path + "/") for p in self.files)

    def mkdir(self, path: str, owner: str = "root", group: str = "root", mode: str = "0755") -> None:
        """Make a folder."""
        self.record("file", path.rstrip("/"), {"dir": True, "mode": mode, "owner": owner, "group": group})

    def log(self, text: str) -> None:
        """A line in the boot log (``/var/log/cloud-init-output.log``)."""
        self.write("/var/log/cloud-init-output.log", text if text.endswith("\n") else text + "\n", append=True)
