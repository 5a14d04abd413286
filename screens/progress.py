"""The install, live: one row per step with its state, and the engine's events as they come."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Header, RichLog, Static
from textual.worker import Worker, WorkerState

from wizard.events import Event, StepDone, StepFailed, StepRetrying, StepSkipped, StepStarted, describe
from wizard.flow import Wizard
from wizard.logs import log
from wizard.naming import NAMESPACE

from .base import WizardScreen

if TYPE_CHECKING:
    from wizard.engine import RunResult
    from wizard.steps.base import Context


class QuitDuringRun(ModalScreen[str]):
    """``q`` while an install runs: stop safely, keep running, or quit now (and what that leaves)."""

    BINDINGS = [Binding("s", "choose('stop')", "Stop safely, then quit", id="quit-stop"),
                Binding("k,escape", "choose('keep')", "Keep running", id="quit-keep"),
                Binding("q", "choose('quit')", "Quit now", id="quit-now")]
    DEFAULT_CSS = """
    QuitDuringRun { align: center middle; }
    #quit-run { width: 80; height: auto; border: thick $warning; padding: 1 2; background: $panel; }
    """

    def compose(self) -> ComposeResult:
        """The three ways out."""
        with Vertical(id="quit-run"):
            yield Static("An install is running.", classes="page-title")
            yield Static("  s  stop at the next safe point, then quit (apply again resumes it)\n"
                         "  k  keep running (Esc)\n"
                         "  q  quit now: the step running now is left unfinished in Azure; the next apply finds it "
                         "and finishes it")

    def action_choose(self, choice: str) -> None:
        """Hand the choice to the progress screen."""
        self.dismiss(choice)


class ProgressScreen(WizardScreen):
    """Follows the engine; ``s`` stops at the next safe point (the next run resumes)."""

    STATUS = "progress-status"

    BINDINGS = [
        Binding("s", "stop", "Stop safely", tooltip="Stop at the next safe point; run again to resume", id="stop"),
        Binding("escape", "leave", "Back", show=False, id="progress-escape"),
    ]

    def __init__(self, wizard: Wizard) -> None:
        super().__init__(wizard)
        self.stop_flag = threading.Event()
        self.finished = False
        self.quit_when_done = False

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
        log.info("%s %s %s", event.step, type(event).__name__, describe(event))  # the same log as the CLI's

    def _done(self, result: RunResult, ctx: Context) -> None:
        self.finished = True
        self.refresh_bindings()  # no Stop once it is over
        code = result.exit_code
        kube = ctx.state.kubeconfig_path(ctx.names.uniq_id, ctx.region)
        text = {0: f"Done. Kubeconfig: {kube} (0600)\nkubectl --kubeconfig {kube} get deploy -n {NAMESPACE}",
                4: "Stopped before finishing, at a safe point: apply again to resume where it stopped (finished "
                   "steps are kept)."
                }.get(code, "Failed: see the steps above for the cause and the next step; finished steps are kept.")
        self.query_one("#progress-status", Static).update(text + " Esc: the review, read again.")
        log.info("run finished with exit code %s", code)
        if self.quit_when_done:
            self.app.exit(0)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Stop is offered only while the run goes on."""
        return not (action == "stop" and self.finished)

    def quit_choice(self, choice: str | None) -> None:
        """What ``q`` during the run chose."""
        if choice == "quit":
            self.app.exit(0)
        elif choice == "stop":
            self.quit_when_done = True
            self.action_stop()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A run that could not start (refused by the preflight, no keyring) ends here too: Esc goes back."""
        if event.state == WorkerState.ERROR:
            self.finished = True
        super().on_worker_state_changed(event)

    def on_unmount(self) -> None:
        """Leaving the wizard mid-run stops the run at the next safe point (the next run resumes)."""
        self.stop_flag.set()

    def action_leave(self) -> None:
        """Esc: while running, stop safely; once finished, back to the review, read again."""
        if not self.finished:
            self.action_stop()
            return
        self.app.pop_screen()
        from .review import ReviewScreen

        if isinstance(self.app.screen, ReviewScreen):
            self.app.screen.reload()

    def action_stop(self) -> None:
        """Ask the run to stop at the next safe point."""
        if self.finished:
            return
        self.stop_flag.set()
        self.query_one("#progress-status", Static).update("stopping at the next safe point ...")
