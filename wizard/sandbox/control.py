"""The ``sandbox serve`` and ``sandbox reset`` commands."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .faults import FaultSpecError

if TYPE_CHECKING:
    from .server import Endpoints


def find_running(directory: Path) -> Endpoints | None:
    """The endpoints of a ``sandbox serve`` already serving ``directory``, if one answers on its last port
    (verified with the folder's own CA, so a server of another folder is never taken for it). Two servers on
    one folder would overwrite each other's state, so ``--sandbox`` joins a running one instead."""
    import requests

    from .server import endpoints_at

    try:
        data = json.loads((directory / "state.json").read_text())
    except (OSError, ValueError):
        return None
    port, ca = data["meta"].get("last_port"), directory / "pki" / "ca.pem"
    if not port or not ca.exists():
        return None
    base = f"https://127.0.0.1:{port}"
    try:
        if requests.get(f"{base}/sandbox/health", verify=str(ca), timeout=2).status_code != 200:
            return None
    except requests.RequestException:
        return None
    return endpoints_at(base, directory, data)


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


def reset_command(directory: Path) -> int:
    """Wipe the sandbox's state (keeps nothing: a new tenant, subscriptions and CA next time)."""
    if not directory.exists():
        print(f"Nothing to reset: {directory} does not exist.")
        return 0
    if not (directory / "state.json").exists() and any(directory.iterdir()):
        sys.stderr.write(f"error: {directory} does not look like a sandbox folder (no state.json); not wiping it.\n")
        return 2
    shutil.rmtree(directory)
    print(f"Sandbox state wiped: {directory}")
    return 0
