"""The install, live: one row per step with its state, and the engine's events as they come."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Header, RichLog, Static
from textual.worker import Worker, WorkerState

from wizard.events import Event, StepDone, StepFailed, StepRetrying, StepSkipped, StepStarted, describe
from wizard.flow import Wizard
from wizard.naming import NAMESPACE

from .base import WizardScreen

if TYPE_CHECKING:
    from wizard.engine import RunResult
    from wizard.steps.base import Context


class ProgressScreen(WizardScreen):
    """Follows the engine; ``s`` stops at the next safe point (the next run resumes)."""

    STATUS = "progress-status"

    BINDINGS = [
        Binding("s", "stop", "Stop safely", tooltip="Stop at the next safe point; run again to resume", id="stop"),
        Binding("escape", "stop", "Stop", show=False, id="progress-escape"),
    ]

    def __init__(self, wizard: Wizard) -> None:
        super().__init__(wizard)
        self.stop_flag = threading.Event()
        self.finished = False

    def compose(self) -> ComposeResult:
        """Status, steps, log."""
        yield Header()
        with Vertical(classes="page"):
            yield Static("Installing", classes="page-title")
            yield Static("starting ...", id="progress-status", classes="status")
            yield DataTable(id="steps", cursor_type="none")
            yield RichLog(id="events", wrap=True, max_lines=500)
        yield Footer()

    def on_mount(self) -> None:
        """Columns, then the run."""
        self.query_one("#steps", DataTable).add_columns("step", "state")
        self.install()

    @work(thread=True, exclusive=True, group="apply", exit_on_error=False)
    def install(self) -> None:
        """The engine on a worker thread; events come back through ``call_from_thread``."""
        result, ctx = self.wizard.apply(
            lambda e: self.app.call_from_thread(self.show_event, e), self.stop_flag)
        self.app.call_from_thread(self._done, result, ctx)

    def show_event(self, event: Event) -> None:
        """One engine event: the step's row and a log line."""
        table = self.query_one("#steps", DataTable)
        state = {StepStarted: "running", StepRetrying: "retrying", StepFailed: "failed",
                 StepSkipped: "skipped"}.get(type(event))
        if isinstance(event, StepDone):
            state = "unchanged" if event.action == "none" else f"{event.action}d"
        if state:
            if event.step not in {str(k.value) for k in table.rows}:
                table.add_row(event.step, state, key=event.step)
            else:
                table.update_cell(event.step, table.ordered_columns[1].key, state, update_width=True)
        self.query_one(RichLog).write(f"{event.step:>20}: {describe(event)}")

    def _done(self, result: RunResult, ctx: Context) -> None:
        self.finished = True
        code = result.exit_code
        kube = ctx.state.kubeconfig_path(ctx.names.uniq_id, ctx.region)
        text = {0: f"Done. Kubeconfig: {kube} (0600)\nkubectl --kubeconfig {kube} get deploy -n {NAMESPACE}",
                4: "Stopped before finishing: run it again to resume where it stopped (finished steps are kept)."
                }.get(code, "Failed: see the steps above for the cause and the next step; finished steps are kept.")
        self.query_one("#progress-status", Static).update(text)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A run that could not start (refused by the preflight, no keyring) ends here too: Esc goes back."""
        if event.state == WorkerState.ERROR:
            self.finished = True
        super().on_worker_state_changed(event)

    def on_unmount(self) -> None:
        """Leaving the wizard mid-run stops the run at the next safe point (the next run resumes)."""
        self.stop_flag.set()

    def action_stop(self) -> None:
        """Ask the run to stop at the next safe point; once finished, Esc goes back."""
        if self.finished:
            self.app.pop_screen()
            return
        self.stop_flag.set()
        self.query_one("#progress-status", Static).update("stopping at the next safe point ...")
