"""What a region costs right now and what it has cost this month: its node pools as they run now, at today's retail
prices. The month so far assumes the pools ran at today's size since the later of the month's start and the
cluster's creation (ARM's ``systemData.createdAt``); an autoscaled or evicted pool makes that an estimate, said so."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .pricing import PriceBook


def _since(created: str | None, now: datetime) -> datetime:
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if not created:
        return month
    try:
        made = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return month
    return max(month, made if made.tzinfo else made.replace(tzinfo=UTC))


def region_cost(book: PriceBook, region: str, pools: list[dict[str, Any]], created: str | None,
                now: datetime | None = None) -> dict[str, Any]:
    """``{"hourly_now", "month_so_far", "since", "currency", "nodes", "unpriced"}`` of one region's pools."""
    now = now or datetime.now(UTC)
    hourly, nodes, unpriced = 0.0, 0, []
    for pool in pools:
        count = int(pool.get("count") or 0)
        nodes += count
        if not count:
            continue
        price = book.vm_spot(str(pool["size"]), region) if pool.get("spot") else book.vm(str(pool["size"]), region)
        if price is None:
            unpriced.append(str(pool["size"]))
            continue
        hourly += price.hourly * count
    since = _since(created, now)
    hours = max(0.0, (now - since).total_seconds() / 3600)
    return {"hourly_now": round(hourly, 4), "month_so_far": round(hourly * hours, 2),
            "since": since.strftime("%Y-%m-%dT%H:%M:%SZ"), "currency": book.currency, "nodes": nodes,
            "unpriced": unpriced}


def cost_line(cost: dict[str, Any]) -> str:
    """``cost now 1.23 USD/h (3 nodes); this month about 456.78 USD (since 2026-11-01)``."""
    from .report import money

    text = (f"cost now {money(cost['hourly_now'], cost['currency'])} an hour ({cost['nodes']} node(s) running); this "
            f"month about {money(cost['month_so_far'], cost['currency'])} (pools as now, since {cost['since'][:10]})")
    return text + (f"; no price for {', '.join(cost['unpriced'])}" if cost["unpriced"] else "")
