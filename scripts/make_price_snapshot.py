"""Write assets/prices/retail-prices-snapshot.json: the dated, offline Retail Prices snapshot.

Nothing here reaches the live API (no machine we build on does). Prices are the approximate eastus
Linux pay-as-you-go figures of ``azure-specs/gpu-skus.md`` and the seed document, spread to other
regions by a fixed regional factor, with the item variants the live API also returns (Windows, Spot,
Low Priority, DevTest, Reservation) so that price pickers meet the real pitfalls. Regenerate with
``python scripts/make_price_snapshot.py`` after editing the tables.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

SNAPSHOT_DATE = "2026-11-01"
NS = uuid.UUID("6b1c7d0e-2d1b-4c7a-9d0c-5f0b8e6a1c11")
REGION_FACTOR = {"eastus": 1.0, "eastus2": 1.0, "westus2": 1.0, "westus3": 1.0, "southcentralus": 1.05,
                 "northeurope": 1.08, "westeurope": 1.12, "uksouth": 1.1, "japaneast": 1.2, "australiaeast": 1.22}
LOCATION = {"eastus": "US East", "eastus2": "US East 2", "westus2": "US West 2", "westus3": "US West 3",
            "southcentralus": "US South Central", "northeurope": "EU North", "westeurope": "EU West",
            "uksouth": "UK South", "japaneast": "JA East", "australiaeast": "AU East"}
ALL = list(REGION_FACTOR)
T4 = ["eastus", "eastus2", "westus2", "southcentralus", "northeurope", "westeurope", "uksouth", "japaneast",
      "australiaeast"]
A10 = ["eastus", "westus2", "southcentralus", "northeurope", "westeurope"]
A100 = ["eastus", "eastus2", "southcentralus", "westeurope"]
H100 = ["eastus2", "southcentralus", "westeurope"]
# armSkuName, product (series), eastus Linux $/hour, regions
VMS = [
    ("Standard_B2s", "Virtual Machines BS Series", 0.0416, ALL),
    ("Standard_D2s_v3", "Virtual Machines DSv3 Series", 0.096, ALL),
    ("Standard_D4s_v3", "Virtual Machines DSv3 Series", 0.192, ALL),
    ("Standard_DS2_v2", "Virtual Machines DSv2 Series", 0.146, ALL),
    ("Standard_DS12_v2", "Virtual Machines DSv2 Series", 0.338, ALL),
    ("Standard_D2s_v5", "Virtual Machines Dsv5 Series", 0.096, ALL),
    ("Standard_D4s_v5", "Virtual Machines Dsv5 Series", 0.192, ALL),
    ("Standard_D2ds_v5", "Virtual Machines Ddsv5 Series", 0.113, ALL),
    ("Standard_D4ds_v5", "Virtual Machines Ddsv5 Series", 0.226, ALL),
    ("Standard_NC4as_T4_v3", "Virtual Machines NCasT4 v3 Series", 0.526, T4),
    ("Standard_NC8as_T4_v3", "Virtual Machines NCasT4 v3 Series", 0.752, T4),
    ("Standard_NC16as_T4_v3", "Virtual Machines NCasT4 v3 Series", 1.204, T4),
    ("Standard_NC64as_T4_v3", "Virtual Machines NCasT4 v3 Series", 4.352, T4),
    ("Standard_NV6ads_A10_v5", "Virtual Machines NVadsA10 v5 Series", 0.454, A10),
    ("Standard_NV12ads_A10_v5", "Virtual Machines NVadsA10 v5 Series", 0.908, A10),
    ("Standard_NV18ads_A10_v5", "Virtual Machines NVadsA10 v5 Series", 1.60, A10),
    ("Standard_NV36ads_A10_v5", "Virtual Machines NVadsA10 v5 Series", 3.20, A10),
    ("Standard_NC24ads_A100_v4", "Virtual Machines NCadsA100 v4 Series", 3.673, A100),
    ("Standard_NC48ads_A100_v4", "Virtual Machines NCadsA100 v4 Series", 7.346, A100),
    ("Standard_NC96ads_A100_v4", "Virtual Machines NCadsA100 v4 Series", 14.692, A100),
    ("Standard_NC40ads_H100_v5", "Virtual Machines NCadsH100 v5 Series", 6.98, H100),
    ("Standard_NC80adis_H100_v5", "Virtual Machines NCadsH100 v5 Series", 13.96, H100),
]
# serviceName, serviceFamily, productName, skuName, meterName, unit, eastus price
OTHERS = [
    ("Container Registry", "Containers", "Container Registry", "Basic", "Basic Registry Unit", "1/Day", 0.1666),
    ("Container Registry", "Containers", "Container Registry", "Standard", "Standard Registry Unit", "1/Day", 0.6666),
    ("Container Registry", "Containers", "Container Registry", "Premium", "Premium Registry Unit", "1/Day", 1.6666),
    ("Storage", "Storage", "Premium SSD Managed Disks", "P4 LRS", "P4 LRS Disk", "1/Month", 5.28),
    ("Storage", "Storage", "Premium SSD Managed Disks", "P6 LRS", "P6 LRS Disk", "1/Month", 10.21),
    ("Storage", "Storage", "Premium SSD Managed Disks", "P10 LRS", "P10 LRS Disk", "1/Month", 19.71),
    ("Storage", "Storage", "Premium SSD Managed Disks", "P15 LRS", "P15 LRS Disk", "1/Month", 38.02),
    ("Storage", "Storage", "Premium SSD Managed Disks", "P20 LRS", "P20 LRS Disk", "1/Month", 73.22),
    ("Storage", "Storage", "Standard SSD Managed Disks", "E10 LRS", "E10 LRS Disk", "1/Month", 9.60),
    ("Virtual Network", "Networking", "IP Addresses", "Standard", "Standard IPv4 Static Public IP", "1 Hour", 0.005),
    ("NAT Gateway", "Networking", "NAT Gateway", "Standard", "Standard Gateway", "1 Hour", 0.045),
    ("NAT Gateway", "Networking", "NAT Gateway", "Standard", "Standard Data Processed", "1 GB", 0.045),
    ("Azure Kubernetes Service", "Containers", "Azure Kubernetes Service", "Standard", "Standard Uptime SLA",
     "1 Hour", 0.10),
]
RATES = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79, "CAD": 1.37, "AUD": 1.52, "JPY": 151.0, "CHF": 0.88, "INR": 83.5}


def _ids(*key: str) -> tuple[str, str, str]:
    u = uuid.uuid5(NS, "/".join(key))
    product = "DZH318Z0" + u.hex[:4].upper()
    return str(u), product, f"{product}/{u.hex[4:8].upper()}"


def _item(region: str, service: str, family: str, product: str, sku: str, meter: str, unit: str, price: float,
          arm_sku: str, kind: str = "Consumption", term: str | None = None) -> dict[str, object]:
    # meters that share a product and SKU (a NAT gateway's hours and its data) need the meter in their ids
    extra = [meter] if service == "NAT Gateway" else []
    meter_id, product_id, sku_id = _ids(region, product, sku, kind, term or "", *extra)
    item: dict[str, object] = {
        "currencyCode": "USD", "tierMinimumUnits": 0.0, "retailPrice": round(price, 6), "unitPrice": round(price, 6),
        "armRegionName": region, "location": LOCATION[region], "effectiveStartDate": "2025-10-01T00:00:00Z",
        "meterId": meter_id, "meterName": meter, "productId": product_id, "skuId": sku_id,
        "productName": product, "skuName": sku, "serviceName": service, "serviceId": "DZH313Z7MMC8",
        "serviceFamily": family, "unitOfMeasure": unit, "type": kind, "isPrimaryMeterRegion": True,
        "armSkuName": arm_sku,
    }
    if term:
        item["reservationTerm"] = term
    return item


def build() -> dict[str, object]:
    """The snapshot document."""
    items: list[dict[str, object]] = []
    for arm, series, base, regions in VMS:
        short = arm.removeprefix("Standard_").replace("_", " ")
        for region in regions:
            p = base * REGION_FACTOR[region]
            vm = ("Virtual Machines", "Compute")
            items.append(_item(region, *vm, series, short, short, "1 Hour", p, arm))
            items.append(_item(region, *vm, series, f"{short} Spot", f"{short} Spot", "1 Hour", p * 0.2, arm))
            items.append(_item(region, *vm, series, f"{short} Low Priority", f"{short} Low Priority", "1 Hour",
                               p * 0.2, arm))
            items.append(_item(region, *vm, f"{series} Windows", short, short, "1 Hour", p * 1.35, arm))
            items.append(_item(region, *vm, f"{series} Windows", short, short, "1 Hour", p, arm, "DevTestConsumption"))
            items.append(_item(region, *vm, series, short, short, "1 Hour", p * 8760 * 0.62, arm, "Reservation",
                               "1 Year"))
    for region in ALL:
        for service, family, product, sku, meter, unit, price in OTHERS:
            items.append(_item(region, service, family, product, sku, meter, unit, price * REGION_FACTOR[region], ""))
    return {"snapshot_date": SNAPSHOT_DATE, "currency": "USD", "currency_rates": RATES,
            "note": "Approximate public list prices for offline use; the live Retail Prices API is authoritative.",
            "Items": items}


if __name__ == "__main__":
    out = Path(__file__).resolve().parent.parent / "assets" / "prices" / "retail-prices-snapshot.json"
    doc = build()
    out.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    print(f"{out}: {len(doc['Items'])} items")  # type: ignore[arg-type]
