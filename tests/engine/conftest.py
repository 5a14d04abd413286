"""Fixtures of the engine tests: a fresh fast sandbox per test and a private home for the wizard."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RunningSandbox, start_sandbox
from tests.engine.helpers import Home


@pytest.fixture
def served(tmp_path: Path) -> Iterator[RunningSandbox]:
    """A `sandbox serve` of its own (speed 200) in ``tmp_path/sandbox``: tests here use quota and make a lot."""
    running = start_sandbox(tmp_path / "sandbox", "--speed", "200")
    yield running
    running.stop()


@pytest.fixture
def home(tmp_path: Path) -> Home:
    """The wizard's private state, data, cache and config folders."""
    return Home(tmp_path / "home")
