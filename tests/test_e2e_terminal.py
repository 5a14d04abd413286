"""End to end in a real terminal (tmux): ``studioml-azure --sandbox`` opens on the welcome screen, ``q`` quits."""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

import pytest

from .conftest import ROOT
from .tmux import Tmux

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (test.sh installs it)")


def test_sandbox_wizard_opens_and_quits(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "studioml-azure"
    marker = tmp_path / "exit-code"
    term = Tmux(ROOT, 120, 36)
    try:
        term.run(f"{shlex.quote(str(exe))} --sandbox --sandbox-dir {shlex.quote(str(tmp_path / 'sbx'))}", marker)
        screen = term.wait_for("local sandbox cloud")
        assert "https://127.0.0.1:" in screen and "Welcome to studioml-azure" in screen
        term.send("q")
        assert term.exit_code(marker, timeout=60) == 0, term.pane()
        assert (tmp_path / "sbx" / "state.json").exists()
    finally:
        term.close()
