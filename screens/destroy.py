"""Taking a region or the whole install away: what goes and what that saves, then the install id typed to confirm
(nothing is deleted before), then each deletion as it happens. Esc before the id is typed goes back; during the run
it stops at the next safe point (destroy again goes on from what is left)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, RichLog, Static

from wizard.errors import WizardError
from wizard.events import Event, describe
from wizard.flow import Wizard

if TYPE_CHECKING:  # the destroy module loads the SDKs: the UI draws before they load
    from wizard.destroy import Prepared


class DestroyScreen(ModalScreen[bool]):
    """The plan, the typed install id, the deletions; dismissed True when something was deleted."""

    BINDINGS = [Binding("escape", "back", "Back / stop", tooltip="Back before it starts; during it, stop at the next "
                        "safe point", id="destroy-back")]
    DEFAULT_CSS = """
    DestroyScreen { align: center middle; }
    #destroy { width: 90%; max-width: 110; height: 80%; border: thick $error; padding: 1 2; background: $panel; }
    #destroy-log { height: 1fr; }
    """

    def __init__(self, wizard: Wizard, prep: Prepared) -> None:
        super().__init__()
        self.wizard, self.prep = wizard, prep
        self.stop = threading.Event()
        self.running = self.deleted = False

    def compose(self) -> ComposeResult:
        """Plan, the id to type, the log."""
        with Vertical(id="destroy"):
            yield Static(f"Destroy {self.prep.what}?", classes="page-title")
            yield Static(Text("\n".join(self.prep.lines()[1:])), id="destroy-plan")
            yield Static(Text(f"Type the install id ({self.prep.uniq_id}) and press Enter to delete; Esc goes back."
                              if self.prep.removals else "Nothing is left to delete. Esc goes back."),
                         id="destroy-status")
            yield Input(placeholder="install id", id="destroy-id", disabled=not self.prep.removals)
            yield RichLog(id="destroy-log", wrap=True)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """The right id starts the deletions; anything else says so."""
        if self.running or event.value.strip() != self.prep.uniq_id:
            self.query_one("#destroy-status", Static).update(Text("That is not the install id: nothing deleted."))
            return
        self.running = True
        self.query_one("#destroy-id", Input).disabled = True
        self.query_one("#destroy-status", Static).update(Text("deleting ... (Esc stops at the next safe point)"))
        self.run_destroy()

    @work(thread=True, exclusive=True, group="destroy", exit_on_error=False)
    def run_destroy(self) -> None:
        """The deletions, off the UI thread."""
        try:
            self.wizard.destroy(self.prep, lambda e: self.app.call_from_thread(self._event, e), self.stop)
        except WizardError as err:
            self.app.call_from_thread(self._ended, f"Stopped: {err.message} Next: {err.hint}.")
            return
        self.app.call_from_thread(self._ended, f"Done: {self.prep.what} is gone. Esc goes back.")

    def _event(self, event: Event) -> None:
        self.deleted = True
        self.query_one("#destroy-log", RichLog).write(Text(f"{event.step}: {describe(event)}"))

    def _ended(self, message: str) -> None:
        self.running = False
        self.query_one("#destroy-status", Static).update(Text(message))

    def action_back(self) -> None:
        """Back (nothing deleted yet), or stop the run at its next safe point."""
        if self.running:
            self.stop.set()
            self.query_one("#destroy-status", Static).update(Text("stopping at the next safe point ..."))
            return
        self.dismiss(self.deleted)
