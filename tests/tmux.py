"""A private tmux server (its own socket, the test's environment) to drive the real command in a real terminal."""

from __future__ import annotations

import shlex
import subprocess
import time
import uuid
from pathlib import Path


class Tmux:
    """One session on a private server; ``run`` starts a shell command in it."""

    def __init__(self, cwd: Path, width: int = 130, height: int = 40) -> None:
        self.socket = f"studioml-{uuid.uuid4().hex[:8]}"
        self.cwd, self.size = cwd, (str(width), str(height))

    def _tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, cwd=self.cwd)

    def run(self, command: str, marker: Path, env: dict[str, str] | None = None) -> None:
        """Start the shell ``command`` with ``env`` added; its exit code goes to ``marker``."""
        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
        # without the test runner's COLUMNS/LINES, so the program sizes itself from the terminal, as for a person
        line = (f"env -u COLUMNS -u LINES {prefix} sh -c {shlex.quote(command)}; "
                f"echo $? > {shlex.quote(str(marker))}; sleep 600")
        self._tmux("new-session", "-d", "-s", "main", "-x", self.size[0], "-y", self.size[1], line).check_returncode()

    def exit_code(self, marker: Path, timeout: float = 120) -> int:
        """The command's exit code, once it has ended."""
        deadline = time.monotonic() + timeout
        while not marker.exists() or not marker.read_text().strip():
            assert time.monotonic() < deadline, f"the command did not end:\n{self.pane()}"
            time.sleep(0.2)
        return int(marker.read_text())

    def pane(self) -> str:
        """What the terminal shows, with its scrollback."""
        return self._tmux("capture-pane", "-p", "-S", "-500", "-t", "main").stdout

    def send(self, *keys: str) -> None:
        """Type keys (tmux key names such as ``Enter``, ``Down``, ``BSpace``)."""
        self._tmux("send-keys", "-t", "main", *keys).check_returncode()

    def wait_for(self, text: str, timeout: float = 60) -> str:
        """The pane once it shows ``text``."""
        deadline = time.monotonic() + timeout
        while text not in (screen := self.pane()):
            assert time.monotonic() < deadline, f"{text!r} never appeared:\n{screen}"
            time.sleep(0.2)
        return screen

    def close(self) -> None:
        """End the server and everything in it."""
        self._tmux("kill-server")
