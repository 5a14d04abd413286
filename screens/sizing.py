"""Size the GPU cluster: the size (with its price), the node count and the region (with its quota headroom), and
what the whole deployment costs, redrawn as the choices change."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header, Input, OptionList, Static
from textual.widgets.option_list import Option

from wizard.answers import ALLOWED
from wizard.catalog import gpu_size
from wizard.errors import InputError
from wizard.flow import SizeOption, region_title
from wizard.report import money, scale_to_zero_line

from .base import WizardScreen
from .estimate import EstimateView

if TYPE_CHECKING:
    from wizard.sizing import Estimate


class SizingScreen(WizardScreen):
    """Choices on the left, the estimate on the right; ``r`` reviews the plan."""

    STATUS = "sizing-status"

    BINDINGS = [Binding("r", "review", "Review the plan", tooltip="See what apply would do, and refuse what "
                        "cannot succeed", id="review"),
                Binding("i", "image", "Image source", tooltip="Where the runner image comes from (quay.io, Docker "
                        "Hub with your Docker ID, or anonymously)", id="image"),
                Binding("z", "scale_to_zero", "Scale to zero", tooltip="No GPU node while nothing is queued (the "
                        "first job after idle waits for one); press again to keep the nodes running", id="zero"),
                Binding("k", "secrets", "Secrets", tooltip="The install's secrets in the OS keyring", id="secrets"),
                Binding("t", "status", "Status", tooltip="What is installed now, every region", id="status"),
                Binding("x", "experimenters", "Experimenters", tooltip="Who submits experiments, and their client "
                        "configuration", id="experimenters")]

    def compose(self) -> ComposeResult:
        """The three choices, the error line, the estimate."""
        a = self.wizard.answers
        yield Header()
        with Horizontal(classes="page", id="sizing-page"):
            with Vertical(id="choices"):
                uid = self.wizard.uniq
                yield Static(Text(f"Install {uid.value}: {uid.source}" + (f" ({uid.hint})" if uid.hint else "")
                                  if uid else ""), id="install-id")
                yield Static("GPU size", classes="label")
                yield OptionList(id="sizes")
                yield Static("GPU nodes", classes="label")
                yield Input(str(a.gpu_nodes), id="nodes", type="integer")
                yield Static("Region: quota headroom for the pool + 1 upgrade surge node", classes="label")
                yield OptionList(id="regions")
                yield Static("", id="sizing-error", classes="error")
            with Vertical(id="estimate-pane"):
                yield Static("reading prices ...", id="sizing-status", classes="status")
                yield EstimateView(id="estimate")
        yield Footer()

    def on_mount(self) -> None:
        """Load sizes, regions and the estimate."""
        self.refresh_choices()

    @work(thread=True, exclusive=True, group="sizing", exit_on_error=False)
    def refresh_choices(self) -> None:
        """Read prices, availability and quota off the UI thread."""
        sizes, regions, est = self.wizard.sizes(), self.wizard.regions(), self.wizard.estimate()
        now = self.wizard.monthly_now() if self.wizard.installed else None
        self.app.call_from_thread(self._show, sizes, regions, est, bool(self.wizard.source_warnings()), now)

    def _show(self, sizes: list[SizeOption], regions: list[dict[str, Any]], est: Estimate, warn: bool,
              now: float | None = None) -> None:
        a = self.wizard.answers
        self._fill("#sizes", [Option(f"{o.size.name:<25} {o.size.gpus} x {o.size.gpu:<8} {o.size.vcpus:>2} vCPUs " + (
            f"{money(o.hourly, o.currency)}/h" if o.hourly is not None else "no price here"), id=o.size.name)
            for o in sizes], a.gpu_sku)
        self._fill("#regions", [Option(region_title(r, self.wizard.home), id=r["region"]) for r in regions],
                   a.region)
        self.query_one(EstimateView).show(est)
        hourly, monthly = est.total()
        change = "" if now is None else (f" (now {money(now, est.currency)}; this change "
                                         f"{'+' if monthly >= now else '-'}{money(abs(monthly - now), est.currency)})")
        self.query_one("#sizing-status", Static).update(
            f"{a.gpu_nodes} x {a.gpu_sku} in {a.region}; the whole install {money(monthly, est.currency)} a month "
            f"({money(hourly, est.currency)} an hour){change}. " + " ".join(filter(None, [
                self.wizard.adding_region(), f"Image: {a.runner_image}" + (
                    " (Docker Hub may refuse the import: press i)." if warn else "."),
                scale_to_zero_line(est, a.scale_to_zero) + " (z)." + (" Spot GPU VMs." if a.spot else ""),
                "Press r to review the plan."])))

    def _fill(self, selector: str, options: list[Option], current: str) -> None:
        widget = self.query_one(selector, OptionList)
        widget.clear_options()
        widget.add_options(options)
        ids = [o.id for o in options]
        if current in ids:
            widget.highlighted = ids.index(current)

    def _answer(self, **changes: Any) -> bool:
        try:
            self.wizard.answer(**changes)
        except InputError as err:
            self.query_one("#sizing-error", Static).update(f"{err.message} {err.hint or ''}")
            return False
        self.query_one("#sizing-error", Static).update("")
        self.query_one("#sizing-status", Static).update("reading prices and quota ...")
        self.refresh_choices()
        return True

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """A size or a region was picked; one runner per GPU of the pool."""
        value = str(event.option.id)
        if event.option_list.id == "sizes":
            self._answer(gpu_sku=value, runner_replicas=self.wizard.answers.gpu_nodes * gpu_size(value).gpus)
        else:
            self._answer(region=value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """The node count (checked by the core: 1 to 100)."""
        try:
            nodes = int(event.value)
        except ValueError:
            self.query_one("#sizing-error", Static).update(f"gpu_nodes must be {ALLOWED['gpu_nodes']}")
            return
        if self._answer(gpu_nodes=nodes, runner_replicas=nodes * gpu_size(self.wizard.answers.gpu_sku).gpus):
            self.query_one("#regions", OptionList).focus()  # on to the next choice (and r works again)

    def action_review(self) -> None:
        """On to the review."""
        from .review import ReviewScreen

        self.app.push_screen(ReviewScreen(self.wizard))

    def action_image(self) -> None:
        """Where the runner image comes from."""
        from .image import ImageSourceScreen

        self.app.push_screen(ImageSourceScreen(self.wizard), self._back)

    def _back(self, _result: None) -> None:
        """Back from a screen that may have changed the answers: read prices and quota again."""
        self.refresh_choices()

    def action_scale_to_zero(self) -> None:
        """Turn scale to zero on or off, and price it again."""
        self._answer(scale_to_zero=not self.wizard.answers.scale_to_zero)

    def action_secrets(self) -> None:
        """The install's secrets."""
        from .secrets import SecretsScreen

        self.app.push_screen(SecretsScreen(self.wizard))

    def action_experimenters(self) -> None:
        """Who submits experiments."""
        from .experimenters import ExperimentersScreen

        self.app.push_screen(ExperimentersScreen(self.wizard), self._back)

    def action_status(self) -> None:
        """What is installed now."""
        from .status import StatusScreen

        self.app.push_screen(StatusScreen(self.wizard))
