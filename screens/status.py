"""What is installed now, read from Azure and each cluster: the home part (registry, each service VM with its last
check, secrets) and one row per region (cluster, GPU pool, runner readiness, what a pod there reached, kubeconfig
and its mode). ``r`` reads it again; ``D`` destroys the highlighted added region, or on the home row the whole
install, after the install id is typed."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Header, Static

from wizard.flow import Wizard
from wizard.report import money
from wizard.status import gpu_pool, home_line

from .base import WizardScreen
from .destroy import DestroyScreen


def services_state(probe: dict[str, Any] | None) -> str:
    """``AMQP ok, S3 ok (16:02)``: what a pod of the region reached when last probed."""
    if not probe:
        return "not probed yet"
    parts = [f"{name} {'ok' if ': ok' in str(probe.get(key)) else 'FAILED'}" for name, key in (("AMQP", "amqp"),
                                                                                             ("S3", "s3"))]
    return ", ".join(parts) + f" ({str(probe.get('checked_at', ''))[11:16]})"


def runner_state(run: dict[str, Any]) -> str:
    """``2/2 ready``, or why the runner cannot be read."""
    if not run["reachable"]:
        return "cluster not reachable"
    if run["replicas"] is None:
        return "not deployed"
    return f"{run['ready']}/{run['replicas']} ready"


class StatusScreen(WizardScreen):
    """The install as it is; nothing here changes anything."""

    STATUS = "status-status"

    BINDINGS = [Binding("r", "refresh", "Refresh", tooltip="Read the install's state again", id="refresh"),
                Binding("D", "destroy", "Destroy", tooltip="Delete the highlighted added region, or (on the home "
                        "row) the whole install; the install id is typed first", id="destroy")]

    def __init__(self, wizard: Wizard) -> None:
        super().__init__(wizard)
        self.doc: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        """Summary, home line, regions."""
        yield Header()
        with Vertical(classes="page"):
            yield Static("Install status", classes="page-title")
            yield Static("reading the install from Azure and its clusters ...", id="status-status", classes="status")
            yield Static("", id="status-home")
            yield DataTable(id="status-regions", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        """Read the state off the UI thread."""
        self.load()

    def action_refresh(self) -> None:
        """Read it again."""
        self.query_one("#status-status", Static).update("reading the install from Azure and its clusters ...")
        self.load()

    def action_destroy(self) -> None:
        """Plan the destroy of the highlighted region (the home row: everything), then ask."""
        table = self.query_one("#status-regions", DataTable)
        if self.doc is None or not self.doc["regions"]:
            region = None
        else:
            row = self.doc["regions"][min(table.cursor_row, len(self.doc["regions"]) - 1)]
            region = None if row["home"] else row["region"]
        self.query_one("#status-status", Static).update(f"planning the destroy of {region or 'the whole install'} ...")
        self.plan_destroy(region)

    @work(thread=True, exclusive=True, group="status", exit_on_error=False)
    def plan_destroy(self, region: str | None) -> None:
        """What would go (reads Azure, the keyring and this host)."""
        prep = self.wizard.destroy_plan(region)
        self.app.call_from_thread(self.app.push_screen, DestroyScreen(self.wizard, prep), self._destroyed)

    def _destroyed(self, deleted: bool | None) -> None:
        if deleted:
            self.action_refresh()

    @work(thread=True, exclusive=True, group="status", exit_on_error=False)
    def load(self) -> None:
        """Azure and the clusters (a slow API server only slows this screen)."""
        doc = self.wizard.status()
        self.app.call_from_thread(self._show, doc)

    def _show(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        sub, uid, regions = doc["subscription"], doc["uniq_id"]["value"], doc["regions"]
        summary = (f"Install {uid} in {sub['name']}: "
                   + ("installed, every runner ready." if doc["installed"] else
                      "not complete: apply makes what is missing (it keeps what exists)." if regions or
                      doc["home"]["registry"] else "nothing installed yet: size it and apply."))
        self.query_one("#status-status", Static).update(Text(summary))
        self.query_one("#status-home", Static).update(Text(home_line(doc["home"])))  # names from Azure: plain text
        table = self.query_one("#status-regions", DataTable)
        table.clear(columns=True)
        table.add_columns("region", "cluster", "state", "GPU pool", "runner", "services from here", "kubeconfig",
                          "mode", "cost now", "this month")
        for r in regions:
            cost = r["cost"]
            table.add_row(r["region"] + (" (home)" if r["home"] else ""), r["cluster"], str(r["provisioning"]),
                          gpu_pool(r), runner_state(r["runner"]), services_state(r.get("services")), r["kubeconfig"],
                          r["kubeconfig_mode"] or "missing", f"{money(cost['hourly_now'], cost['currency'])}/h",
                          f"~{money(cost['month_so_far'], cost['currency'])}", key=r["region"])
