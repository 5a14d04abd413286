"""What the wizard keeps on disk (never a secret): remembered uniq_ids, the run journal, kubeconfigs, the log.

Layout under the platformdirs user state dir (``$XDG_STATE_HOME/studioml-azure`` on Linux)::

    <tenant>/uniq-ids.json               subscription id -> uniq_id and how it was derived
    <tenant>/<uniq_id>/journal.jsonl      steps started and finished, and facts learned (a hint: observe decides)
    <tenant>/<uniq_id>/kube/<region>.kubeconfig   0600, folder 0700

The log goes to the platformdirs user log dir.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import platformdirs

from .errors import LocalError, RefusedError

APP = "studioml-azure"


def state_root() -> Path:
    """The user state dir of the wizard."""
    return Path(platformdirs.user_state_dir(APP))


def log_dir() -> Path:
    """Where the run log goes."""
    return Path(platformdirs.user_log_dir(APP))


@contextmanager
def local_write(path: Path, *cleanup: Path, folder: Path | None = None) -> Iterator[None]:
    """Writing ``path``: an OSError (a full disk, a read-only or immutable folder, a file where a folder should be)
    becomes a :class:`LocalError` naming the folder and what to free or fix; ``cleanup`` files are removed."""
    try:
        yield
    except OSError as err:
        for tmp in cleanup:
            with suppress(OSError):
                tmp.unlink()
        folder = folder or path.parent
        if err.errno == errno.ENOSPC:
            hint = f"free space on the disk holding {folder} (df -h {folder}), then run again"
        elif err.errno == errno.EDQUOT:
            hint = f"free space within your disk quota for {folder}, then run again"
        else:
            hint = (f"make {folder} a writable folder (ls -ld, chmod, lsattr/chattr -i), or point XDG_STATE_HOME at "
                    "one, then run again")
        raise LocalError(f"cannot write {path}: {err.strerror or err}.", hint) from None


def _private_dir(path: Path) -> Path:
    with local_write(path, folder=path):
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write a credential-bearing file atomically with mode 0600 in a 0700 folder (a failure leaves the old file and
    no temp file, and says what to fix)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")  # writers never share one
    with local_write(path, tmp):
        _private_dir(path.parent)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)


class TenantState:
    """The state folder of one tenant (each cloud and sandbox has its own tenant id)."""

    def __init__(self, tenant_id: str, root: Path | None = None) -> None:
        self.dir = (root or state_root()) / tenant_id
        self._ids = self.dir / "uniq-ids.json"

    def _remembered(self, subscription_id: str) -> dict[str, Any]:
        try:
            entry = json.loads(self._ids.read_text()).get(subscription_id)
        except (OSError, ValueError, AttributeError):
            return {}
        return entry if isinstance(entry, dict) else {}

    def remembered_uniq_id(self, subscription_id: str) -> str | None:
        """The uniq_id derived earlier for this subscription, if any."""
        entry = self._remembered(subscription_id)
        return str(entry["uniq_id"]) if entry.get("uniq_id") else None

    def remembered_interface(self, subscription_id: str) -> str | None:
        """The interface the remembered uniq_id was derived over, when it was derived over one."""
        entry = self._remembered(subscription_id)
        return str(entry["interface"]) if entry.get("interface") else None

    def remembered_subscriptions(self) -> list[str]:
        """Subscriptions this host has a uniq_id for."""
        try:
            return list(json.loads(self._ids.read_text()))
        except (OSError, ValueError):
            return []

    def remember_uniq_id(self, subscription_id: str, uniq_id: str, note: str, interface: str | None = None) -> None:
        """Keep the uniq_id of a subscription so it never drifts (``interface``: the one it was derived over)."""
        with local_write(self._ids):
            _private_dir(self.dir)
        try:
            data = json.loads(self._ids.read_text())
        except (OSError, ValueError):
            data = {}
        entry = data.get(subscription_id) or {}
        if entry.get("uniq_id") == uniq_id and entry.get("interface") == interface:
            return  # already remembered: keep its first note and time
        data[subscription_id] = {"uniq_id": uniq_id, "note": note, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                       time.gmtime())}
        if interface:
            data[subscription_id]["interface"] = interface
        tmp = self._ids.with_suffix(".tmp")
        with local_write(self._ids, tmp):
            tmp.write_text(json.dumps(data, indent=2))
            os.replace(tmp, self._ids)

    def forget_uniq_id(self, subscription_id: str, uniq_id: str) -> None:
        """Drop the remembered id of a subscription (after its install was destroyed), if it is that one."""
        try:
            data = json.loads(self._ids.read_text())
        except (OSError, ValueError):
            return
        if not isinstance(data, dict) or (data.get(subscription_id) or {}).get("uniq_id") != uniq_id:
            return
        del data[subscription_id]
        tmp = self._ids.with_suffix(".tmp")
        with local_write(self._ids, tmp):
            tmp.write_text(json.dumps(data, indent=2))
            os.replace(tmp, self._ids)

    def install_dir(self, uniq_id: str) -> Path:
        """The folder of one install."""
        return _private_dir(self.dir / uniq_id)

    def kubeconfig_path(self, uniq_id: str, region: str) -> Path:
        """The per-region kubeconfig file."""
        return self.dir / uniq_id / "kube" / f"{region}.kubeconfig"

    @contextmanager
    def apply_lock(self, uniq_id: str) -> Iterator[None]:
        """Held while an apply of the install runs on this host: a second one at the same time (another terminal,
        the TUI beside the CLI) is refused rather than interleaving its steps and journal with the first. The
        kernel lets go of it when the holder ends, however it ends (kill -9 included)."""
        lock = self.install_dir(uniq_id) / "apply.lock"
        with local_write(lock):
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
                raise RefusedError(f"another apply of install {uniq_id} is running on this host"
                                   + (f" (pid {holder})." if holder.isdigit() else "."),
                                   "wait for it to finish (or stop it with Ctrl-C), then run again: it goes on from "
                                   "what the other made") from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            yield
        finally:
            os.close(fd)

    def journal(self, uniq_id: str) -> Journal:
        """The run journal of one install."""
        return Journal(self.install_dir(uniq_id) / "journal.jsonl")


class Journal:
    """An append-only record of steps and facts; each line is flushed to disk before the run goes on."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def record(self, step: str, event: str, **detail: Any) -> None:
        """Append one entry (``detail`` must hold no secret)."""
        line = json.dumps({"at": time.time(), "step": step, "event": event, **detail}) + "\n"
        with local_write(self.path):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":  # a kill tore the last line: start a fresh one
                    line = "\n" + line
                os.write(fd, line.encode())
                os.fsync(fd)
            finally:
                os.close(fd)

    def entries(self) -> list[dict[str, Any]]:
        """Every entry; a torn last line (a kill mid-write) is ignored."""
        out = []
        try:
            lines = self.path.read_text().splitlines()
        except OSError:
            return []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def fact(self, step: str, name: str) -> Any:
        """The last value recorded for ``name`` by ``step``."""
        value = None
        for entry in self.entries():
            if entry["step"] == step and entry["event"] == "fact" and name in entry:
                value = entry[name]
        return value

    def resume_notice(self) -> str | None:
        """What to tell the person when the last run left steps unfinished, else None."""
        left = self.unfinished()
        return f"the last run stopped before finishing {', '.join(left)}; what it finished is kept" if left else None

    def unfinished(self) -> list[str]:
        """Steps an interruption left: started, or stopped before starting (a safe stop journals the steps it did
        not begin as failed with code 4), and neither finished nor failed for good since."""
        open_steps: dict[str, bool] = {}
        for entry in self.entries():
            if entry["event"] == "started" or entry["event"] == "failed" and entry.get("code") == 4:
                open_steps[entry["step"]] = True
            elif entry["event"] in ("done", "failed"):
                open_steps.pop(entry["step"], None)
        return list(open_steps)
