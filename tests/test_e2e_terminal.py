"""End to end in a real terminal (tmux): ``studioml-azure --sandbox`` opens on the welcome screen, ``q`` quits."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (test.sh installs it)")


def _pane(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout


def test_sandbox_wizard_opens_and_quits(tmp_path: Path) -> None:
    session = f"studioml-{uuid.uuid4().hex[:8]}"
    exe = Path(sys.executable).parent / "studioml-azure"
    marker = tmp_path / "exit-code"
    cmd = f"{exe} --sandbox --sandbox-dir {tmp_path / 'sbx'}; echo $? > {marker}"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "36", cmd], check=True, cwd=ROOT)
    try:
        deadline = time.time() + 60
        while "local sandbox cloud" not in _pane(session):
            assert time.time() < deadline, _pane(session)
            time.sleep(0.3)
        screen = _pane(session)
        assert "https://127.0.0.1:" in screen and "Welcome to studioml-azure" in screen
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
        while not marker.exists():
            assert time.time() < deadline, _pane(session)
            time.sleep(0.2)
        assert marker.read_text().strip() == "0"
        assert (tmp_path / "sbx" / "state.json").exists()
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
