"""Regions by what the install costs there: every region that offers the answered GPU size to the subscription,
those with quota headroom for the pool first, each at its monthly cost for that size (the Retail Prices API), cheapest
first. What ``regions``, the sizing screen and a capacity failure (the next region to try) show."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .answers import Answers
from .azure.clients import Clients
from .catalog import gpu_size
from .errors import RefusedError, WizardError
from .pricing import PriceBook
from .sizing import estimate, regions_for


def ranked(clients: Clients, book: PriceBook, sub: str, answers: Answers, home: str | None = None
           ) -> list[dict[str, Any]]:
    """``regions_for`` with ``monthly`` (the install's cost a month there; with ``home``, the home part stays there),
    fitting regions first, then by cost."""
    size = gpu_size(answers.gpu_sku)
    found = regions_for(clients, sub, answers.gpu_sku, size.vcpus * (answers.gpu_nodes + 1), spot=answers.spot)
    for r in found:
        try:
            est = estimate(book, replace(answers, region=r["region"]), home=home or r["region"])
            r["monthly"] = round(est.total()[1], 2) if not [x for x in est.lines if x.monthly is None] else None
        except WizardError:  # no price for that region (offline, no snapshot rate): listed, unranked
            r["monthly"] = None
        r["currency"] = book.currency
    return sorted(found, key=lambda r: (not r["fits"], r["monthly"] is None, r["monthly"] or 0.0, r["region"]))


def capacity_refusal(err: RefusedError, clients: Clients, book: PriceBook, sub: str, answers: Answers,
                     home: str | None) -> RefusedError:
    """A pool Azure could not place for capacity, as a refusal naming the regions to try instead, cheapest first."""
    from .report import money

    others = [r for r in ranked(clients, book, sub, answers, home) if r["fits"] and r["region"] != answers.region]
    where = ", ".join(f"{r['region']} ({money(r['monthly'], r['currency'])} a month)" for r in others[:5])
    hint = (f"Azure has no room for it there now. Regions with quota headroom for it, cheapest first: {where}. "
            f"Answer region = \"{others[0]['region']}\" and run again (what was made is kept)" if others else
            "no other region has quota headroom for it: try again later, or a smaller size (answers: gpu_sku)")
    return RefusedError(f"{answers.gpu_nodes} x {answers.gpu_sku} could not be placed in {answers.region}: "
                        f"{err.message}", hint, err.code)
