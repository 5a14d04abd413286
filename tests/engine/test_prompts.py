"""The plain prompt mode in a real terminal (tmux): ``plan``/``apply`` without an answers file ask a person,
check each answer with the core's validation, keep stdout one JSON document, and ask before changing anything."""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, RunningSandbox
from tests.engine.helpers import Home, answers_with, endpoint_args, run, sandbox_writes, stored
from tests.tmux import Tmux

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (test.sh installs it)")
EXE = shlex.quote(str(Path(sys.executable).parent / "studioml-azure"))


def _terminal(served: RunningSandbox, home: Home) -> tuple[Tmux, str, dict[str, str]]:
    args, env = endpoint_args(served.info)
    keep = {k: v for k, v in home.env(env).items() if k.startswith(("XDG_", "AZURE_", "DBUS_", "PATH", "HOME"))}
    return Tmux(ROOT), " ".join(shlex.quote(a) for a in args), keep


def test_plan_without_answers_asks_and_checks_each_answer(served: RunningSandbox, home: Home, tmp_path: Path) -> None:
    term, args, env = _terminal(served, home)
    out, marker = tmp_path / "plan.json", tmp_path / "exit"
    try:
        term.run(f"{EXE} plan {args} --json > {out}", marker, env)
        term.wait_for("Subscription")
        assert "Pay-As-You-Go" in term.pane()  # the sign-in sees several: the person picks
        term.send("Enter")
        term.wait_for("GPU size of the pool")
        assert "USD/h in eastus" in term.pane()  # each size with its price
        term.send("Down", "Enter")
        term.wait_for("GPU nodes")
        term.send("BSpace", "0", "Enter")
        term.wait_for("gpu_nodes = 0 is not allowed")  # the core's message, and asked again
        term.send("BSpace", "2", "Enter")
        screen = term.wait_for("Region (")
        assert "headroom" in screen and "vCPUs" in screen
        term.send("Enter")
        term.wait_for("Runner replicas")
        term.send("Enter")
        term.wait_for("How the cluster pulls")
        term.send("Down", "Enter")
        screen = term.wait_for("runner image comes from")
        assert "quay.io/leafai/studio-go-runner:0.9.21" in screen and "anonymously" in screen
        term.send("Enter")  # quay.io, suggested over anonymous Docker Hub
        term.wait_for("admin user")
        term.send("Enter")
        assert term.exit_code(marker) == 0, term.pane()
        screen = term.pane()
        assert "these answers as a file" in screen and 'pull_auth = "attach"' in screen
    finally:
        term.close()
    doc = json.loads(out.read_text())  # the prompts went to the terminal, not into the JSON
    assert doc["answers"] | {"subscription": ""} == {
        "subscription": "", "region": "eastus", "uniq_id": "auto", "gpu_sku": "Standard_NC8as_T4_v3", "gpu_nodes": 2,
        "runner_image": "quay.io/leafai/studio-go-runner:0.9.21", "source_registry_user": "", "runner_replicas": 2,
        "admin_user": False,
        "pull_auth": "attach", "currency": "USD", "interface": "eth0", "client_cidrs": [], "gpu_priority": "regular",
        "scale_to_zero": False}
    assert doc["subscription"]["name"] == "Visual Studio Ultimate with MSDN"
    assert sandbox_writes(served) == []


def test_apply_asks_before_changing_anything(served: RunningSandbox, home: Home, tmp_path: Path) -> None:
    term, args, env = _terminal(served, home)
    marker = tmp_path / "exit"
    answers = answers_with(tmp_path, source_registry_user="studioml")
    token = "dckr_pat_" + "Hx7Qm2Vr9Lp4Tz6Wc3Nb8Ks5"
    try:
        term.run(f"{EXE} apply {args} --answers {shlex.quote(str(answers))}", marker, env)
        term.wait_for("Access token of studioml")  # the answers name the user; the token is asked, hidden
        term.send(token)
        assert token not in term.pane()
        term.send("Enter")
        screen = term.wait_for("change(s)?")
        assert token not in screen
        assert "create  AKS cluster with a GPU pool" in screen
        term.send("n")
        assert term.exit_code(marker) == 0, term.pane()
        assert "nothing changed." in term.pane()
    finally:
        term.close()
    assert sandbox_writes(served) == []
    args_list, env_vars = endpoint_args(served.info)
    code, doc, err = run(home, "plan", *args_list, "--answers", str(answers), "--json", env=env_vars)
    assert code == 0 and doc["warnings"] == [], err[-2000:]  # the token is kept: nothing to warn about
    assert stored("studioml-azure", f"{served.info['tenant_id']}/{doc['uniq_id']['value']}/source-registry-token") \
        == token
