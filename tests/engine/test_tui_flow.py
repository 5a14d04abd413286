"""The TUI drives a whole install (Pilot): welcome -> subscription -> sizing (estimate table and bar chart) ->
review (the plan) -> progress (the engine's events) -> done, against a sandbox; checked from outside with kubectl."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.mgmt.resource.resources import ResourceManagementClient
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, OptionList, RichLog, Static

from screens.app import CloudTarget, StudioMLApp
from screens.destroy import DestroyScreen
from screens.estimate import EstimateView
from screens.progress import ProgressScreen
from screens.review import ReviewScreen
from screens.secrets import RevealScreen, SecretsScreen
from screens.sizing import SizingScreen
from screens.status import StatusScreen
from screens.subscription import SubscriptionScreen
from tests.conftest import RunningSandbox, admin_credential
from tests.engine.helpers import ANSWERS, Home, answers_with, endpoint_args, kubectl_deployment, run, stored
from wizard.flow import Wizard
from wizard.report import money
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
    await _to_subscriptions(pilot, app)
    await pilot.press("enter")
    await _at_sizing(pilot, app)


async def _to_subscriptions(pilot: Pilot[int], app: StudioMLApp) -> None:
    await pilot.press("enter")
    await _until(pilot, lambda: isinstance(app.screen, SubscriptionScreen) and bool(app.screen.subs),
                 "the subscriptions")


async def _pick_with(pilot: Pilot[int], app: StudioMLApp, field: str, value: str) -> None:
    """Type ``value`` into the subscription screen's ``field`` and pick the highlighted subscription."""
    app.screen.query_one(field, Input).value = value
    app.screen.query_one("#subscriptions", OptionList).focus()
    await pilot.press("enter")


async def _at_sizing(pilot: Pilot[int], app: StudioMLApp) -> None:
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
    return Wizard(lambda show: open_session(replace(opts, on_device_code=show)))


@pytest.fixture
def wizard(served: RunningSandbox, home: Home, monkeypatch: pytest.MonkeyPatch) -> Wizard:
    """The wizard of the served sandbox."""
    return _wizard(served, home, monkeypatch)


def test_sizing_snapshot_prices_from_the_dated_snapshot(served: RunningSandbox, home: Home,
                                                        monkeypatch: pytest.MonkeyPatch, snap_compare) -> None:  # type: ignore[no-untyped-def]
    """The sizing screen with the Retail Prices API unreachable: the bundled snapshot's prices, labelled with its
    date (and so the same picture every time)."""
    wizard = _wizard(served, home, monkeypatch, prices="https://127.0.0.1:9/api/retail/prices")
    wizard.answer(uniq_id="5a0d5a0d")  # the derived one hashes the sandbox's (random) subscription id
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
        assert table.row_count == 14  # 4 cluster lines, 9 home lines (3 of them the NAT gateway), the total
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
        assert plan.row_count == 20 and "create" in str(plan.get_row_at(plan.row_count - 1)[0])  # the probe
        await pilot.press("a", "y")
        await _until(pilot, lambda: isinstance(app.screen, ProgressScreen) and app.screen.finished, "the install",
                     timeout=120)
        status = _text(app, "#progress-status")
        assert status.startswith("Done."), status
        steps = app.screen.query_one("#steps", DataTable)
        assert steps.row_count == 20
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
        assert _text(app, "#review-status").startswith("Could not go on: not enough compute quota in eastus2")


