"""The TUI drives a whole install (Pilot): welcome -> subscription -> sizing (estimate table and bar chart) ->
review (the plan) -> progress (the engine's events) -> done, against a sandbox; checked from outside with kubectl."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from screens.app import CloudTarget, StudioMLApp
from screens.estimate import EstimateView
from screens.progress import ProgressScreen
from screens.review import ReviewScreen
from screens.sizing import SizingScreen
from screens.subscription import SubscriptionScreen
from tests.conftest import RunningSandbox
from tests.engine.helpers import Home, kubectl_deployment
from wizard.flow import Wizard
from wizard.session import Options, open_session


async def _until(pilot: Pilot[int], ok: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)


def _text(app: StudioMLApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def _to_sizing(pilot: Pilot[int], app: StudioMLApp) -> None:
    """Welcome -> the first subscription (the sandbox has no az default) -> sizing with its estimate."""
    await pilot.press("enter")
    await _until(pilot, lambda: isinstance(app.screen, SubscriptionScreen) and bool(app.screen.subs),
                 "the subscriptions")
    await pilot.press("enter")
    await _until(pilot, lambda: isinstance(app.screen, SizingScreen) and "a month" in _text(app, "#sizing-status"),
                 "the estimate")


def _wizard(served: RunningSandbox, home: Home, monkeypatch: pytest.MonkeyPatch, prices: str = "") -> Wizard:
    """A wizard signed in to the served sandbox as its admin service principal, with a private home."""
    info = served.info
    for key, value in home.env({"AZURE_CLIENT_ID": info["client_id"], "AZURE_CLIENT_SECRET": info["client_secret"],
                                "AZURE_TENANT_ID": info["tenant_id"]}).items():
        if key.startswith(("XDG_", "AZURE_")):
            monkeypatch.setenv(key, value)
    opts = Options(arm_endpoint=info["arm"], authority=info["authority"], graph_endpoint=info["graph"],
                   prices_endpoint=prices or info["prices"], ca_bundle=info["ca_bundle"], speed=200)
    return Wizard(lambda: open_session(opts))


@pytest.fixture
def wizard(served: RunningSandbox, home: Home, monkeypatch: pytest.MonkeyPatch) -> Wizard:
    """The wizard of the served sandbox."""
    return _wizard(served, home, monkeypatch)


def test_sizing_snapshot_prices_from_the_dated_snapshot(served: RunningSandbox, home: Home,
                                                        monkeypatch: pytest.MonkeyPatch, snap_compare) -> None:  # type: ignore[no-untyped-def]
    """The sizing screen with the Retail Prices API unreachable: the bundled snapshot's prices, labelled with its
    date (and so the same picture every time)."""
    wizard = _wizard(served, home, monkeypatch, prices="https://127.0.0.1:9/api/retail/prices")
    app = StudioMLApp(CloudTarget("the sandbox", "https://127.0.0.1:1", "test"), wizard)

    async def to_sizing(pilot: Pilot[int]) -> None:
        await _to_sizing(pilot, app)
        assert "bundled snapshot dated" in str(app.screen.query_one(EstimateView).query_one(".source", Static).render())

    assert snap_compare(app, terminal_size=(150, 45), run_before=to_sizing)


async def test_the_tui_installs_end_to_end(wizard: Wizard, served: RunningSandbox) -> None:
    app = StudioMLApp(CloudTarget("the sandbox", served.info["arm"], "test"), wizard)
    async with app.run_test(size=(160, 50)) as pilot:
        await _to_sizing(pilot, app)
        table = app.screen.query_one(EstimateView).query_one(DataTable)
        assert table.row_count == 11  # 4 cluster lines, 6 home lines, the total
        assert "█" in str(app.screen.query_one(EstimateView).query_one(".bars", Static).render())
        nodes = app.screen.query_one("#nodes")
        nodes.focus()
        await pilot.press("backspace", "0", "enter")  # the core refuses 0 nodes, and says what is allowed
        await _until(pilot, lambda: "1 to 100" in _text(app, "#sizing-error"), "the error")
        await pilot.press("backspace", "2", "enter")
        await _until(pilot, lambda: "2 x Standard_NC4as_T4_v3" in _text(app, "#sizing-status"), "two nodes")
        assert wizard.answers.gpu_nodes == 2 and wizard.answers.runner_replicas == 2
        await pilot.press("r")
        await _until(pilot, lambda: isinstance(app.screen, ReviewScreen) and app.screen.ready, "the plan")
        assert "step(s) to change" in _text(app, "#review-status")
        plan = app.screen.query_one("#plan", DataTable)
        assert plan.row_count == 16 and "create" in str(plan.get_row_at(plan.row_count - 1)[0])  # the runner
        await pilot.press("a")
        await _until(pilot, lambda: isinstance(app.screen, ProgressScreen) and app.screen.finished, "the install",
                     timeout=120)
        status = _text(app, "#progress-status")
        assert status.startswith("Done."), status
        steps = app.screen.query_one("#steps", DataTable)
        assert steps.row_count == 16
    kubeconfig = Path(status.split("Kubeconfig: ")[1].split(" (0600)")[0])
    dep = kubectl_deployment(str(kubeconfig))  # the machine's kubectl with the kubeconfig the TUI wrote
    assert dep["status"].get("readyReplicas") == 2


async def test_a_refusal_is_shown_with_its_way_out(wizard: Wizard, served: RunningSandbox) -> None:
    """A size with no quota in the region: the review refuses it before anything is made, naming the family."""
    app = StudioMLApp(CloudTarget("the sandbox", served.info["arm"], "test"), wizard)
    async with app.run_test(size=(160, 50)) as pilot:
        await _to_sizing(pilot, app)
        wizard.answer(gpu_sku="Standard_NC24ads_A100_v4", region="eastus2")
        await pilot.press("r")
        await _until(pilot, lambda: bool(app._notifications), "the refusal")
        shown = " ".join(n.message for n in app._notifications)
        assert "next:" in shown and "quota" in shown.lower(), shown
        assert isinstance(app.screen, ReviewScreen) and not app.screen.ready
