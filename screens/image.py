"""Where the runner image comes from: quay.io, Docker Hub with the admin's Docker ID and an access token (typed
hidden, straight to the OS keyring), or Docker Hub anonymously (whose hourly limit Azure's shared import
addresses may have spent)."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Input, OptionList, Static
from textual.widgets.option_list import Option

from wizard.errors import InputError

from .base import WizardScreen


class ImageSourceScreen(WizardScreen):
    """Pick a source; a Docker Hub user gives the Docker ID, then the token (Enter saves). Esc leaves it as it was."""

    STATUS = "image-status"
    picked = "quay"  # the source being answered

    def compose(self) -> ComposeResult:
        """The sources, the Docker ID and the token."""
        yield Header()
        with VerticalScroll(classes="page"):
            yield Static("Runner image source", classes="page-title")
            yield Static("The registry imports the runner image server-side. Docker Hub allows 10 anonymous pulls an "
                         "hour per address, and Azure's import addresses are shared: quay.io or your Docker ID "
                         "avoids a refused import.", id="image-status", classes="status")
            yield OptionList(*[Option(o.title, id=o.key) for o in self.wizard.image_sources()], id="sources")
            yield Static("Docker ID", classes="label")
            yield Input(self.wizard.answers.source_registry_user, id="source-user", disabled=True)
            yield Static("Access token (Docker Hub > Account settings > Personal access tokens; kept in the OS "
                         "keyring, leave empty to keep the stored one)", classes="label")
            yield Input("", id="source-token", password=True, disabled=True)
            yield Static("", id="image-error", classes="error")
        yield Footer()

    def on_mount(self) -> None:
        """Highlight the answered source."""
        sources = self.query_one("#sources", OptionList)
        keys = [o.key for o in self.wizard.image_sources()]
        current = self.wizard.image_source()
        self.picked = current if current in keys else keys[0]
        sources.highlighted = keys.index(current) if current in keys else 0
        sources.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """A source without a user is saved at once; Docker Hub with a user asks for the Docker ID next."""
        self.picked = str(event.option.id)
        needs_user = next(o for o in self.wizard.image_sources() if o.key == self.picked).needs_user
        for selector in ("#source-user", "#source-token"):
            self.query_one(selector, Input).disabled = not needs_user
        if needs_user:
            self.query_one("#source-user", Input).focus()
        else:
            self.save(self.picked, "", "")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Docker ID, then the token; Enter on the token saves."""
        if event.input.id == "source-user":
            self.query_one("#source-token", Input).focus()
            return
        token = self.query_one("#source-token", Input)
        self.save(self.picked, self.query_one("#source-user", Input).value, token.value)
        token.value = ""  # the token leaves the screen as soon as it is handed over

    @work(thread=True, exclusive=True, group="image-source", exit_on_error=False)
    def save(self, key: str, user: str, token: str) -> None:
        """Answer the source (the token to the keyring first, read back), off the UI thread."""
        try:
            answers = self.wizard.choose_image_source(key, user, token)
        except InputError as err:
            self.app.call_from_thread(self.query_one("#image-error", Static).update, f"{err.message} {err.hint}")
            return
        self.app.call_from_thread(self._done, answers.runner_image)

    def _done(self, image: str) -> None:
        self.app.notify(f"The runner image comes from {image}.", title="Image source")
        self.dismiss(None)
