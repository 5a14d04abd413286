"""The install's secrets: what each is for and where the OS keyring keeps it. Values stay hidden; ``v`` shows one
after its name is typed, in an overlay that forgets it on Esc."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Header, Input, Static

from wizard.errors import WizardError
from wizard.flow import SecretEntry, Wizard

from .base import WizardScreen


class SecretsScreen(WizardScreen):
    """One row per secret: name, purpose, keyring address, stored or missing."""

    STATUS = "secrets-status"

    BINDINGS = [Binding("v", "reveal", "Show value", tooltip="Show the selected secret (its name is asked first)",
                        id="reveal"),
                Binding("o", "rotate", "Rotate password", tooltip="A new service principal password in the keyring "
                        "and every region's pull secret, then the old one removed (press twice)", id="rotate")]

    def __init__(self, wizard: Wizard) -> None:
        super().__init__(wizard)
        self.entries: list[SecretEntry] = []
        self.rotate_asked = False
        self.rotation: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        """Status and table."""
        yield Header()
        with Vertical(classes="page"):
            yield Static("Secrets", classes="page-title")
            yield Static("reading the keyring ...", id="secrets-status", classes="status")
            yield DataTable(id="secrets", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        """Read the keyring off the UI thread (a locked keyring may ask to be unlocked)."""
        self.load()

    @work(thread=True, exclusive=True, group="secrets", exit_on_error=False)
    def load(self) -> None:
        """Names, purposes, addresses and presence; never the values."""
        entries = self.wizard.secret_entries()
        self.app.call_from_thread(self._show, entries)

    def _show(self, entries: list[SecretEntry]) -> None:
        self.entries = entries
        table = self.query_one(DataTable)
        table.clear(columns=True)
        table.add_columns("secret", "what it is for", "kept in", "value")
        for e in entries:
            table.add_row(e.key, e.purpose, e.ref, "•••••••• (hidden)" if e.stored else "missing", key=e.key)
        stored = sum(e.stored for e in entries)
        self.query_one("#secrets-status", Static).update(
            f"{stored} of {len(entries)} in the OS keyring, nowhere else. Select one and press v to show it.")
        table.focus()

    def action_reveal(self) -> None:
        """Ask for the selected secret's name, then show it."""
        table = self.query_one(DataTable)
        if self.entries and table.cursor_row < len(self.entries):
            entry = self.entries[table.cursor_row]
            if entry.stored:
                self.app.push_screen(RevealScreen(self.wizard, entry.key))

    def action_rotate(self) -> None:
        """First press: say what rotating does; second press: rotate."""
        status = self.query_one("#secrets-status", Static)
        if not self.rotate_asked:
            self.rotate_asked = True
            status.update("Rotate the service principal's password? A new one goes to the keyring and every "
                          "region's pull secret, then the old one is removed. Press o again to rotate.")
            return
        self.rotate_asked = False
        status.update("rotating ...")
        self.rotate()

    @work(thread=True, exclusive=True, group="secrets", exit_on_error=False)
    def rotate(self) -> None:
        """Rotate off the UI thread, each step on the status line, then read the keyring again."""
        status = self.query_one("#secrets-status", Static)
        doc = self.wizard.rotate(lambda line: self.app.call_from_thread(status.update, Text(line)))
        entries = self.wizard.secret_entries()
        self.app.call_from_thread(self._rotated, doc, entries)

    def _rotated(self, doc: dict[str, Any], entries: list[SecretEntry]) -> None:
        self.rotation = doc
        self._show(entries)
        done = "; ".join(f"{region}: {what}" for region, what in doc["regions"].items())
        head = ("Rotated: the old password is removed." if doc["exit_code"] == 0 else
                "Not finished: a region was out of reach and keeps the old, still valid, password; press o twice "
                "again once it is back.")
        self.query_one("#secrets-status", Static).update(Text(f"{head} {done}"))


class RevealScreen(ModalScreen[None]):
    """Typed confirmation, then the value; Esc closes and the value goes with the overlay."""

    SHOWS_SECRET = True  # the app takes no screenshot while this is up

    BINDINGS = [Binding("escape", "dismiss", "Close", tooltip="Hide the value again", id="reveal-close")]

    def __init__(self, wizard: Wizard, key: str) -> None:
        super().__init__()
        self.wizard, self.key = wizard, key

    def compose(self) -> ComposeResult:
        """The question, then the value."""
        with Vertical(id="reveal"):
            yield Static(f"Type [b]{self.key}[/b] and Enter to show its value on this screen (Esc: cancel).")
            yield Input(placeholder=self.key, id="reveal-confirm")
            yield Static("", id="reveal-value")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Show the value only for the exact name."""
        out = self.query_one("#reveal-value", Static)
        if event.value.strip() != self.key:
            out.update(f"That is not {self.key}; nothing shown.")
            return
        try:
            out.update(Text(self.wizard.reveal(self.key)))  # as text: a value is never read as markup
        except WizardError as err:
            out.update(f"{err.message} {err.hint or ''}")
