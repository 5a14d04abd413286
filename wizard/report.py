"""Plain-text renderings of a plan and an estimate (the TUI draws its own from the same data)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .plan import PlannedStep
    from .sizing import Estimate
    from .steps.base import Context


def money(value: float | None, currency: str) -> str:
    """``1,234.56 USD``; ``n/a`` when unpriced."""
    return "n/a" if value is None else f"{value:,.2f} {currency}"


def costed_plan(ctx: Context, est: Estimate) -> list[PlannedStep]:
    """Observe every step (read-only) and give each planned resource its monthly cost: what apply would do."""
    from .plan import build_steps, observe_all, planned  # the steps load the SDK models: not before a plan

    plan = planned(observe_all(ctx, build_steps(ctx)))
    attach_costs(plan, est, ctx.region, ctx.names.home_region)
    return plan


def attach_costs(plan: list[PlannedStep], est: Estimate, region: str, home: str | None = None) -> None:
    """Give every planned resource its monthly cost (0 when it costs nothing by itself): the region's line, else
    the home region's (the registry and services every region shares)."""
    by_item = {(x.region, x.item): x.monthly for x in est.lines}
    for step in plan:
        for res in step.resources:
            item = res.get("cost_item") or ""
            res["monthly"] = by_item.get((region, item), by_item.get((home or region, item))) if item else 0.0
            res["currency"] = est.currency


def price_source(est: Estimate) -> str:
    """Where the prices came from, said plainly."""
    if est.from_snapshot:
        dates = sorted({x.as_of for x in est.lines if x.source == "snapshot"})
        return (f"prices: bundled snapshot dated {', '.join(dates)} (the Retail Prices API could not be reached); "
                "real prices may differ")
    said = []
    for kind, word in (("live", "fetched"), ("cache", "cached")):  # one time or a span per kind, not one per query
        times = sorted({x.as_of for x in est.lines if x.source == kind and x.unit_price is not None})
        if times:
            said.append(f"{word} {times[0]}" + (f" to {times[-1]}" if len(times) > 1 else ""))
    return "prices: Azure Retail Prices API, Linux pay-as-you-go (" + "; ".join(said) + ")"


def estimate_text(est: Estimate) -> list[str]:
    """The estimate as a table: per line, per region and in total, hourly and monthly (730 h)."""
    out = [f"{'region':<12} {'item':<34} {'size':<24} {'qty':>3} {'per hour':>14} {'per month':>16}"]
    for x in est.lines:
        out.append(f"{x.region:<12} {x.item:<34} {x.sku:<24} {x.quantity:>3} "
                   f"{money(x.hourly, est.currency):>14} {money(x.monthly, est.currency):>16}")
    for region in sorted({x.region for x in est.lines}):
        hourly, monthly = est.total(region)
        out.append(f"{region:<12} {'region total':<34} {'':<24} {'':>3} {money(hourly, est.currency):>14} "
                   f"{money(monthly, est.currency):>16}")
    hourly, monthly = est.total()
    out.append(f"{'all':<12} {'TOTAL':<34} {'':<24} {'':>3} {money(hourly, est.currency):>14} "
               f"{money(monthly, est.currency):>16}")
    out.append(price_source(est))
    return out


def scale_to_zero_line(est: Estimate, on: bool) -> str:
    """What idle GPUs cost with scale_to_zero, and what it costs in latency."""
    busy, idle = est.total()[1], est.idle_monthly()
    if on:
        return (f"scale to zero on: {money(idle, est.currency)} a month while nothing is queued (no GPU node), up to "
                f"{money(busy, est.currency)} with every GPU node busy; the first job after an idle spell waits a few "
                "minutes for a GPU node to start")
    return (f"scale to zero off: the GPU nodes run (and bill) whether or not anything is queued; with it on, an idle "
            f"month costs {money(idle, est.currency)}")


def plan_text(plan: list[PlannedStep]) -> list[str]:
    """Every step's action and its resources with their monthly cost."""
    out = []
    for p in plan:
        out.append(f"{p.action:>7}  {p.title}" + (f": {p.detail}" if p.detail else ""))
        for r in p.resources:
            cost: Any = r.get("monthly")
            shown = f"  ({money(cost, r.get('currency', ''))}/month)" if cost else ""
            out.append(f"           {r['kind']}: {r['name']}{shown}")
    return out
