"""End to end in a real terminal (tmux): ``studioml-azure --sandbox`` opens on the welcome screen, signs in to the
sandbox, shows the sizing screen with its estimate, and ``q`` quits; the sandbox keeps serving until stopped."""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

import pytest

from wizard.sandbox import control

from .conftest import ROOT
from .engine.helpers import Home
from .tmux import Tmux

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (test.sh installs it)")


def test_sandbox_wizard_opens_sizes_and_quits(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "studioml-azure"
    marker, sandbox_dir = tmp_path / "exit-code", tmp_path / "sbx"
    env = {k: v for k, v in Home(tmp_path / "home").env().items() if k.startswith("XDG_")}
    term = Tmux(ROOT, 140, 45)
    try:
        term.run(f"{shlex.quote(str(exe))} --sandbox --sandbox-dir {shlex.quote(str(sandbox_dir))}", marker, env)
        screen = term.wait_for("local sandbox cloud")
        assert "https://127.0.0.1:" in screen and "Welcome to studioml-azure" in screen
        term.send("Enter")
        term.wait_for("pick the subscription")
        term.send("Enter")
        screen = term.wait_for("a month")  # the sizing screen: prices, quota headroom, the estimate and its bars
        assert "headroom" in screen and "TOTAL" in screen and "█" in screen
        term.send("q")
        assert term.exit_code(marker, timeout=60) == 0, term.pane()
        assert (sandbox_dir / "state.json").exists()
    finally:
        term.close()
        control.stop_command(sandbox_dir)
