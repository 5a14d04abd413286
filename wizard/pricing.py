"""Prices from the Azure Retail Prices API: Linux pay-as-you-go only, every page followed, cached with its time.

When the API cannot be reached, the dated snapshot in ``assets/prices`` answers instead, and every price
says so (``source == "snapshot"`` with its date). Currency is chosen per query (``currencyCode``).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs
import requests

from .assets import asset_json
from .errors import WizardError

API_VERSION = "2023-01-01-preview"
CACHE_SECONDS = 24 * 3600
HOURS_PER_MONTH = 730.0


@dataclass(frozen=True)
class Price:
    """One retail price: ``unit_price`` per ``unit`` (``1 Hour``, ``1/Day``, ``1/Month``)."""

    unit_price: float
    unit: str
    currency: str
    source: str  # "live" | "cache" | "snapshot"
    as_of: str  # the time it was fetched, or the snapshot's date
    meter: str

    @property
    def hourly(self) -> float:
        """The price of one hour."""
        if self.unit == "1 Hour":
            return self.unit_price
        if self.unit == "1/Day":
            return self.unit_price / 24.0
        if self.unit == "1/Month":
            return self.unit_price / HOURS_PER_MONTH
        raise WizardError(f"price unit {self.unit!r} of {self.meter} is not one the wizard converts.",
                          "report it; the estimate leaves this item out")


def linux_payg(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep pay-as-you-go Linux prices: no Windows, Spot, Low Priority, DevTest or Reservation items."""
    out = []
    for it in items:
        name = f"{it.get('skuName', '')} {it.get('meterName', '')}"
        if it.get("type") != "Consumption" or "Windows" in it.get("productName", "") \
                or "Spot" in name or "Low Priority" in name:
            continue
        out.append(it)
    return sorted(out, key=lambda i: (not i.get("isPrimaryMeterRegion", True), i.get("retailPrice", 0.0)))


