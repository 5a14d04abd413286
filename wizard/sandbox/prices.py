"""The sandbox's Azure Retail Prices API, served from the dated snapshot in ``assets/prices``.

Envelope, ``$filter`` (``eq`` clauses joined by ``and``, plus ``contains``), ``currencyCode`` and
paging through ``NextPageLink`` with ``$skip`` follow the documented contract
(``azure-specs/prices/README.md``): at most 100 items a page, PascalCase envelope, ``priceType``
filtering the items' ``type`` field, values case-sensitive from api-version 2023-01-01-preview on.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

PAGE = 100
FIELDS = {"armregionname": "armRegionName", "location": "location", "meterid": "meterId", "metername": "meterName",
          "productid": "productId", "skuid": "skuId", "productname": "productName", "skuname": "skuName",
          "servicename": "serviceName", "serviceid": "serviceId", "servicefamily": "serviceFamily",
          "pricetype": "type", "armskuname": "armSkuName"}
CLAUSE = re.compile(r"^\s*(?:(\w+)\s+eq\s+'([^']*)'|contains\((\w+)\s*,\s*'([^']*)'\))\s*$", re.IGNORECASE)


def snapshot_path() -> Path:
    """The snapshot file, in a wheel (``wizard/_assets``) or a source checkout (``assets``)."""
    here = Path(__file__).resolve().parent.parent
    for base in (here / "_assets", here.parent / "assets"):
        path = base / "prices" / "retail-prices-snapshot.json"
        if path.exists():
            return path
    raise FileNotFoundError("retail-prices-snapshot.json is missing from the package assets")


@cache
def snapshot() -> dict[str, Any]:
    """The snapshot document (loaded once)."""
    return json.loads(snapshot_path().read_text())  # type: ignore[no-any-return]


def _error(message: str) -> web.Response:
    return web.json_response({"Error": {"Code": "InvalidFilter", "Message": message}}, status=400)


def _match(items: list[dict[str, Any]], flt: str, case_sensitive: bool) -> list[dict[str, Any]] | str:
    tests = []
    for clause in re.split(r"\s+and\s+", flt.strip(), flags=re.IGNORECASE) if flt.strip() else []:
        m = CLAUSE.match(clause)
        if not m:
            return f"Invalid OData $filter clause: {clause}"
        name, value = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        field = FIELDS.get(name.lower())
        if field is None:
            return f"Unknown filter field '{name}'."
        tests.append((field, value, bool(m.group(3))))

    def norm(v: str) -> str:
        return v if case_sensitive else v.lower()

    return [it for it in items if all(
        (norm(val) in norm(str(it.get(f, "")))) if contains else norm(str(it.get(f, ""))) == norm(val)
        for f, val, contains in tests)]


async def handle(request: web.Request) -> web.Response:
    """GET /api/retail/prices."""
    doc = snapshot()
    q = request.query
    api = q.get("api-version", "")
    currency = (q.get("currencyCode") or "USD").strip("'\"").upper()
    rate = doc["currency_rates"].get(currency)
    if rate is None:
        return _error(f"Unsupported currencyCode '{currency}'. Supported: {', '.join(doc['currency_rates'])}.")
    matched = _match(doc["Items"], q.get("$filter", ""), case_sensitive=api >= "2023-01-01-preview")
    if isinstance(matched, str):
        return _error(matched)
    try:
        skip = int(q.get("$skip", "0"))
    except ValueError:
        return _error("$skip must be a whole number.")
    page = [dict(it, currencyCode=currency, retailPrice=round(it["retailPrice"] * rate, 6),
                 unitPrice=round(it["unitPrice"] * rate, 6)) for it in matched[skip: skip + PAGE]]
    next_link = None
    if skip + PAGE < len(matched):
        params = {k: v for k, v in q.items() if k != "$skip"}
        params["$skip"] = str(skip + PAGE)
        next_link = f"{request.app['sandbox'].base_url}/api/retail/prices?{urlencode(params)}"
    return web.json_response({"BillingCurrency": currency, "CustomerEntityId": "Default",
                              "CustomerEntityType": "Retail", "Items": page, "NextPageLink": next_link,
                              "Count": len(page)})