async def test_after_an_install_secrets_stay_hidden_and_status_reads_it(served: RunningSandbox, home: Home,
                                                                        wizard: Wizard, tmp_path: Path) -> None:
    """After an install (the CLI's, same home): every secret named with its keyring address, values hidden; one is
    shown only after its exact name is typed, and Esc takes it off the screen; no screenshot while it is shown;
    o twice rotates the service principal's password. The status screen shows what the CLI's ``status`` reads:
    the region, its GPU pool, the runner ready, the kubeconfig and its 0600 mode, the password's end."""
    args, env = endpoint_args(served.info)
    doc, password = _installed(served, home, "sp-password")
    app = StudioMLApp(CloudTarget("the sandbox", served.info["arm"], "test"), wizard)
    async with app.run_test(size=(160, 50)) as pilot:
        await _to_sizing(pilot, app)
        await pilot.press("k")
        await _until(pilot, lambda: isinstance(app.screen, SecretsScreen) and bool(app.screen.entries), "secrets")
        assert sum(e.stored for e in app.screen.entries) >= 8
        assert password not in _all_text(app)
        table = app.screen.query_one(DataTable)
        assert str(table.get_row_at(0)[0]) == "sp-password" and "hidden" in str(table.get_row_at(0)[3])
        await pilot.press("v")
        await _until(pilot, lambda: isinstance(app.screen, RevealScreen), "the question")
        await pilot.press(*"sp-passwrd", "enter")  # a typo shows nothing
        assert "nothing shown" in _text(app, "#reveal-value") and password not in _all_text(app)
        app.screen.query_one(Input).value = ""
        await pilot.press(*"sp-password", "enter")
        assert _text(app, "#reveal-value") == password
        shots = tmp_path / "shots"
        shots.mkdir()
        app.action_screenshot(path=str(shots))  # what the screenshot key and the palette's command do
        await pilot.pause()
        assert not list(shots.iterdir()), "a screenshot with the secret on it was saved"
        assert "Screenshot" not in {c.title for c in app.get_system_commands(app.screen)}
        await pilot.press("escape")
        assert isinstance(app.screen, SecretsScreen) and password not in _all_text(app)
        assert "Screenshot" in {c.title for c in app.get_system_commands(app.screen)}
        await pilot.press("o")  # rotation: said first, done on the second press
        assert "Press o again" in _text(app, "#secrets-status") and app.screen.rotation is None
        await pilot.press("o")
        await _until(pilot, lambda: app.screen.rotation is not None, "the rotation")
        assert _text(app, "#secrets-status").startswith("Rotated: the old password is removed. eastus: pull secret")
        rotated = stored("studioml-azure", f"{doc['tenant']}/{doc['uniq_id']['value']}/sp-password")
        assert rotated and rotated != password and rotated not in _all_text(app)
        await pilot.press("escape", "t")
        await _until(pilot, lambda: isinstance(app.screen, StatusScreen) and app.screen.doc is not None, "status")
        code, cli, err = run(home, "status", *args, "--json", env=env)
        assert code == 0, err[-2000:]
        region = cli["regions"][0]
        row = [str(c) for c in app.screen.query_one("#status-regions", DataTable).get_row_at(0)]
        assert row[:5] == ["eastus (home)", region["cluster"], "Succeeded", "2 x Standard_NC4as_T4_v3", "2/2 ready"]
        assert row[5].startswith("AMQP ok, S3 ok (") and row[6:8] == [region["kubeconfig"], "0o600"], row
        assert row[8] == f"{region['cost']['hourly_now']:,.2f} USD/h" and row[9].startswith("~"), row
        assert "RabbitMQ VM Succeeded: amqp: ok" in _text(app, "#status-home")
        assert "file server (S3) VM Succeeded: s3: ok" in _text(app, "#status-home")
        assert _text(app, "#status-status").endswith("installed, every runner ready.")
        assert f"{len(cli['home']['keyring'])} secret(s) in the keyring" in _text(app, "#status-home")
        assert f"password valid until {cli['home']['sp_password_expires'][:10]}" in _text(app, "#status-home")
        # D on the home row: the whole install, after its id is typed
        uid = cli["uniq_id"]["value"]
        await pilot.press("D")
        await _until(pilot, lambda: isinstance(app.screen, DestroyScreen), "the destroy plan")
        plan = _text(app, "#destroy-plan")
        assert f"delete  resource group leafai-{uid} (home cluster)" in plan and "saves about" in plan, plan
        await pilot.press(*"nope", "enter")
        assert _text(app, "#destroy-status") == "That is not the install id: nothing deleted."
        app.screen.query_one(Input).value = ""
        await pilot.press(*uid, "enter")
        await _until(pilot, lambda: _text(app, "#destroy-status").startswith("Done:"), "the destroy", timeout=120)
        await pilot.press("escape")
        await _until(pilot, lambda: isinstance(app.screen, StatusScreen) and app.screen.doc is not None
                     and not app.screen.doc["regions"], "status after the destroy")
    code, cli, err = run(home, "status", *args, "--json", env=env)
    assert code == 0 and cli["regions"] == [] and cli["home"]["registry"] is None and cli["home"]["keyring"] == []


