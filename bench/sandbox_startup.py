"""Print how long ``sandbox serve`` takes to print its ready line, cold (new folder) and warm (reused)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def once(directory: Path) -> float:
    """Seconds from spawn to the JSON ready line."""
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "wizard.cli", "sandbox", "serve", "--dir", str(directory)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    json.loads(proc.stdout.readline())
    elapsed = time.monotonic() - start
    proc.terminate()
    proc.wait()
    return elapsed


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        cold = once(Path(tmp))
        warm = min(once(Path(tmp)) for _ in range(3))
    print(f"sandbox ready line: cold {cold:.2f} s, warm {warm:.2f} s")
