"""The sandbox's guest shell follows bash where boot scripts rely on it, and refuses what it does not model."""

from __future__ import annotations

import time
from pathlib import Path

from wizard.sandbox import guest
from wizard.sandbox.arm.base import Sandbox
from wizard.sandbox.guest.machine import Machine
from wizard.sandbox.guest.shell import Shell
from wizard.sandbox.store import Store


def _shell(tmp_path: Path) -> Shell:
    sbx = Sandbox(Store(tmp_path), None, speed=1000)  # type: ignore[arg-type]
    record = {"vm_id": "/x/vm", "events": [], "boot_at": time.time()}
    return Shell(Machine(sbx, record, time.time()), guest.PROGRAMS)


def test_errexit_trap_and_status_file(tmp_path: Path) -> None:
    sh = _shell(tmp_path)
    code = sh.run_script("\n".join([
        "set -euo pipefail",
        'step() { STEP="$1"; echo "running: $1" > /status; echo "==> $1"; }',
        'fail() { echo "failed: $STEP" > /status; }',
        "trap fail ERR",
        'step "first"',
        "false || true",
        'step "second"',
        "no-such-command --flag",
        'step "never"']))
    assert code == 127 and sh.machine.read("/status") == "failed: second\n"
    assert "==> first\n==> second\n" in "".join(sh.stdout) and "never" not in "".join(sh.stdout)
    assert "no-such-command: command not found" in "".join(sh.stderr)


def test_pipelines_substitution_and_redirections(tmp_path: Path) -> None:
    sh = _shell(tmp_path)
    sh.machine.write("/data.txt", "hello")
    code = sh.run_script("\n".join([
        "exec >>/log 2>&1",
        'echo "$(md5sum /data.txt | tail -n 1)" > /sum.txt',
        'echo "$(cat /sum.txt)" | md5sum -c -',
        "echo not-there 1>/dev/null | false | true",
        "set -o pipefail",
        "sh -c 'echo inner > /inner'",
        "cat /missing"]))
    assert code == 1
    log = sh.machine.read("/log") or ""
    assert "/data.txt: OK" in log and "cat: /missing: No such file or directory" in log
    assert sh.machine.read("/inner") == "inner\n" and not sh.stdout  # all output went to the log


def test_unmodelled_shell_is_refused_not_skipped(tmp_path: Path) -> None:
    sh = _shell(tmp_path)
    assert sh.run_script("for i in 1 2; do echo $i; done") == 2
    assert "blocks are not modelled" in "".join(sh.stderr)
