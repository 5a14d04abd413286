"""The studioml-azure Textual application: the shell every wizard screen lives in.

The flow: welcome -> subscription -> sizing (estimate table and bar chart) -> review (the plan) -> progress
(the engine's events, live). Screens call :class:`wizard.flow.Wizard` from worker threads; a failure of any
worker is shown here, in one place, as the error's message and its next step (``--debug`` adds the traceback).
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from wizard.errors import WizardError
from wizard.flow import Wizard

from .help import HelpScreen
from .welcome import WelcomeScreen


@dataclass(frozen=True)
class CloudTarget:
    """Which cloud the wizard talks to, as the welcome screen shows it."""

    name: str
    arm: str
    detail: str


class StudioMLApp(App[int]):
    """The wizard application."""

    CSS_PATH = "app.tcss"
    # below 110 columns the panes stack and scroll (the focused widget is scrolled into view): usable at 80x24
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    TITLE = "studioml-azure"
    SUB_TITLE = "studio-go-runner on Azure GPU clusters"
    BINDINGS = [
        Binding("q", "quit", "Quit", tooltip="Leave the wizard", id="quit"),
        Binding("question_mark", "help", "Help", tooltip="Show the keys and what each step does", id="help"),
        Binding("escape", "back", "Back", tooltip="Go back one screen", id="back", show=False),
    ]

    def __init__(self, target: CloudTarget, wizard: Wizard | None = None, *, debug: bool = False) -> None:
        super().__init__()
        self.target, self.wizard, self.show_tracebacks = target, wizard, debug

    def on_mount(self) -> None:
        """Open on the welcome screen."""
        self.push_screen(WelcomeScreen(self.target.name, self.target.arm, self.target.detail))

    def action_start(self) -> None:
        """From the welcome screen: sign in and pick the subscription."""
        if self.wizard is not None:
            from .subscription import SubscriptionScreen

            self.push_screen(SubscriptionScreen(self.wizard))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The palette (ctrl+p) offers what the screen's keys do (review, apply, secrets, status, stop, ...), then
        Textual's own commands."""
        for binding in screen.BINDINGS:
            if isinstance(binding, Binding) and binding.show and binding.action != "dismiss":
                yield SystemCommand(binding.description, binding.tooltip or binding.description,
                                    partial(screen.run_action, binding.action))
        for command in super().get_system_commands(screen):
            if command.title != "Screenshot" or not self.secret_on_screen():
                yield command

    def secret_on_screen(self) -> bool:
        """Whether a secret's value is on screen now (the reveal overlay, anywhere in the stack)."""
        return any(getattr(screen, "SHOWS_SECRET", False) for screen in self.screen_stack)

    def deliver_screenshot(self, filename: str | None = None, path: str | None = None,
                           time_format: str | None = None) -> str | None:
        """Save an SVG of the screen, never while a secret's value is on it (a screenshot is a file)."""
        if self.secret_on_screen():
            self.notify("No screenshot while a secret is shown: Esc hides it first.", severity="warning")
            return None
        return super().deliver_screenshot(filename, path, time_format)

    def action_help(self) -> None:
        """Show the current screen's keys (unless the help is already up)."""
        from .help import keys_of

        if not isinstance(self.screen, HelpScreen):
            title = type(self.screen).__name__.removesuffix("Screen").lower() or "wizard"
            app_keys = [b for b in self.BINDINGS if isinstance(b, Binding)]
            self.push_screen(HelpScreen(f"the {title} screen", keys_of(self.screen, app_keys)))

    async def action_quit(self) -> None:
        """Quit; during an install, first ask: stop safely, keep running, or quit now."""
        from .progress import ProgressScreen, QuitDuringRun

        screen = self.screen
        if isinstance(screen, ProgressScreen) and not screen.finished:
            self.push_screen(QuitDuringRun(), screen.quit_choice)
            return
        self.exit(0)

    async def action_back(self) -> None:
        """Pop one screen; the first screen stays."""
        if len(self.screen_stack) > 2:
            await self.pop_screen()

    def report_failure(self, err: BaseException) -> None:
        """Any failure of the flow, shown as what is wrong and what to do next (``--debug``: the traceback)."""
        if isinstance(err, WizardError):
            text = err.message + (f"\nnext: {err.hint}" if err.hint else "")
        else:
            text = f"unexpected error: {err}\nnext: run again with --debug for the details"
        if self.show_tracebacks:
            text += "\n" + "".join(traceback.format_exception(err))
        self.notify(text, title="Could not go on", severity="error", timeout=30)


def run_app(*, sandbox: bool, sandbox_dir: Path, speed: float, debug: bool = False) -> int:
    """Run the wizard; with ``sandbox`` against the sandbox cloud of ``sandbox_dir`` (joined when it serves,
    else started in the background, where it keeps serving after the wizard so kubeconfigs keep working)."""
    from wizard.logs import setup_log
    from wizard.session import Options, open_session

    setup_log()  # the SDKs' warnings go to the log file, not over the screen

    if sandbox:
        from wizard.sandbox.control import find_running, start_background

        endpoints = find_running(sandbox_dir) or start_background(sandbox_dir, speed=speed)
        target = CloudTarget("the local sandbox cloud", endpoints.arm,
                             f"Nothing reaches Azure. State: {sandbox_dir} (speed x{speed:g}); it keeps serving "
                             f"after the wizard (studioml-azure sandbox stop --dir {sandbox_dir}).")
    else:
        target = CloudTarget("Azure (AzureCloud)", "https://management.azure.com",
                             "Resources are created in your subscription and cost money.")
    opts = Options(sandbox=sandbox, sandbox_dir=sandbox_dir, speed=speed, interactive=True)
    StudioMLApp(target, Wizard(lambda show: open_session(replace(opts, on_device_code=show))), debug=debug).run()
    return 0
