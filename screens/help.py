"""The help overlay: the keys and what they do."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

GENERAL = [
    ("Tab", "next field; Shift+Tab the one before"),
    ("Enter", "pick (lists), set (fields), begin (welcome)"),
    ("ctrl+p", "command palette: this screen's commands first, then Textual's"),
]


def keys_of(screen: Screen[object], app_bindings: list[Binding]) -> list[tuple[str, str]]:
    """The keys that work on ``screen``: its own, then the app's (help, back, quit), then the general ones."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for binding in [*screen.BINDINGS, *app_bindings]:
        if not isinstance(binding, Binding) or binding.action in ("dismiss",):
            continue
        key = binding.key_display or ", ".join("Esc" if k == "escape" else "?" if k == "question_mark" else k
                                               for k in binding.key.split(","))
        if key in seen:
            continue
        seen.add(key)
        out.append((key, binding.tooltip or binding.description))
    return out + GENERAL


class HelpScreen(ModalScreen[None]):
    """The keys of the screen it was opened on, and their meaning; Esc or ? closes it."""

    BINDINGS = [
        Binding("escape", "dismiss", "Close", tooltip="Close the help", id="help-close"),
        Binding("question_mark", "dismiss", "Close", show=False, id="help-close-2"),
    ]

    def __init__(self, title: str, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text, self.keys = title, keys

    def compose(self) -> ComposeResult:
        """The key table."""
        with Vertical(id="help"):
            yield Static(f"Keys: {self.title_text}", id="help-title")
            yield Static("\n".join(f"  {k:<12} {v}" for k, v in self.keys), id="help-keys")
