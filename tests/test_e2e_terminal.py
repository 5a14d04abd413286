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


def test_at_80x24_every_screen_shows_what_has_focus(tmp_path: Path) -> None:
    """A small terminal: welcome says how to begin on its first screenful; the subscription list, the sizing
    screen's every field (its panes stacked in one scrolling column, each field scrolled into view as Tab reaches
    it) and the review are usable, and nothing is cut to a sliver."""
    exe = Path(sys.executable).parent / "studioml-azure"
    marker, sandbox_dir = tmp_path / "exit-code", tmp_path / "sbx"
    env = {k: v for k, v in Home(tmp_path / "home").env().items() if k.startswith("XDG_")}
    term = Tmux(ROOT, 80, 24)
    try:
        term.run(f"{shlex.quote(str(exe))} --sandbox --sandbox-dir {shlex.quote(str(sandbox_dir))} --speed 200",
                 marker, env)
        screen = term.wait_for("Welcome to studioml-azure")
        assert "Press Enter to begin" in screen
        term.send("Enter")
        screen = term.wait_for("pick the subscription")
        assert "Visual Studio Ultimate with MSDN" in screen  # the focused list, on screen
        term.send("Enter")
        screen = term.wait_for("Standard_NC4as_T4_v3      1 x T4")  # the focused size list: whole lines, not cut
        assert "GPU size" in screen
        term.send("Tab")
        assert "GPU nodes" in term.wait_for("GPU nodes")
        term.send("Tab")
        screen = term.wait_for("headroom")  # the region list, scrolled into view
        assert "eastus" in screen
        term.send("Tab")  # on to the estimate: its table, full width
        screen = term.wait_for("per month")
        term.send("r")
        screen = term.wait_for("Press a to apply", timeout=120)
        assert "Review" in screen
        term.send("q")
        assert term.exit_code(marker, timeout=60) == 0, term.pane()
    finally:
        term.close()
        control.stop_command(sandbox_dir)


@pytest.mark.skipif(shutil.which("dbus-run-session") is None or shutil.which("gnome-keyring-daemon") is None,
                    reason="needs dbus and gnome-keyring (test.sh installs them)")
def test_quick_start_in_a_terminal_without_a_session_bus_installs(tmp_path: Path) -> None:
    """The README's first command on a server (no D-Bus session, so no OS keyring): run.sh starts gnome-keyring for
    the run over the person's keyring folder, unlocked with the password typed (never echoed); the TUI installs;
    a later run unlocks the same keyring with the same password and finds the secrets; a wrong one is refused, and an
    empty one too (gnome-keyring would keep that keyring unencrypted on disk)."""
    sandbox_dir, run_dir = tmp_path / "sbx", tmp_path / "run"
    run_dir.mkdir(mode=0o700)
    env = {k: v for k, v in Home(tmp_path / "home").env().items() if k.startswith("XDG_")}
    env["XDG_RUNTIME_DIR"] = str(run_dir)
    start = (f"env -u DBUS_SESSION_BUS_ADDRESS ./run.sh --sandbox --sandbox-dir {shlex.quote(str(sandbox_dir))} "
             "--speed 200")
    try:
        for n, (args, password) in enumerate([("status", ""), ("", "hunter2"), ("status", "hunter2"),
                                              ("status", "wrong")]):
            term, marker = Tmux(ROOT, 160, 48), tmp_path / f"exit-{n}"
            try:
                term.run(f"{start} {args}", marker, env)
                term.wait_for("Password of your login keyring", timeout=180)  # run.sh may set up its venv first
                term.send(*([password] if password else []), "Enter")
                if n == 1:
                    term.wait_for("Welcome to studioml-azure")
                    assert "hunter2" not in term.pane()
                    term.send("Enter")
                    term.wait_for("pick the subscription")
                    term.send("Enter")
                    term.wait_for("a month")
                    term.send("r")
                    term.wait_for("Press a to apply")  # the review: the keyring answered its check
                    term.send("a")
                    term.wait_for("Press y to apply")  # the confirmation: what changes, the cost before -> after
                    term.send("y")
                    term.wait_for("Done. Kubeconfig:", timeout=180)
                    term.send("q")
                code = term.exit_code(marker, timeout=120)
                screen = term.pane()
                if n == 0:  # gnome-keyring would keep it unencrypted
                    assert code == 2 and "empty password would leave the keyring unencrypted" in screen, screen
                if n == 2:
                    assert code == 0 and "20 secret(s) in the keyring" in screen, screen
                    assert "runner 1/1 ready" in screen, screen
                if n == 3:
                    assert code == 2 and "did not unlock with that password" in screen, screen  # their input
                assert not password or password not in screen  # never echoed
                assert "dbus-daemon[" not in screen  # the bus's log is not the person's
            finally:
                term.close()
    finally:
        control.stop_command(sandbox_dir)
