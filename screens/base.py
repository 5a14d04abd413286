"""What every screen of the flow shares: the wizard state, and worker failures handed to the app to show."""

from __future__ import annotations

from rich.text import Text
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from wizard.errors import WizardError
from wizard.flow import Wizard


class WizardScreen(Screen[None]):
    """A screen of the flow; a failed worker (sign-in, prices, plan, run) is reported by the app, in one place."""

    STATUS = ""  # the id of the screen's status line, which says so when a worker fails

    def __init__(self, wizard: Wizard) -> None:
        super().__init__()
        self.wizard = wizard

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Hand a failure to the app (worker messages do not bubble) and say it on the status line."""
        err = event.worker.error
        if event.state != WorkerState.ERROR or err is None:
            return
        if self.STATUS:
            what = err.message if isinstance(err, WizardError) else "unexpected error."
            hint = err.hint if isinstance(err, WizardError) and err.hint else ""
            self.query_one(f"#{self.STATUS}", Static).update(
                Text(f"Could not go on: {what}" + (f" Next: {hint}." if hint else "") + " (Esc goes back.)"))
        self.app.report_failure(err)  # type: ignore[attr-defined]