def _installed(served: RunningSandbox, home: Home, secret: str) -> tuple[dict[str, Any], str]:
    """An install made by the CLI (same home), and one of its secrets from the keyring."""
    args, env = endpoint_args(served.info)
    code, doc, err = run(home, "apply", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
    assert code == 0, err[-3000:]
    value = stored("studioml-azure", f"{doc['tenant']}/{doc['uniq_id']['value']}/{secret}")
    assert value
    return doc, value


def _all_text(app: StudioMLApp) -> str:
    return " ".join(str(w.render()) for w in app.screen.query(Static)) + " ".join(
        str(table.get_row_at(i)) for table in app.screen.query(DataTable) for i in range(table.row_count))


async def test_stop_safely_then_apply_again_resumes(wizard: Wizard, served: RunningSandbox) -> None:
    """s stops the install at the next safe point (resumable); applying again says it resumes and finishes."""
    app = StudioMLApp(CloudTarget("the sandbox", served.info["arm"], "test"), wizard)
    async with app.run_test(size=(160, 50)) as pilot:
        await _to_sizing(pilot, app)
        await pilot.press("r")
        await _until(pilot, lambda: isinstance(app.screen, ReviewScreen) and app.screen.ready, "the plan")
        await pilot.press("a", "y")
        await _until(pilot, lambda: isinstance(app.screen, ProgressScreen)
                     and app.screen.query_one("#steps", DataTable).row_count >= 3, "the first steps")
        from screens.progress import QuitDuringRun

        await pilot.press("q")  # q mid-run asks first; k keeps it running
        assert isinstance(app.screen, QuitDuringRun) and "left unfinished" in _all_text(app)
        await pilot.press("k")
        assert isinstance(app.screen, ProgressScreen) and not app.screen.finished
        await pilot.press("s")
        await _until(pilot, lambda: app.screen.finished, "the stop")
        assert _text(app, "#progress-status").startswith("Stopped before finishing, at a safe point: apply again")
        assert app.screen.check_action("stop", ()) is False  # no Stop offered once it is over
        await pilot.press("escape")  # finished: back to the review, read again
        assert isinstance(app.screen, ReviewScreen)
        await _until(pilot, lambda: app.screen.ready, "the plan read again")
        await pilot.press("a", "y")
        await _until(pilot, lambda: isinstance(app.screen, ProgressScreen) and app.screen.finished, "the rerun",
                     timeout=120)
        assert _text(app, "#progress-status").startswith("Done."), _text(app, "#progress-status")
        log = " ".join(" ".join(line.text for line in app.screen.query_one(RichLog).lines).split())  # unwrapped
        assert "the last run stopped before finishing" in log


async def test_a_run_that_cannot_start_lets_the_person_go_back(wizard: Wizard, served: RunningSandbox) -> None:
    """The answers changed after the review to a size without quota: the run is refused before anything is made,
    the message names the way out, and Esc goes back."""
    app = StudioMLApp(CloudTarget("the sandbox", served.info["arm"], "test"), wizard)
    async with app.run_test(size=(160, 50)) as pilot:
        await _to_sizing(pilot, app)
        await pilot.press("r")
        await _until(pilot, lambda: isinstance(app.screen, ReviewScreen) and app.screen.ready, "the plan")
        wizard.answer(gpu_sku="Standard_NC24ads_A100_v4", region="eastus2")
        await pilot.press("a", "y")
        await _until(pilot, lambda: isinstance(app.screen, ProgressScreen) and app.screen.finished, "the refusal")
        assert _text(app, "#progress-status").startswith("Could not go on: not enough compute quota")
        assert any("quota" in n.message.lower() and "next:" in n.message for n in app._notifications)
        await pilot.press("escape")
        assert isinstance(app.screen, ReviewScreen)


async def test_device_code_sign_in_is_shown_on_screen(slow_sandbox: RunningSandbox, home: Home,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """No az login and no service principal: the subscription screen shows the device code and its URL; once the
    code is entered at that URL, the sign-in goes on to the subscriptions. (At real-Azure timing the code waits
    20 s for a person, so the screen is sure to show it, however slow the machine.)"""
    info = slow_sandbox.info
    for key, value in home.env().items():
        if key.startswith("XDG_"):
            monkeypatch.setenv(key, value)
    monkeypatch.delenv("AZURE_CLIENT_ID", raising=False)
    monkeypatch.delenv("AZURE_CLIENT_SECRET", raising=False)
    monkeypatch.setenv("AZURE_TENANT_ID", info["tenant_id"])
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(home.root / "no-az-login"))
    opts = Options(arm_endpoint=info["arm"], authority=info["authority"], graph_endpoint=info["graph"],
                   prices_endpoint=info["prices"], ca_bundle=info["ca_bundle"], interactive=True)
    wizard = Wizard(lambda show: open_session(replace(opts, on_device_code=show)))
    app = StudioMLApp(CloudTarget("the sandbox", info["arm"], "test"), wizard)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("enter")
        await _until(pilot, lambda: isinstance(app.screen, SubscriptionScreen)
                     and "enter the code" in _text(app, "#subscription-status"), "the device code")
        shown = _text(app, "#subscription-status")
        assert f"{info['authority']}/devicelogin" in shown
        code = shown.split("enter the code ")[1].split(" ")[0]
        requests.post(f"{info['authority']}/devicelogin", data={"code": code}, verify=info["ca_bundle"], timeout=10)
        await _until(pilot, lambda: bool(app.screen.subs), "the subscriptions")
        assert "signed in as device code sign-in" in _text(app, "#subscription-status")


async def test_the_palette_offers_the_screens_keys(wizard: Wizard, served: RunningSandbox) -> None:
    """ctrl+p lists what the current screen's keys do; picking one does it (here: the secrets screen, by name)."""
    app = StudioMLApp(CloudTarget("the sandbox", served.info["arm"], "test"), wizard)
    async with app.run_test(size=(160, 50)) as pilot:
        await _to_sizing(pilot, app)
        await pilot.press("ctrl+p")
        await _until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        await pilot.press(*"Secrets")
        found = app.screen.query_one(CommandList)
        await _until(pilot, lambda: found.option_count > 0 and "Secrets" in str(found.get_option_at_index(0).prompt),
                     "the command")
        found.highlighted = 0
        await pilot.press("enter")
        await _until(pilot, lambda: isinstance(app.screen, SecretsScreen) and bool(app.screen.entries), "secrets")
        assert not any(e.stored for e in app.screen.entries)  # nothing installed: every secret is missing


async def test_a_region_is_added_from_the_tui(served: RunningSandbox, home: Home, wizard: Wizard) -> None:
    """The guided re-run: after the first install (the CLI's), picking another region on the sizing screen says it
    is added to the install; the review plans its own network, peering and cluster with the home part unchanged;
    the install ends with a runner ready there, and the status screen lists both regions, home first."""
    args, env = endpoint_args(served.info)
    code, doc, err = run(home, "apply", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
    assert code == 0, err[-3000:]
    app = StudioMLApp(CloudTarget("the sandbox", served.info["arm"], "test"), wizard)
    async with app.run_test(size=(160, 50)) as pilot:
        await _to_sizing(pilot, app)
        assert wizard.home == "eastus" and "is added" not in _text(app, "#sizing-status")
        regions = app.screen.query_one("#regions", OptionList)
        ids = [regions.get_option_at_index(i).id for i in range(regions.option_count)]
        regions.focus()
        regions.highlighted = ids.index("westeurope")
        await pilot.press("enter")
        await _until(pilot, lambda: "westeurope is added to install" in _text(app, "#sizing-status"), "the region")
        await pilot.press("r")
        await _until(pilot, lambda: isinstance(app.screen, ReviewScreen) and app.screen.ready, "the plan")
        assert _text(app, "#review-status").startswith(f"westeurope is added to install {doc['uniq_id']['value']}")
        plan = app.screen.query_one("#plan", DataTable)
        actions = {str(plan.get_row_at(i)[1]): str(plan.get_row_at(i)[0]) for i in range(plan.row_count)}
        assert actions["Region virtual network"] == actions["AKS cluster with a GPU pool"] == "create", actions
        assert actions["Container registry"] == actions["RabbitMQ VM"] == "none", actions
        await pilot.press("a", "y")
        await _until(pilot, lambda: isinstance(app.screen, ProgressScreen) and app.screen.finished, "the install",
                     timeout=120)
        status = _text(app, "#progress-status")
        assert status.startswith("Done.") and "westeurope.kubeconfig" in status, status
        await pilot.press("escape", "escape", "t")
        await _until(pilot, lambda: isinstance(app.screen, StatusScreen) and app.screen.doc is not None, "status")
        table = app.screen.query_one("#status-regions", DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        n = wizard.answers.runner_replicas  # the TUI's own answers for the new region
        assert [(r[0], r[4]) for r in rows] == [("eastus (home)", "2/2 ready"), ("westeurope", f"{n}/{n} ready")], rows
        assert all(r[5].startswith("AMQP ok, S3 ok") for r in rows), rows  # pods in both regions reach the services


async def test_the_install_id_is_typed_when_the_subscription_holds_several(wizard: Wizard,
                                                                          served: RunningSandbox) -> None:
    """Two installs in the subscription (two tagged resource groups): picking it says which ids it holds; a bad id
    typed is refused by the core with what is allowed; one of the two typed, the sizing screen works on it."""
    info = served.info
    groups = ResourceManagementClient(admin_credential(info), info["subscriptions"][0], base_url=info["arm"],
                                      connection_verify=info["ca_bundle"]).resource_groups
    for uid in ("0000aaaa", "0000bbbb"):
        groups.create_or_update(f"studioml-{uid}", {"location": "eastus", "tags": {"studioml-uniq-id": uid}})
    app = StudioMLApp(CloudTarget("the sandbox", info["arm"], "test"), wizard)
    async with app.run_test(size=(160, 50)) as pilot:
        await _to_subscriptions(pilot, app)
        await pilot.press("enter")
        await _until(pilot, lambda: "0000aaaa, 0000bbbb" in _text(app, "#subscription-status"), "the two ids")
        assert "install id" in _text(app, "#subscription-status")
        await _pick_with(pilot, app, "#uniq", "not-hex")
        assert "8 lowercase hex characters" in _text(app, "#subscription-status")
        await _pick_with(pilot, app, "#uniq", "0000bbbb")
        await _at_sizing(pilot, app)
        assert _text(app, "#install-id") == "Install 0000bbbb: given as uniq_id, not derived"
        assert wizard.uniq is not None and wizard.uniq.value == "0000bbbb"


async def test_the_interface_a_new_id_hashes_is_picked_on_the_subscription_screen(wizard: Wizard,
                                                                                  served: RunningSandbox) -> None:
    """The subscription screen names this host's interfaces; one it lacks is refused by the core with that list;
    lo picked, the sizing screen names the id derived over it."""
    app = StudioMLApp(CloudTarget("the sandbox", served.info["arm"], "test"), wizard)
    async with app.run_test(size=(160, 50)) as pilot:
        await _to_subscriptions(pilot, app)
        assert "lo" in str(app.screen.query(".label").last().render())
        await _pick_with(pilot, app, "#interface", "nope0")
        await _until(pilot, lambda: "no network interface nope0" in _text(app, "#subscription-status"), "the refusal")
        assert "set interface to one of:" in _text(app, "#subscription-status")
        await _pick_with(pilot, app, "#interface", "lo")
        await _at_sizing(pilot, app)
        assert _text(app, "#install-id").endswith(" lo") or " lo here" in _text(app, "#install-id")
        assert wizard.answers.interface == "lo"


async def test_the_image_source_is_chosen_with_a_hidden_token(wizard: Wizard, served: RunningSandbox) -> None:
    """Anonymous Docker Hub is flagged on the sizing screen; `i` picks Docker Hub with a Docker ID, whose token is
    typed hidden, goes to the keyring and leaves the screen; then nothing is flagged."""
    from screens.image import ImageSourceScreen

    token = "dckr_pat_" + "Pq8Wm3Zr6Lt2Vx9Kc4Hn7Bs5"
    app = StudioMLApp(CloudTarget("the sandbox", served.info["arm"], "test"), wizard)
    async with app.run_test(size=(160, 50)) as pilot:
        await _to_sizing(pilot, app)
        assert "Docker Hub may refuse the import: press i" in _text(app, "#sizing-status")
        await pilot.press("i")
        await _until(pilot, lambda: isinstance(app.screen, ImageSourceScreen), "the image source screen")
        sources = app.screen.query_one("#sources", OptionList)
        assert sources.highlighted == 2  # the answered one: anonymous
        await pilot.press("up", "enter")  # Docker Hub with a Docker ID
        await _until(pilot, lambda: app.screen.query_one("#source-user", Input).has_focus, "the Docker ID")
        await pilot.press(*"studioml", "enter")
        assert app.screen.query_one("#source-token", Input).has_focus
        await pilot.press(*token)
        assert token not in str(app.screen.query_one("#source-token", Input).render_line(0).text)
        await pilot.press("enter")
        await _until(pilot, lambda: isinstance(app.screen, SizingScreen), "back to sizing")
        assert wizard.answers.source_registry_user == "studioml"
        assert wizard.answers.runner_image == "docker.io/leafai/studio-go-runner:0.9.21"
        assert wizard.uniq is not None
        user = f"{served.info['tenant_id']}/{wizard.uniq.value}/source-registry-token"
        assert stored("studioml-azure", user) == token
        await _until(pilot, lambda: "Image: docker.io" in _text(app, "#sizing-status")
                     and "press i" not in _text(app, "#sizing-status"), "no warning")
        await pilot.press("i")  # quay.io is one Enter away, and the user answer goes with it
        await _until(pilot, lambda: isinstance(app.screen, ImageSourceScreen), "the image source screen")
        await pilot.press("up", "enter")
        await _until(pilot, lambda: isinstance(app.screen, SizingScreen), "back to sizing")
        assert wizard.answers.runner_image == "quay.io/leafai/studio-go-runner:0.9.21"
        assert wizard.answers.source_registry_user == ""


async def test_experimenters_are_let_in_and_get_their_configuration(served: RunningSandbox, home: Home,
                                                                   wizard: Wizard, tmp_path: Path) -> None:
    """`x` on the sizing screen: who submits experiments (a bad network refused in the core's words, a good one
    answered, the estimate then prices the public IPs); after an install, the client configuration is written to the
    path typed, 0600, and nothing secret is shown."""
    from screens.experimenters import ExperimentersScreen

    _doc, password = _installed(served, home, "rabbitmq-experimenter-password")
    app = StudioMLApp(CloudTarget("the sandbox", served.info["arm"], "test"), wizard)
    async with app.run_test(size=(160, 50)) as pilot:
        await _to_sizing(pilot, app)
        rows = app.screen.query_one(EstimateView).query_one(DataTable).row_count
        await pilot.press("x")
        await _until(pilot, lambda: isinstance(app.screen, ExperimentersScreen), "the experimenters screen")
        assert "inside the install's VNet only" in _text(app, "#exp-status")
        await pilot.press(*"203.0.113.9/24", "enter")
        assert "host bits set; the network holding it is 203.0.113.0/24" in _text(app, "#exp-error")
        app.screen.query_one("#exp-cidrs", Input).value = ""
        await pilot.press(*"203.0.113.0/24", "enter")
        assert wizard.answers.client_cidrs == ("203.0.113.0/24",)
        assert "connect from 203.0.113.0/24 to AMQPS (5671)" in _text(app, "#exp-status")
        target = tmp_path / "exp" / "config.yaml"
        target.parent.mkdir()
        app.screen.query_one("#exp-path", Input).focus()
        await pilot.press(*str(target), "enter")
        await _until(pilot, lambda: _text(app, "#exp-status").startswith("Wrote "), "the file")
        assert oct(target.stat().st_mode & 0o777) == "0o600" and password in target.read_text()
        assert password not in _all_text(app) and "amqps://experimenter:********@" in _text(app, "#exp-status")
        await pilot.press("escape")
        await _until(pilot, lambda: isinstance(app.screen, SizingScreen) and app.screen.query_one(
            EstimateView).query_one(DataTable).row_count == rows + 2, "the public IPs priced")


async def test_a_rerun_opens_on_the_install_and_shows_changes_as_diffs(served: RunningSandbox, home: Home,
                                                                      wizard: Wizard, tmp_path: Path) -> None:
    """After a CLI install of 2 x NC8as_T4 in eastus the TUI opens with those values (not the defaults); only the
    region changed to westeurope plans that region as made and eastus as unchanged, the estimate being both regions
    and the home services; one node instead of two shows 2 -> 1 and needs its own confirmation."""
    args, env = endpoint_args(served.info)
    answers = answers_with(tmp_path, gpu_sku="Standard_NC8as_T4_v3", gpu_nodes=2, runner_replicas=2)
    code, doc, err = run(home, "apply", *args, "--answers", str(answers), "--yes", "--json", env=env)
    assert code == 0, err[-3000:]
    app = StudioMLApp(CloudTarget("the sandbox", served.info["arm"], "test"), wizard)
    async with app.run_test(size=(160, 50)) as pilot:
        await _to_sizing(pilot, app)
        assert _text(app, "#sizing-status").startswith("2 x Standard_NC8as_T4_v3 in eastus; the whole install")
        assert app.screen.query_one("#nodes", Input).value == "2" and wizard.answers.runner_replicas == 2
        regions = app.screen.query_one("#regions", OptionList)
        titles = {str(regions.get_option_at_index(i).id): str(regions.get_option_at_index(i).prompt)
                  for i in range(regions.option_count)}
        assert "installed: 2 x Standard_NC8as_T4_v3" in titles["eastus"] and "too little" not in titles["eastus"]
        regions.focus()
        regions.highlighted = list(titles).index("westeurope")
        await pilot.press("enter")
        await _until(pilot, lambda: "westeurope is added to install" in _text(app, "#sizing-status"), "the region")
        assert wizard.answers.gpu_sku == "Standard_NC8as_T4_v3" and wizard.answers.gpu_nodes == 2
        await pilot.press("r")
        await _until(pilot, lambda: isinstance(app.screen, ReviewScreen) and app.screen.ready, "the plan")
        assert "Other regions, unchanged: eastus (2 x Standard_NC8as_T4_v3)" in _text(app, "#review-status")
        plan = app.screen.query_one("#plan", DataTable)
        actions = {str(plan.get_row_at(i)[1]): str(plan.get_row_at(i)[0]) for i in range(plan.row_count)}
        assert actions["AKS cluster with a GPU pool"] == "create" and actions["Container registry"] == "none"
        est = wizard.estimate()
        pools = {(x.region, x.sku, x.quantity) for x in est.lines if x.item == "GPU pool nodes"}
        assert pools == {("eastus", "Standard_NC8as_T4_v3", 2), ("westeurope", "Standard_NC8as_T4_v3", 2)}
        assert {x.item for x in est.lines if x.region == "eastus"} >= {"RabbitMQ VM", "container registry (Basic)"}
        assert f"-> {money(est.total()[1], est.currency)}" in app.screen.summary
        await pilot.press("escape")
        await _at_sizing(pilot, app)
        regions = app.screen.query_one("#regions", OptionList)
        regions.focus()
        regions.highlighted = list(titles).index("eastus")
        await pilot.press("enter")  # back to the installed region: its own values come with it
        nodes = app.screen.query_one("#nodes", Input)
        await _until(pilot, lambda: wizard.answers.region == "eastus", "eastus")
        nodes.value = ""
        nodes.focus()
        await pilot.press("1", "enter")
        await _until(pilot, lambda: wizard.answers.gpu_nodes == 1, "one node")
        await pilot.press("r")
        await _until(pilot, lambda: isinstance(app.screen, ReviewScreen) and app.screen.ready, "the plan")
        assert any("GPU pool 2 -> 1 node(s)" in r for r in app.screen.risky), app.screen.risky
        await pilot.press("a", "y")  # y alone does not apply a scale-down
        from screens.confirm import ConfirmScreen

        assert isinstance(app.screen, ConfirmScreen) and "2 -> 1" in _text(app, "#confirm-risky")
        assert "First press d" in _text(app, "#confirm-keys")
        await pilot.press("escape")
        assert isinstance(app.screen, ReviewScreen)
