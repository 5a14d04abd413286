"""Print how long the wizard takes to draw its first frame in a real terminal (tmux), against a bare Textual app (an
``App`` with one ``Label``), and the ratio; with ``--sandbox`` too (its background sandbox starts first).

Each is started in a fresh tmux pane; the time is from spawn to the moment the pane shows the program's first words.
Best of 3 each (the machine's own noise is not the program's)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BARE = ("from textual.app import App\nfrom textual.widgets import Label\n"
        "class Bare(App):\n    def compose(self):\n        yield Label('bare textual app')\nBare().run()\n")


def paint(command: str, words: str, timeout: float = 60) -> float:
    """Seconds until ``words`` are on the screen of ``command`` run in a 120x40 tmux pane."""
    sock = f"bench-{uuid.uuid4().hex[:8]}"
    tmux = ["tmux", "-L", sock]
    start = time.monotonic()
    subprocess.run([*tmux, "new-session", "-d", "-x", "120", "-y", "40", command], check=True, cwd=ROOT)
    try:
        while time.monotonic() - start < timeout:
            pane = subprocess.run([*tmux, "capture-pane", "-p"], capture_output=True, text=True).stdout
            if words in pane:
                return time.monotonic() - start
            time.sleep(0.01)
        raise SystemExit(f"{command!r} did not show {words!r} in {timeout} s")
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)


def best(command: str, words: str, runs: int = 3) -> float:
    """The fastest of ``runs``."""
    return min(paint(command, words) for _ in range(runs))


if __name__ == "__main__":
    py = str(ROOT / ".venv" / "bin" / "python")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bare.py"
        script.write_text(BARE)
        bare = best(f"{py} {script}", "bare textual app")
        wizard = best(f"{py} -m wizard.cli", "Welcome to studioml-azure")
        sandbox = best(f"{py} -m wizard.cli --sandbox --sandbox-dir {tmp}/sbx", "Welcome to studioml-azure")
        subprocess.run([py, "-m", "wizard.cli", "sandbox", "stop", "--dir", f"{tmp}/sbx"], capture_output=True,
                       cwd=ROOT)
    print(f"first paint: bare Textual app {bare:.2f} s; studioml-azure {wizard:.2f} s ({wizard / bare:.1f}x); "
          f"with --sandbox {sandbox:.2f} s ({sandbox / bare:.1f}x)")
    sys.exit(0)
