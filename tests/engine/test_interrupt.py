"""Interrupted at any moment (Ctrl-C or kill -9), a run resumes to the same end state, with nothing duplicated."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.conftest import start_sandbox
from tests.engine.helpers import (
    ANSWERS,
    Home,
    assert_converged,
    endpoint_args,
    finish,
    interrupt,
    interrupt_at,
    start,
    wait_started,
)

# Moments in the run's progress: (a step the run has started, seconds after), or None for "while it starts up".
Moment = tuple[str, float] | None


@pytest.mark.parametrize(("sig", "moments"), [
    (signal.SIGKILL, [None, ("sp", 0.1), ("cluster", 0.3), ("k8s-secrets", 0.0), ("runner", 0.1)]),
    (signal.SIGINT, [("registry", 0.0), ("cluster", 0.3), ("runner", 0.0)]),
], ids=["sigkill", "sigint"])
def test_interrupted_runs_resume_to_the_same_end_state(tmp_path: Path, sig: signal.Signals,
                                                       moments: list[Moment]) -> None:
    served = start_sandbox(tmp_path / "sandbox", "--speed", "60")
    try:
        home = Home(tmp_path / "home")
        args, env = endpoint_args(served.info)
        cmd = [*args, "--answers", str(ANSWERS), "--yes", "--json"]
        codes = []
        for moment in moments:
            proc = start(home, "apply", *cmd, env=env)
            if moment is None:
                interrupt(proc, 0.4, sig)
            else:
                interrupt_at(proc, home, moment[0], sig, moment[1])
            code, doc, err = finish(proc)
            codes.append(code)
            if sig == signal.SIGINT and code != 0:
                assert code == 4, err[-3000:]
                assert "run the same command again" in err
        code, doc, err = finish(start(home, "apply", *cmd, env=env))
        assert code == 0, err[-4000:]
        assert 0 not in codes, f"a run was not interrupted: {codes}"
        assert "resuming: the last run stopped before finishing" in err
        assert_converged(served, doc)
        code, again, err = finish(start(home, "apply", *cmd, env=env))
        assert code == 0 and {s["action"] for s in again["steps"].values()} == {"none"}
    finally:
        served.stop()


def test_kill_storm_every_run_killed_a_little_later(tmp_path: Path) -> None:
    """kill -9 one run after another, each a little later than the last (the kills land in sign-in, directory
    objects, keyring writes, LROs, kubeconfig, cluster objects); then one run to the end converges to one of
    everything. The storm is bounded, not "until one finishes", so a slow machine only shifts where kills land."""
    served = start_sandbox(tmp_path / "sandbox", "--speed", "60")
    try:
        home = Home(tmp_path / "home")
        args, env = endpoint_args(served.info)
        cmd = [*args, "--answers", str(ANSWERS), "--yes", "--json"]
        killed, code, doc, err = 0, -1, {}, ""
        for i in range(14):
            proc = start(home, "apply", *cmd, env=env)
            interrupt(proc, 0.7 + 0.5 * i, signal.SIGKILL)
            code, doc, err = finish(proc)
            if code == 0:
                break
            assert code == -signal.SIGKILL, err[-3000:]
            killed += 1
        if code != 0:
            code, doc, err = finish(start(home, "apply", *cmd, env=env))
        assert code == 0 and killed >= 3, err[-3000:]
        assert_converged(served, doc)
    finally:
        served.stop()


def test_a_lost_network_is_bridged_or_resumed(tmp_path: Path) -> None:
    """The cloud goes away mid-run (the sandbox is killed) and comes back on the same address: the run retries
    through the gap, or ends as interrupted (4) and the next run finishes; nothing is duplicated."""
    directory = tmp_path / "sandbox"
    served = start_sandbox(directory, "--speed", "60")
    home = Home(tmp_path / "home")
    args, env = endpoint_args(served.info)
    cmd = [*args, "--answers", str(ANSWERS), "--yes", "--json"]
    proc = start(home, "apply", *cmd, env=env)
    time.sleep(2.5)
    served.proc.kill()
    served.proc.wait()
    time.sleep(3)
    served = start_sandbox(directory, "--speed", "60")
    try:
        assert endpoint_args(served.info)[0] == args  # same port, same CA: the same cloud
        code, doc, err = finish(proc)
        assert code in (0, 4), err[-3000:]
        if code == 4:
            code, doc, err = finish(start(home, "apply", *cmd, env=env))
        assert code == 0, err[-4000:]
        assert_converged(served, doc)
    finally:
        served.stop()


def test_a_second_apply_of_the_same_install_waits_its_turn(tmp_path: Path) -> None:
    """Two applies of one install at once on this host (another terminal, the TUI beside the CLI): the second is
    refused (3) naming the first, without touching anything; the first goes on to the end, undisturbed; run again
    afterwards, the second finds nothing to change."""
    served = start_sandbox(tmp_path / "sandbox", "--speed", "20")  # a cluster that takes a while to make
    home = Home(tmp_path / "home")
    args, env = endpoint_args(served.info)
    cmd = [*args, "--answers", str(ANSWERS), "--yes", "--json"]
    try:
        first = start(home, "apply", *cmd, env=env)
        wait_started(first, home, "cluster")
        assert first.poll() is None, "the first run ended before the second could start"
        code, doc, err = finish(start(home, "apply", *cmd, env=env))
        assert code == 3 and "another apply of install" in err and f"(pid {first.pid})" in err, err[-2000:]
        assert first.poll() is None, "the second run ended only after the first: the test proves nothing"
        code, doc, err = finish(first)
        assert code == 0 and "resuming" not in err, err[-3000:]
        assert_converged(served, doc)
        code, again, err = finish(start(home, "apply", *cmd, env=env))
        assert code == 0 and {s["action"] for s in again["steps"].values()} == {"none"}, err[-3000:]
    finally:
        served.stop()
