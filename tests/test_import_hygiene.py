"""The headless core stays headless: no module of wizard/ (cli.py aside) imports textual or screens/."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import wizard

MODULES = sorted(m.name for m in pkgutil.walk_packages(wizard.__path__, "wizard.") if m.name != "wizard.cli")


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_no_ui(module: str) -> None:
    code = (f"import sys, {module}; bad = [m for m in sys.modules if m == 'textual' or m.startswith('textual.') "
            "or m == 'screens' or m.startswith('screens.')]; print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"{module} pulled in {out.stdout.strip()} {out.stderr[-500:]}"


def test_cli_help_stays_headless() -> None:
    code = ("import sys, wizard.cli as c\ntry:\n    c.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "sys.exit(1 if 'textual' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60).returncode == 0