class PriceBook:
    """Answers price questions for one currency; live first, then the cache, then the snapshot."""

    def __init__(self, endpoint: str, *, currency: str = "USD", verify: str | bool = True,
                 cache_dir: Path | None = None, timeout: float = 10.0) -> None:
        self.endpoint, self.currency, self.verify, self.timeout = endpoint, currency.upper(), verify, timeout
        self.cache_path = (cache_dir or Path(platformdirs.user_cache_dir("studioml-azure"))) / "retail-prices.json"
        self.offline = False
        self._memo: dict[str, tuple[list[dict[str, Any]], str, str]] = {}
        self._cached: dict[str, Any] | None = None  # the cache file, read once

    def _filter(self, clauses: dict[str, str]) -> str:
        return " and ".join(f"{k} eq '{v}'" for k, v in clauses.items())

    def query(self, clauses: dict[str, str]) -> tuple[list[dict[str, Any]], str, str]:
        """All items matching ``clauses`` (every page), and (source, as_of)."""
        flt = self._filter(clauses)
        key = f"{self.endpoint}|{self.currency}|{flt}"
        if key in self._memo:
            return self._memo[key]
        cached = self._cache().get(key)
        if cached and time.time() - cached["at"] < CACHE_SECONDS:
            found = (cached["items"], "cache", _iso(cached["at"]))
        elif not self.offline and (live := self._live(flt)) is not None:
            self._store(key, live)
            found = (live, "live", _iso(time.time()))
        else:
            found = self._snapshot(clauses)
        self._memo[key] = found
        return found

    def _live(self, flt: str) -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = []
        url: str | None = self.endpoint
        params: dict[str, str] | None = {"api-version": API_VERSION, "currencyCode": f"'{self.currency}'",
                                         "$filter": flt}
        try:
            while url:
                resp = requests.get(url, params=params, verify=self.verify, timeout=self.timeout)
                if resp.status_code != 200:
                    self.offline = resp.status_code >= 500 or resp.status_code == 429
                    return None
                page = resp.json()
                items += page.get("Items", [])
                url, params = page.get("NextPageLink"), None
        except (requests.RequestException, ValueError):
            self.offline = True  # one failure is enough: do not wait on every item
            return None
        return items

    def _snapshot(self, clauses: dict[str, str]) -> tuple[list[dict[str, Any]], str, str]:
        doc = asset_json("prices", "retail-prices-snapshot.json")
        rate = doc["currency_rates"].get(self.currency)
        if rate is None:
            raise WizardError(f"the price snapshot has no {self.currency} rate and the Retail Prices API is "
                              "unreachable.", "choose currency USD, EUR, GBP, CAD, AUD, JPY, CHF or INR")
        field = {"priceType": "type"}
        items = [dict(it, retailPrice=it["retailPrice"] * rate, unitPrice=it["unitPrice"] * rate,
                      currencyCode=self.currency) for it in doc["Items"]
                 if all(str(it.get(field.get(k, k), "")) == v for k, v in clauses.items())]
        return items, "snapshot", str(doc["snapshot_date"])

    def _cache(self) -> dict[str, Any]:
        if self._cached is None:
            try:
                self._cached = json.loads(self.cache_path.read_text())
            except (OSError, ValueError):
                self._cached = {}
        assert self._cached is not None
        return self._cached

    def _store(self, key: str, items: list[dict[str, Any]]) -> None:
        data = self._cache()
        data[key] = {"at": time.time(), "items": items}
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.cache_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.cache_path)

    def _pick(self, clauses: dict[str, str], what: str) -> Price | None:
        items, source, as_of = self.query(clauses)
        chosen = linux_payg(items)
        if not chosen:
            return None
        it = chosen[0]
        return Price(float(it["retailPrice"]), str(it["unitOfMeasure"]), self.currency, source, as_of,
                     f"{it.get('productName', '')} {it.get('meterName', '')}".strip() or what)

    def vm(self, size: str, region: str) -> Price | None:
        """A Linux VM's pay-as-you-go hourly price."""
        return self._pick({"serviceName": "Virtual Machines", "armRegionName": region, "armSkuName": size,
                           "priceType": "Consumption"}, size)

    def vm_spot(self, size: str, region: str) -> Price | None:
        """A Linux Spot VM's hourly price (the Retail Prices item whose meter ends in "Spot"; evictions aside)."""
        items, source, as_of = self.query({"serviceName": "Virtual Machines", "armRegionName": region,
                                           "armSkuName": size, "priceType": "Consumption"})
        spot = sorted((it for it in items if str(it.get("meterName", "")).endswith(" Spot")
                       and "Windows" not in str(it.get("productName", ""))),
                      key=lambda i: (not i.get("isPrimaryMeterRegion", True), i.get("retailPrice", 0.0)))
        if not spot:
            return None
        it = spot[0]
        return Price(float(it["retailPrice"]), str(it["unitOfMeasure"]), self.currency, source, as_of,
                     f"{it.get('productName', '')} {it.get('meterName', '')}".strip())

    def registry(self, tier: str, region: str) -> Price | None:
        """A container registry's daily unit."""
        return self._pick({"serviceName": "Container Registry", "armRegionName": region,
                           "meterName": f"{tier} Registry Unit", "priceType": "Consumption"}, f"ACR {tier}")

    def disk(self, sku: str, region: str) -> Price | None:
        """A managed disk's monthly price (``P10 LRS``, ...)."""
        return self._pick({"serviceName": "Storage", "armRegionName": region, "skuName": sku,
                           "meterName": f"{sku} Disk", "priceType": "Consumption"}, sku)

    def nat_gateway(self, region: str) -> Price | None:
        """A Standard NAT gateway's hourly price (the gateway alone; data processed is metered apart)."""
        return self._pick({"serviceName": "NAT Gateway", "armRegionName": region, "meterName": "Standard Gateway",
                           "priceType": "Consumption"}, "NAT gateway")

    def nat_data(self, region: str) -> Price | None:
        """What a Standard NAT gateway charges per GB it processes (``unit`` ``1 GB``)."""
        return self._pick({"serviceName": "NAT Gateway", "armRegionName": region,
                           "meterName": "Standard Data Processed", "priceType": "Consumption"}, "NAT data processed")

    def public_ip(self, region: str) -> Price | None:
        """A Standard static public IPv4 address, hourly."""
        return self._pick({"serviceName": "Virtual Network", "armRegionName": region,
                           "meterName": "Standard IPv4 Static Public IP", "priceType": "Consumption"}, "public IP")


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
