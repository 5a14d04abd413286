"""Review: the plan (every step, what apply would do, each resource's monthly cost) after the quota and
availability preflight; ``a`` applies it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static

from wizard.events import Event, describe
from wizard.flow import Wizard, risky_changes
from wizard.report import money

from .base import WizardScreen
from .estimate import EstimateView

if TYPE_CHECKING:
    from wizard.plan import PlannedStep
    from wizard.sizing import Estimate


class ReviewScreen(WizardScreen):
    """What apply would create, update or leave, and the cost; nothing is made until ``a``."""

    STATUS = "review-status"

    BINDINGS = [Binding("a", "apply", "Apply", tooltip="Create or converge everything shown", id="apply")]

    def __init__(self, wizard: Wizard) -> None:
        super().__init__(wizard)
        self.ready = False
        self.summary, self.risky = "", list[str]()

    def compose(self) -> ComposeResult:
        """Status, plan table, estimate."""
        yield Header()
        with VerticalScroll(classes="page"):
            yield Static("Review", classes="page-title")
            yield Static("checking availability and quota, then reading what exists ...", id="review-status",
                         classes="status")
            yield DataTable(id="plan", zebra_stripes=True, cursor_type="row")
            yield EstimateView(id="review-estimate")
        yield Footer()

    def on_mount(self) -> None:
        """Plan off the UI thread."""
        self.load()

    def reload(self) -> None:
        """Plan again (after a run: what is left to do now), with the toasts of the last plan cleared."""
        self.ready = False
        self.app.clear_notifications()
        self.query_one("#plan", DataTable).clear(columns=True)
        self.query_one("#review-status", Static).update("reading what exists now ...")
        self.load()

    @work(thread=True, exclusive=True, group="plan", exit_on_error=False)
    def load(self) -> None:
        """Preflight and observe every step (the app shows a refusal with its way out)."""
        steps, est = self.wizard.plan(lambda e: self.app.call_from_thread(self._progress, e))
        now = self.wizard.monthly_now()
        self.app.call_from_thread(self._show, steps, est, self.wizard.source_warnings(), now)

    def _progress(self, event: Event) -> None:
        self.query_one("#review-status", Static).update(describe(event).strip())

    def _show(self, steps: list[PlannedStep], est: Estimate, warnings: list[str], now: float = 0.0) -> None:
        table = self.query_one("#plan", DataTable)
        table.add_columns("action", "step", "detail", "per month")
        for p in steps:
            cost = sum(r.get("monthly") or 0 for r in p.resources)
            table.add_row(p.action, p.title, p.detail[:60], money(cost, est.currency) if cost else "")
        self.query_one(EstimateView).show(est)
        changes = sum(p.action != "none" for p in steps)
        here = self.wizard.answers.region
        others = [f"{r} ({i.pool})" for r, i in sorted(self.wizard.installed.items()) if r != here]
        uid = self.wizard.uniq.value if self.wizard.uniq else ""
        self.summary = (f"{changes} step(s) change install {uid} in {self.wizard.answers.region}"
                        + (f"; unchanged: {', '.join(others)}" if others else "") + ". A month, the whole install: "
                        f"{money(now, est.currency)} -> {money(est.total()[1], est.currency)}.")
        self.risky = risky_changes(steps)
        note = self.wizard.subscription_note()
        self.summary = (f"Warning: {note}.\n" if note else "") + self.summary
        self.query_one("#review-status", Static).update(" ".join(filter(None, [
            f"Warning: {note}." if note else "", self.wizard.adding_region(), (
            f"Other regions, unchanged: {', '.join(others)}." if others else ""), *(
            f"Warning: {w}; Esc, then i, to change the image source." for w in warnings), (
            f"{changes} step(s) to change, {len(steps) - changes} unchanged. Press a to apply, Esc to change the "
            "sizing." if changes else "Everything is as answered. Press a to check it again, Esc to go back.")])))
        self.ready = True

    def action_apply(self) -> None:
        """Confirm (the summary, the cost before -> after, losses apart), then run the install, following it live."""
        if not self.ready:
            self.app.notify("The plan is not ready, or was refused: see the line above (Esc to change the answers).",
                            title="Nothing to apply yet", severity="warning")
            return
        from .confirm import ConfirmScreen

        self.app.push_screen(ConfirmScreen(self.summary, self.risky), self._confirmed)

    def _confirmed(self, yes: bool | None) -> None:
        if yes:
            from .progress import ProgressScreen

            self.app.push_screen(ProgressScreen(self.wizard))
