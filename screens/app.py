"""The studioml-azure Textual application: the shell every wizard screen lives in."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.app import App
from textual.binding import Binding

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
    TITLE = "studioml-azure"
    SUB_TITLE = "studio-go-runner on Azure GPU clusters"
    BINDINGS = [
        Binding("q", "quit", "Quit", tooltip="Leave the wizard", id="quit"),
        Binding("question_mark", "help", "Help", tooltip="Show the keys and what each step does", id="help"),
        Binding("escape", "back", "Back", tooltip="Go back one screen", id="back", show=False),
    ]

    def __init__(self, target: CloudTarget) -> None:
        super().__init__()
        self.target = target

    def on_mount(self) -> None:
        """Open on the welcome screen."""
        self.push_screen(WelcomeScreen(self.target.name, self.target.arm, self.target.detail))

    def action_help(self) -> None:
        """Show the help overlay (unless it is already up)."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_back(self) -> None:
        """Pop one screen; the first screen stays."""
        if len(self.screen_stack) > 2:
            self.pop_screen()


def run_app(*, sandbox: bool, sandbox_dir: Path, speed: float) -> int:
    """Run the wizard; with ``sandbox`` the embedded sandbox cloud serves it."""
    embedded = None
    if sandbox:
        from wizard.sandbox.control import find_running
        from wizard.sandbox.embedded import EmbeddedSandbox

        endpoints = find_running(sandbox_dir)  # join a `sandbox serve` of the folder rather than race it
        if endpoints is None:
            embedded = EmbeddedSandbox(sandbox_dir, speed=speed)
            endpoints = embedded.start()
        target = CloudTarget("the local sandbox cloud", endpoints.arm,
                             f"Nothing reaches Azure. State: {sandbox_dir} (speed x{speed:g}).")
    else:
        target = CloudTarget("Azure (AzureCloud)", "https://management.azure.com",
                             "Resources are created in your subscription and cost money.")
    try:
        StudioMLApp(target).run()
    finally:
        if embedded is not None:
            embedded.stop()
    return 0
