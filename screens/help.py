"""The help overlay: the keys and what they do."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = [
    ("Enter", "begin (welcome) / pick (lists) / set (node count)"),
    ("r", "sizing: review the plan (availability and quota are checked first)"),
    ("a", "review: apply the plan, with live progress"),
    ("i", "sizing: where the runner image comes from (quay.io, Docker Hub with your Docker ID and a token)"),
    ("k", "sizing: the install's secrets (v shows one after its name is typed; o twice rotates the password)"),
    ("t", "sizing: what is installed now, every region (r reads it again)"),
    ("x", "sizing: experimenters: who may connect (their networks, over TLS) and their client configuration file"),
    ("s", "progress: stop at the next safe point (run again to resume)"),
    ("?", "this help"),
    ("Esc", "back one screen / close this help"),
    ("ctrl+p", "command palette: this screen's commands (review, apply, secrets, status, ...) and more"),
    ("q / ctrl+c", "quit"),
]


class HelpScreen(ModalScreen[None]):
    """Keys and their meaning; Esc or ? closes it."""

    BINDINGS = [
        Binding("escape", "dismiss", "Close", tooltip="Close the help", id="help-close"),
        Binding("question_mark", "dismiss", "Close", show=False, id="help-close-2"),
    ]

    def compose(self) -> ComposeResult:
        """The key table."""
        with Vertical(id="help"):
            yield Static("Keys", id="help-title")
            yield Static("\n".join(f"  {k:<12} {v}" for k, v in KEYS))
