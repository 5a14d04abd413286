"""Sign in and pick the subscription (the seed's ``az account list`` / ``az account set``)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Footer, Header, Input, OptionList, Static
from textual.widgets.option_list import Option

from wizard.errors import InputError
from wizard.flow import Wizard
from wizard.naming import network_interfaces

from .base import WizardScreen


class SubscriptionScreen(WizardScreen):
    """The subscriptions this sign-in can use; Enter picks one and goes on to sizing."""

    STATUS = "subscription-status"

    def __init__(self, wizard: Wizard) -> None:
        super().__init__(wizard)
        self.subs: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        """Status line and the list."""
        yield Header()
        with Vertical(classes="page"):
            yield Static("Subscription", classes="page-title")
            yield Static("signing in ...", id="subscription-status", classes="status")
            yield OptionList(id="subscriptions")
            yield Static("Install id (uniq_id): auto finds this subscription's install, or derives a new id as the "
                         "seed does; or type 8 hex characters (Tab to reach it)", classes="label")
            yield Input(self.wizard.answers.uniq_id, id="uniq", placeholder="auto")
            yield Static(f"Interface whose multicast memberships a new id hashes (the seed's eth0; this host has "
                         f"{', '.join(network_interfaces()) or 'none'}); another one derives a new id over it",
                         classes="label")
            yield Input(self.wizard.answers.interface, id="interface", placeholder="eth0")
        yield Footer()

    def on_mount(self) -> None:
        """Sign in off the UI thread."""
        self.load()

    @work(thread=True, exclusive=True, group="sign-in", exit_on_error=False)
    def load(self) -> None:
        """List the subscriptions (the app shows a failure with its next step)."""
        subs = self.wizard.sign_in(lambda url, code: self.app.call_from_thread(self._device_code, url, code))
        self.app.call_from_thread(self._show, subs)

    def _device_code(self, url: str, code: str) -> None:
        self.query_one("#subscription-status", Static).update(
            Text.assemble("To sign in, open ", (url, "bold"), " in a browser and enter the code ",
                          (code, "bold reverse"), " (waiting ...)"))

    def _show(self, subs: list[dict[str, Any]]) -> None:
        self.subs = subs
        assert self.wizard.session is not None
        self.query_one("#subscription-status", Static).update(
            f"signed in as {self.wizard.session.login.how}; pick the subscription to install into (Enter)")
        options = self.query_one(OptionList)
        options.add_options([Option(Text(f"{s['name']}  ({s['id']}, {s['state']})"), id=s["id"])  # names as text
                             for s in subs])
        default = self.wizard.session.login.default_subscription
        options.highlighted = next((i for i, s in enumerate(subs) if s["id"] == default), 0)
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Settle the subscription and the install's identity, then size the cluster."""
        sub = next(s for s in self.subs if s["id"] == event.option.id)
        status = self.query_one("#subscription-status", Static)
        try:
            self.wizard.answer(uniq_id=self.query_one("#uniq", Input).value.strip() or "auto",  # checked by the core
                               interface=self.query_one("#interface", Input).value.strip() or "eth0")
        except InputError as err:
            status.update(Text(f"{err.message} {err.hint or ''}"))
            return
        status.update(Text(f"reading {sub['name']} ..."))
        self.choose(sub)

    @work(thread=True, exclusive=True, group="sign-in", exit_on_error=False)
    def choose(self, sub: dict[str, Any]) -> None:
        """uniq_id and home region, then the sizing screen."""
        self.wizard.choose_subscription(sub)
        from .sizing import SizingScreen

        self.app.call_from_thread(self.app.push_screen, SizingScreen(self.wizard))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """The install id is typed: back to the list to pick the subscription with it."""
        self.query_one(OptionList).focus()
