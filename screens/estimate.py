"""The cost of the whole deployment as a table (per line, per region, total) and a bar chart of the monthly cost."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from wizard.report import money, price_source

if TYPE_CHECKING:
    from wizard.sizing import Estimate

BAR_WIDTH = 24


NARROW = 110  # the app's narrow breakpoint (columns)


def bars(est: Estimate) -> str:
    """One bar per priced line, longest for the dearest, with its monthly cost."""
    priced = sorted((x for x in est.lines if x.monthly), key=lambda x: -(x.monthly or 0))
    top = max((x.monthly or 0 for x in priced), default=0) or 1
    return "\n".join(f"{x.item[:26]:<26} {'█' * max(1, round(BAR_WIDTH * (x.monthly or 0) / top)):<{BAR_WIDTH}} "
                     f"{money(x.monthly, est.currency)}" for x in priced)


class EstimateView(Vertical):
    """Table + bar chart + where the prices came from; :meth:`show` fills it."""

    DEFAULT_CSS = """
    EstimateView { height: auto; }
    EstimateView DataTable { height: auto; max-height: 20; }
    EstimateView .bars { margin-top: 1; }
    EstimateView .source { color: $text-muted; }
    """

    def compose(self) -> ComposeResult:
        """The parts, empty until :meth:`show`."""
        yield DataTable(zebra_stripes=True, cursor_type="none")
        yield Static("", classes="bars")
        yield Static("", classes="source")

    def show(self, est: Estimate) -> None:
        """Render ``est``."""
        table = self.query_one(DataTable)
        table.clear(columns=True)
        wide = self.app.size.width >= NARROW  # a narrow terminal gets the columns that matter: item and per month
        table.add_columns(*(["region", "item", "size", "qty", "per hour", "per month"] if wide else
                            ["region", "item", "qty", "per month"]))
        for x in est.lines:
            cells = [x.region, x.item, x.sku, str(x.quantity), money(x.hourly, est.currency),
                     money(x.monthly, est.currency)]
            table.add_row(*(cells if wide else [cells[0], cells[1], cells[3], cells[5]]))
        hourly, monthly = est.total()
        total = ["all", "TOTAL", "", "", money(hourly, est.currency), money(monthly, est.currency)]
        table.add_row(*(total if wide else [total[0], total[1], total[3], total[5]]))
        self.query_one(".bars", Static).update(bars(est))
        self.query_one(".source", Static).update(price_source(est))
