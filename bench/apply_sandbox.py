"""Time a whole install against a fresh sandbox: wall time, and when each step finished.

    .venv/bin/python bench/apply_sandbox.py [--speed 20]

Needs an unlocked Secret Service (run it inside ``dbus-run-session`` with gnome-keyring, as test.sh does).
Prints figures only; the sandbox scales real Azure durations by 1/speed, so ``wall x speed`` estimates the
real-Azure wall time, to compare with the longest chain (AKS creation, ~300 s in real Azure).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import start_sandbox  # noqa: E402
from tests.engine.helpers import ANSWERS, Home, endpoint_args, run  # noqa: E402

LINE = re.compile(r"^\[\s*([\d.]+)s\]\s+(\S+): (created|updated|unchanged)")


def main() -> int:
    """Run one apply and a re-run; print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--speed", type=float, default=20.0)
    speed = parser.parse_args().speed
    with tempfile.TemporaryDirectory() as tmp:
        served = start_sandbox(Path(tmp) / "sandbox", "--speed", str(speed))
        try:
            args, env = endpoint_args(served.info)
            home = Home(Path(tmp) / "home")
            started = time.monotonic()
            code, _doc, err = run(home, "apply", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
            wall = time.monotonic() - started
            if code != 0:
                print(err[-3000:], file=sys.stderr)
            finished = {m.group(2): float(m.group(1)) for m in map(LINE.match, err.splitlines()) if m}
            started = time.monotonic()
            code2, _doc, _err = run(home, "apply", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
            rerun = time.monotonic() - started
        finally:
            served.stop()
    print(f"speed x{speed:g}: apply exit {code}, wall {wall:.1f} s (~{wall * speed / 60:.1f} min of real Azure)")
    for step, at in sorted(finished.items(), key=lambda kv: kv[1]):
        print(f"  {step:<22} done at {at:6.1f} s")
    aks = finished.get("cluster", 0.0)
    print(f"cluster (the longest chain's core) done at {aks:.1f} s; everything after it took {wall - aks:.1f} s")
    print(f"re-run with nothing to change: exit {code2}, wall {rerun:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
