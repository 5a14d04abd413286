"""The ``sandbox serve`` and ``sandbox reset`` commands."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .faults import FaultSpecError

if TYPE_CHECKING:
    from .server import Endpoints


def _health(directory: Path) -> tuple[str, dict[str, Any], int] | None:
    """(base URL, state, pid) of a ``sandbox serve`` of ``directory`` that answers on its last port, verified with
    the folder's own CA (so a server of another folder is never taken for it); None if none answers."""
    import requests

    try:
        data = json.loads((directory / "state.json").read_text())
    except (OSError, ValueError):
        return None
    port, ca = data["meta"].get("last_port"), directory / "pki" / "ca.pem"
    if not port or not ca.exists():
        return None
    base = f"https://127.0.0.1:{port}"
    try:
        answer = requests.get(f"{base}/sandbox/health", verify=str(ca), timeout=2)
        pid = int(answer.json()["pid"]) if answer.status_code == 200 else 0
    except (requests.RequestException, ValueError, KeyError, TypeError):
        return None
    return (base, data, pid) if pid > 0 else None


def find_running(directory: Path) -> Endpoints | None:
    """The endpoints of a ``sandbox serve`` already serving ``directory``, if one answers. Two servers on one
    folder would overwrite each other's state, so ``--sandbox`` joins a running one instead."""
    from .server import endpoints_at

    found = _health(directory)
    return endpoints_at(found[0], directory, found[1]) if found else None


def _serving_pid(directory: Path) -> int | None:
    """The pid of the ``sandbox serve`` of ``directory``: the one its server reports over its verified health
    check, else (a server too busy to answer) the pid file's, if that process's command line is this folder's
    ``serve``. A pid file left by a server that died (a reboot, kill -9) names nobody: that pid may be reused by
    any process, which must never be signalled."""
    found = _health(directory)
    if found:
        return found[2]
    try:
        pid = int((directory / "serve.pid").read_text().strip())
        argv = [a.decode() for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")]
        cwd = Path(f"/proc/{pid}/cwd").resolve()
    except (OSError, ValueError):
        return None
    return pid if _serves(argv, cwd, directory) else None


def _serves(argv: list[str], cwd: Path, directory: Path) -> bool:
    """Whether the command line ``argv`` (run in ``cwd``) is ``sandbox serve`` of ``directory``."""
    if "sandbox" not in argv or "serve" not in argv:
        return False
    given = None
    for i, arg in enumerate(argv):
        if arg in ("--dir", "--sandbox-dir") and i + 1 < len(argv):
            given = argv[i + 1]
        elif arg.startswith(("--dir=", "--sandbox-dir=")):
            given = arg.partition("=")[2]
    return given is not None and (cwd / given).resolve() == directory.resolve()


def serve_command(directory: Path, *, speed: float, faults: str, port: int) -> int:
    """Serve until a signal; exit 2 on bad arguments."""
    from .faults import Faults
    from .server import serve

    if speed <= 0:
        sys.stderr.write("error: --speed must be greater than 0 (1 = real Azure timing)\n")
        return 2
    try:
        Faults.parse(faults)
    except FaultSpecError as err:
        sys.stderr.write(f"error: --faults: {err}\n")
        return 2
    if not 0 <= port <= 65535:
        sys.stderr.write("error: --port must be from 0 to 65535\n")
        return 2
    return serve(directory, speed=speed, faults=faults, port=port)


def start_background(directory: Path, *, speed: float) -> Endpoints:
    """Start ``sandbox serve`` for ``directory`` as a background process of its own (it outlives the command, so
    the kubeconfigs it hands out keep working) and return its endpoints from its ready line."""
    import subprocess

    from .server import Endpoints

    directory.mkdir(parents=True, exist_ok=True)
    log = open(directory / "serve.log", "ab")  # noqa: SIM115 - handed to the child, closed here after the start
    try:
        proc = subprocess.Popen([sys.executable, "-m", "wizard.cli", "sandbox", "serve", "--dir", str(directory),
                                 "--speed", str(speed)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=log, start_new_session=True, text=True)
    finally:
        log.close()
    assert proc.stdout is not None
    line = proc.stdout.readline()
    proc.stdout.close()
    if not line:
        raise RuntimeError(f"the sandbox did not start; see {directory / 'serve.log'}")
    proc.returncode = 0  # it lives on by design: nobody waits for it here (`sandbox stop` ends it)
    return Endpoints(**json.loads(line))


def stop_command(directory: Path) -> int:
    """Stop the background ``sandbox serve`` of ``directory`` (SIGTERM, then wait for it to save and exit)."""
    import os
    import signal
    import time

    pid_file = directory / "serve.pid"
    pid = _serving_pid(directory)
    if pid is None:
        stale = pid_file.exists()
        pid_file.unlink(missing_ok=True)
        print(f"No sandbox is serving {directory}." + (" (Removed the pid file a stopped one left.)" if stale else ""))
        return 0
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        print(f"No sandbox is serving {directory}.")
        return 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
            gone = not pid_file.exists()  # it removes its pid file once its state is saved
        except OSError:
            gone = True
        if gone:
            print(f"Sandbox stopped: {directory}")
            return 0
        time.sleep(0.1)
    sys.stderr.write(f"error: the sandbox (pid {pid}) did not stop within 30 s\n")
    return 1


def reset_command(directory: Path) -> int:
    """Wipe the sandbox's state (keeps nothing: a new tenant, subscriptions and CA next time)."""
    if not directory.exists():
        print(f"Nothing to reset: {directory} does not exist.")
        return 0
    if not (directory / "state.json").exists() and any(directory.iterdir()):
        sys.stderr.write(f"error: {directory} does not look like a sandbox folder (no state.json); not wiping it.\n")
        return 2
    if (directory / "serve.pid").exists() and stop_command(directory) != 0:  # never wipe under a live server
        return 1
    shutil.rmtree(directory)
    print(f"Sandbox state wiped: {directory}")
    return 0
