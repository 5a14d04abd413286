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


def test_the_ui_draws_before_the_sdks_load() -> None:
    """Importing the TUI (and the flow it drives) loads no azure-mgmt SDK and no kubernetes client: they load in a
    worker when first used, so the first frame does not wait for them (bench/first_paint.py measures it)."""
    code = ("import sys, screens.app, wizard.logs; heavy = sorted(m for m in sys.modules if m.startswith("
            "('azure.mgmt', 'kubernetes'))); print(heavy[:5]); sys.exit(1 if heavy else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"importing screens.app loaded {out.stdout.strip()} {out.stderr[-500:]}"
