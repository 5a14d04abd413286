"""Shared fixtures: a real sandbox process, SDK clients pointed at it, and a spec recorder."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class RunningSandbox:
    """A ``studioml-azure sandbox serve`` process and its ready line."""

    proc: subprocess.Popen[str]
    info: dict[str, Any]
    directory: Path

    def stop(self) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=20)


def start_sandbox(directory: Path, *args: str) -> RunningSandbox:
    """Start ``sandbox serve`` on ``directory`` and read its JSON ready line."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "wizard.cli", "sandbox", "serve", "--dir", str(directory), *args],
        stdout=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait(timeout=10)
        raise RuntimeError(f"sandbox serve exited {proc.returncode} without a ready line")
    return RunningSandbox(proc, json.loads(line), directory)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    """One fast sandbox (speed 200) for the whole session."""
    running = start_sandbox(tmp_path_factory.mktemp("sandbox"), "--speed", "200")
    yield running
    running.stop()


@pytest.fixture
def slow_sandbox(tmp_path: Path) -> Iterator[RunningSandbox]:
    """A sandbox at real-Azure timing, for tests about delays (replication, pending sign-in)."""
    running = start_sandbox(tmp_path / "slow", "--speed", "1")
    yield running
    running.stop()


@dataclass
class Recorder:
    """Collects every HTTP answer an SDK client receives."""

    seen: list[tuple[str, str, int, Any]] = field(default_factory=list)

    def hook(self, pipeline_response: Any) -> None:
        """azure-core ``raw_response_hook``."""
        req, resp = pipeline_response.http_request, pipeline_response.http_response
        try:
            text = resp.text()
        except Exception:  # a streamed LRO answer: read it (the SDK reads the cached bytes later)
            resp.read()
            text = resp.text()
        try:
            body = json.loads(text) if text else None
        except ValueError:
            body = text
        self.seen.append((req.method, req.url, resp.status_code, body))


@pytest.fixture
def recorder() -> Recorder:
    """A fresh recorder; tests validate its answers with ``tests.contract.checks``."""
    return Recorder()


def require_kubectl() -> str:
    """The kubectl the tests run. None on PATH is a failure saying how to get one, never a skip: ./test.sh puts the
    machine's, or a pinned official one (scripts/install_kubectl.py), there."""
    path = shutil.which("kubectl")
    if path is None:
        pytest.fail("kubectl is not on PATH: run the suite with ./test.sh, which installs a pinned kubectl into "
                    ".tools/bin when the machine has none")
    return path


def admin_credential(info: dict[str, Any]) -> Any:
    """azure-identity's ClientSecretCredential for a sandbox's administrator, from its ready line."""
    from azure.identity import ClientSecretCredential

    return ClientSecretCredential(info["tenant_id"], info["client_id"], info["client_secret"],
                                  authority=info["authority"], disable_instance_discovery=True,
                                  connection_verify=info["ca_bundle"])


@pytest.fixture
def credential(sandbox: RunningSandbox) -> Any:
    """The session sandbox's administrator credential."""
    return admin_credential(sandbox.info)


@pytest.fixture
def arm(sandbox: RunningSandbox, credential: Any, recorder: Recorder) -> Callable[..., Any]:
    """Build an official azure-mgmt client against the sandbox: ``arm(ClientClass, subscription_id)``."""
    def make(cls: Any, *args: Any) -> Any:
        return cls(credential, *args, base_url=sandbox.info["arm"], connection_verify=sandbox.info["ca_bundle"],
                   raw_response_hook=recorder.hook,
                   polling_interval=0.05)
    return make


# The longest tests (a whole TUI install through run.sh four times; az running the printed script; regions added
# and mended) start first: xdist hands tests out in collection order, and one of these starting last made the
# suite's tail.
SLOW_FIRST = ("tests/test_e2e_terminal.py", "tests/engine/test_regions.py", "tests/engine/test_script.py",
              "tests/engine/test_destroy.py", "tests/engine/test_image_source.py", "tests/engine/test_experimenters.py",
              "tests/engine/test_scale_to_zero.py", "tests/engine/test_ranking.py")


def pytest_configure(config: pytest.Config) -> None:
    """The suite writes keyring entries: it runs only inside the private, throwaway Secret Service that ./test.sh
    (scripts/keyring_session.sh) starts, never against the keyring of the person running plain pytest."""
    if not os.environ.get("STUDIOML_PRIVATE_KEYRING"):
        pytest.exit("run the tests with ./test.sh [pytest args]: it starts a private keyring for them (plain pytest "
                    "would write test secrets into your own keyring)", returncode=2)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Slow files first, the rest in their usual order (the same on every worker: the sort is stable)."""
    items.sort(key=lambda item: 0 if item.nodeid.startswith(SLOW_FIRST) else 1)
