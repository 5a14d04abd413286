"""The Textual shell: welcome screen, help overlay and quitting, driven by Pilot."""

from __future__ import annotations

from screens.app import CloudTarget, StudioMLApp
from screens.help import HelpScreen
from screens.welcome import WelcomeScreen


def _app() -> StudioMLApp:
    return StudioMLApp(CloudTarget("the local sandbox cloud", "https://127.0.0.1:1234", "Nothing reaches Azure."))


async def test_welcome_names_the_cloud_and_q_quits() -> None:
    app = _app()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, WelcomeScreen)
        panel = str(app.screen.query_one("#cloud-panel").render())
        assert "sandbox" in panel and "https://127.0.0.1:1234" in panel
        await pilot.press("q")
    assert app.return_code == 0


async def test_help_opens_and_escape_closes() -> None:
    app = _app()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = str(app.screen.query_one("#help-keys").render())
        assert "Sign in and pick the subscription" in keys and "Leave the wizard" in keys  # this screen's keys
        assert "Review" not in keys  # not another screen's
        await pilot.press("escape")
        assert isinstance(app.screen, WelcomeScreen)
        await pilot.press("escape")  # Esc on the first screen stays there
        assert isinstance(app.screen, WelcomeScreen)


def test_welcome_snapshot(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(_app(), terminal_size=(120, 36))
