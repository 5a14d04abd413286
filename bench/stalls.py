"""How long the TUI's event loop is blocked during a whole install: a 5 ms ticker runs beside Pilot while it walks
welcome -> subscription -> sizing -> review -> confirm -> install -> done against a fresh sandbox; prints, per
screen, how many ticks, the longest stall and the 99th percentile (a stall is how much later than asked a tick
woke up).

    .venv/bin/python bench/stalls.py [--speed 200]

Needs an unlocked Secret Service (inside ``dbus-run-session`` with gnome-keyring, as test.sh does)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from screens.app import CloudTarget, StudioMLApp  # noqa: E402
from tests.conftest import start_sandbox  # noqa: E402
from tests.engine.helpers import Home  # noqa: E402
from wizard.flow import Wizard  # noqa: E402
from wizard.session import Options, open_session  # noqa: E402

TICK = 0.005


async def walk(app: StudioMLApp, lags: dict[str, list[float]]) -> None:
    """Drive the install; the ticker records each tick's lateness under the screen then shown."""
    done = False

    async def ticker() -> None:
        while not done:
            asked = time.perf_counter()
            await asyncio.sleep(TICK)
            lags[type(app.screen).__name__].append(time.perf_counter() - asked - TICK)

    async def until(ok: object, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while not ok():  # type: ignore[operator]
            if time.monotonic() > deadline:
                said = [n.message for n in app._notifications]
                raise SystemExit(f"timed out on {type(app.screen).__name__}: {said[-1:]}")
            await pilot.pause(0.05)

    async with app.run_test(size=(160, 50)) as pilot:
        tick = asyncio.create_task(ticker())
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(lambda: type(app.screen).__name__ == "SubscriptionScreen" and bool(app.screen.subs))
        await pilot.press("enter")
        await until(lambda: type(app.screen).__name__ == "SizingScreen" and "a month" in str(
            app.screen.query_one("#sizing-status").render()))
        await pilot.press("r")
        await until(lambda: type(app.screen).__name__ == "ReviewScreen" and app.screen.ready)
        await pilot.press("a")
        await pilot.pause(0.3)
        await pilot.press("y")
        await until(lambda: type(app.screen).__name__ == "ProgressScreen" and app.screen.finished, timeout=300)
        await pilot.pause(0.5)
        done = True
        await tick


def main() -> int:
    """Serve a sandbox, walk the install, print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--speed", type=float, default=200.0)
    speed = parser.parse_args().speed
    with tempfile.TemporaryDirectory() as tmp:
        served = start_sandbox(Path(tmp) / "sandbox", "--speed", str(speed))
        try:
            info = served.info
            home = Home(Path(tmp) / "home")
            os.environ.update({k: v for k, v in home.env({"AZURE_CLIENT_ID": info["client_id"],
                                                          "AZURE_CLIENT_SECRET": info["client_secret"],
                                                          "AZURE_TENANT_ID": info["tenant_id"]}).items()
                               if k.startswith(("XDG_", "AZURE_"))})
            opts = Options(arm_endpoint=info["arm"], authority=info["authority"], graph_endpoint=info["graph"],
                           prices_endpoint=info["prices"], ca_bundle=info["ca_bundle"], speed=speed)
            wizard = Wizard(lambda show: open_session(replace(opts, on_device_code=show)))
            app = StudioMLApp(CloudTarget("the sandbox", info["arm"], "bench"), wizard)
            lags: dict[str, list[float]] = defaultdict(list)
            asyncio.run(walk(app, lags))
        finally:
            served.stop()
    print(f"event-loop stalls during a whole TUI install (ticker {TICK * 1000:.0f} ms, sandbox speed x{speed:g}):")
    every = sorted(x for v in lags.values() for x in v)
    for name, values in lags.items():
        values.sort()
        p99 = values[int(len(values) * 0.99) - 1] if values else 0.0
        print(f"  {name:<18} ticks {len(values):>6}  max {values[-1] * 1000:7.1f} ms  p99 {p99 * 1000:6.1f} ms")
    print(f"  {'all':<18} ticks {len(every):>6}  max {every[-1] * 1000:7.1f} ms  "
          f"p99 {every[int(len(every) * 0.99) - 1] * 1000:6.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
