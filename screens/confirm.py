"""The last word before any write: what will change and what it costs a month, before -> after. Scale-downs and
anything that deletes or re-makes are listed apart and need their own confirmation (d) before y applies."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmScreen(ModalScreen[bool]):
    """y applies (after d when something is scaled down or deleted); n or Esc goes back to the review."""

    BINDINGS = [Binding("y", "yes", "Apply", tooltip="Make the changes", id="confirm-yes"),
                Binding("d", "accept", "Accept losses", tooltip="Accept the scale-downs and deletions listed",
                        id="confirm-accept"),
                Binding("n,escape", "no", "Cancel", tooltip="Back to the review, nothing made", id="confirm-no")]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    #confirm { width: 90%; max-width: 110; height: auto; border: thick $warning; padding: 1 2; background: $panel; }
    #confirm-risky { color: $error; }
    """

    def __init__(self, summary: str, risky: list[str]) -> None:
        super().__init__()
        self.summary, self.risky, self.accepted = summary, risky, not risky

    def compose(self) -> ComposeResult:
        """Summary, the risky changes, the keys."""
        with Vertical(id="confirm"):
            yield Static("Apply these changes?", classes="page-title")
            yield Static(Text(self.summary), id="confirm-summary")
            yield Static(Text("".join(f"\n  ! {r}" for r in self.risky).lstrip("\n")), id="confirm-risky")
            yield Static(self._keys(), id="confirm-keys")

    def _keys(self) -> str:
        if not self.accepted:
            return "These lose capacity or data. Press d to accept them, then y to apply; n or Esc goes back."
        return "Press y to apply, n or Esc to go back (nothing is made until then)."

    def action_accept(self) -> None:
        """The listed losses are accepted."""
        self.accepted = True
        self.query_one("#confirm-keys", Static).update(self._keys())

    def action_yes(self) -> None:
        """Apply, once any losses are accepted."""
        if self.accepted:
            self.dismiss(True)
        else:
            self.query_one("#confirm-keys", Static).update("First press d to accept the changes marked !, or Esc.")

    def action_no(self) -> None:
        """Back, nothing made."""
        self.dismiss(False)
