"""Experimenters: who submits experiments (the networks let in over TLS, or the VNet only), and their StudioML client
configuration written to a file (0600) of the admin's choosing. No secret is shown here."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Input, Static

from wizard.errors import InputError

from .base import WizardScreen


def reach_text(cidrs: tuple[str, ...]) -> str:
    """What the answer means, in a sentence."""
    if not cidrs:
        return ("RabbitMQ and the file server answer inside the install's VNet only: experimenters get in through a "
                "peering with their network or a VPN. Type networks below to let them in from outside.")
    return (f"Experimenters connect from {', '.join(cidrs)} to AMQPS (5671) and S3 over HTTPS (443) at each "
            "service's public IP and DNS name; the plain ports, SSH and anything else stay closed to the internet. "
            "Apply makes the public IPs and rules.")


class ExperimentersScreen(WizardScreen):
    """Answer ``client_cidrs``; write the client configuration. Esc goes back."""

    STATUS = "exp-status"
    BINDINGS = [Binding("escape", "done", "Back", tooltip="Back to sizing (the estimate follows the answer)",
                        id="exp-back")]

    def action_done(self) -> None:
        """Back, so the sizing screen prices what was answered."""
        self.dismiss(None)

    def compose(self) -> ComposeResult:
        """The question, what it means, and the file to write."""
        yield Header()
        with VerticalScroll(classes="page"):
            yield Static("Experimenters", classes="page-title")
            yield Static(reach_text(self.wizard.answers.client_cidrs), id="exp-status", classes="status")
            yield Static("Who submits experiments? Their networks (CIDRs, separated by commas; empty: the VNet only). "
                         "Enter saves the answer.", classes="label")
            yield Input(", ".join(self.wizard.answers.client_cidrs), placeholder="203.0.113.0/24", id="exp-cidrs")
            yield Static("Write their StudioML client configuration to (0600: it holds their password and S3 keys; "
                         "the CA and the runners' public key go beside it). Enter writes it.", classes="label")
            yield Input("", placeholder="~/studioml/config.yaml", id="exp-path")
            yield Static("", id="exp-error", classes="error")
        yield Footer()

    def on_mount(self) -> None:
        """The question first."""
        self.query_one("#exp-cidrs", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Save the networks, or write the file."""
        error = self.query_one("#exp-error", Static)
        error.update("")
        if event.input.id == "exp-cidrs":
            try:
                answers = self.wizard.set_client_cidrs(event.value)
            except InputError as err:
                error.update(Text(f"{err.message} {err.hint}"))
                return
            self.query_one("#exp-status", Static).update(Text(reach_text(answers.client_cidrs)))
            self.app.notify("Saved: review the plan (r on the sizing screen) to see the change and its cost.",
                            title="Experimenters")
            return
        self.write(event.value)

    @work(thread=True, exclusive=True, group="client-config", exit_on_error=False)
    def write(self, path: str) -> None:
        """The file, off the UI thread (it reads Azure and the keyring)."""
        try:
            done = self.wizard.write_client_config(path)
        except InputError as err:
            self.app.call_from_thread(self.query_one("#exp-error", Static).update, Text(f"{err.message} {err.hint}"))
            return
        self.app.call_from_thread(self._written, done)

    def _written(self, done: dict[str, object]) -> None:
        files = done["files"]
        assert isinstance(files, dict)
        self.query_one("#exp-status", Static).update(Text(
            f"Wrote {files['config']} (0600), {files['ca']} and {files['runner_public_key']}. Queue URL "
            f"{done['amqp_url']}, storage {done['storage_endpoint']}; reachable from {done['reachable_from']}."))
        self.app.notify(f"Hand {files['config']} to the experimenters over a private channel.",
                        title="Client configuration")
