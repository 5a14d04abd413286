"""What every screen of the flow shares: the wizard state, and worker failures handed to the app to show."""

from __future__ import annotations

from textual.screen import Screen
from textual.worker import Worker, WorkerState

from wizard.flow import Wizard


class WizardScreen(Screen[None]):
    """A screen of the flow; a failed worker (sign-in, prices, plan, run) is reported by the app, in one place."""

    def __init__(self, wizard: Wizard) -> None:
        super().__init__()
        self.wizard = wizard

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Hand a failure to the app (worker messages do not bubble)."""
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.app.report_failure(event.worker.error)  # type: ignore[attr-defined]
