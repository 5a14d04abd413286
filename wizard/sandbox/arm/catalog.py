"""The sandbox's world: regions, VM sizes and where they are offered, and default quotas.

Facts follow ``azure-specs/gpu-skus.md`` (sizes, families, retirements) and Azure's public region
list. Retired sizes (NC, NV, NCv3) are absent from the SKU list, as they are in real Azure now.
"""

from __future__ import annotations

from typing import Any

# name, displayName, regionalDisplayName, geography group, lat, long, paired region
REGIONS: list[tuple[str, str, str, str, str, str, str]] = [
    ("eastus", "East US", "(US) East US", "US", "37.3719", "-79.8164", "westus"),
    ("eastus2", "East US 2", "(US) East US 2", "US", "36.6681", "-78.3889", "centralus"),
    ("westus2", "West US 2", "(US) West US 2", "US", "47.233", "-119.852", "westcentralus"),
    ("westus3", "West US 3", "(US) West US 3", "US", "33.448376", "-112.074036", "eastus"),
    ("southcentralus", "South Central US", "(US) South Central US", "US", "29.4167", "-98.5", "northcentralus"),
    ("northeurope", "North Europe", "(Europe) North Europe", "Europe", "53.3478", "-6.2597", "westeurope"),
    ("westeurope", "West Europe", "(Europe) West Europe", "Europe", "52.3667", "4.9", "northeurope"),
    ("uksouth", "UK South", "(Europe) UK South", "Europe", "50.941", "-0.799", "ukwest"),
    ("japaneast", "Japan East", "(Asia Pacific) Japan East", "Asia Pacific", "35.68", "139.77", "japanwest"),
    ("australiaeast", "Australia East", "(Asia Pacific) Australia East", "Asia Pacific", "-33.86", "151.2094",
     "australiasoutheast"),
]
REGION_NAMES = [r[0] for r in REGIONS]

ALL = REGION_NAMES
T4_REGIONS = ["eastus", "eastus2", "westus2", "southcentralus", "northeurope", "westeurope", "uksouth",
              "japaneast", "australiaeast"]
A10_REGIONS = ["eastus", "westus2", "southcentralus", "northeurope", "westeurope"]
A100_REGIONS = ["eastus", "eastus2", "southcentralus", "westeurope"]
H100_REGIONS = ["eastus2", "southcentralus", "westeurope"]

# size, family, vCPUs, memory GiB, GPUs, regions
SIZES: list[tuple[str, str, int, float, int, list[str]]] = [
    ("Standard_B2s", "standardBSFamily", 2, 4, 0, ALL),
    ("Standard_D2s_v3", "standardDSv3Family", 2, 8, 0, ALL),
    ("Standard_D4s_v3", "standardDSv3Family", 4, 16, 0, ALL),
    ("Standard_DS2_v2", "standardDSv2Family", 2, 7, 0, ALL),
    ("Standard_DS12_v2", "standardDSv2Family", 4, 28, 0, ALL),
    ("Standard_D2s_v5", "standardDSv5Family", 2, 8, 0, ALL),
    ("Standard_D4s_v5", "standardDSv5Family", 4, 16, 0, ALL),
    ("Standard_D2ds_v5", "standardDDSv5Family", 2, 8, 0, ALL),
    ("Standard_D4ds_v5", "standardDDSv5Family", 4, 16, 0, ALL),
    ("Standard_NC4as_T4_v3", "Standard NCASv3_T4 Family", 4, 28, 1, T4_REGIONS),
    ("Standard_NC8as_T4_v3", "Standard NCASv3_T4 Family", 8, 56, 1, T4_REGIONS),
    ("Standard_NC16as_T4_v3", "Standard NCASv3_T4 Family", 16, 110, 1, T4_REGIONS),
    ("Standard_NC64as_T4_v3", "Standard NCASv3_T4 Family", 64, 440, 4, T4_REGIONS),
    ("Standard_NV6ads_A10_v5", "StandardNVADSA10v5Family", 6, 55, 1, A10_REGIONS),
    ("Standard_NV12ads_A10_v5", "StandardNVADSA10v5Family", 12, 110, 1, A10_REGIONS),
    ("Standard_NV18ads_A10_v5", "StandardNVADSA10v5Family", 18, 220, 1, A10_REGIONS),
    ("Standard_NV36ads_A10_v5", "StandardNVADSA10v5Family", 36, 440, 1, A10_REGIONS),
    ("Standard_NC24ads_A100_v4", "StandardNCADSA100v4Family", 24, 220, 1, A100_REGIONS),
    ("Standard_NC48ads_A100_v4", "StandardNCADSA100v4Family", 48, 440, 2, A100_REGIONS),
    ("Standard_NC96ads_A100_v4", "StandardNCADSA100v4Family", 96, 880, 4, A100_REGIONS),
    ("Standard_NC40ads_H100_v5", "StandardNCadsH100v5Family", 40, 320, 1, H100_REGIONS),
    ("Standard_NC80adis_H100_v5", "StandardNCadsH100v5Family", 80, 640, 2, H100_REGIONS),
]
SIZE_BY_NAME = {s[0].lower(): s for s in SIZES}

# (size, region) pairs offered in the region but not to these subscriptions (Azure capacity holds)
NOT_FOR_SUBSCRIPTION = {("Standard_NC24ads_A100_v4", "eastus"), ("Standard_NC40ads_H100_v5", "westeurope")}

FAMILY_LABELS = {
    "standardBSFamily": "Standard BS Family vCPUs",
    "standardDSv3Family": "Standard DSv3 Family vCPUs",
    "standardDSv2Family": "Standard DSv2 Family vCPUs",
    "standardDSv5Family": "Standard DSv5 Family vCPUs",
    "standardDDSv5Family": "Standard DDSv5 Family vCPUs",
    "Standard NCASv3_T4 Family": "Standard NCASv3_T4 Family vCPUs",
    "StandardNVADSA10v5Family": "Standard NVADSA10v5 Family vCPUs",
    "StandardNCADSA100v4Family": "Standard NCADS_A100_v4 Family vCPUs",
    "StandardNCadsH100v5Family": "Standard NCadsH100v5 Family vCPUs",
}

TOTAL_REGIONAL_LIMIT = 100
GENERAL_FAMILY_LIMIT = 100
# GPU quota is 0 by default; these (family, region) pairs were raised for the sandbox's subscriptions.
GPU_LIMITS = {
    ("Standard NCASv3_T4 Family", "eastus"): 24,
    ("Standard NCASv3_T4 Family", "eastus2"): 24,
    ("Standard NCASv3_T4 Family", "westus2"): 16,
    ("Standard NCASv3_T4 Family", "westeurope"): 24,
    ("StandardNVADSA10v5Family", "eastus"): 36,
}


def family_limit(family: str, region: str) -> int:
    """The sandbox's quota limit for a family in a region."""
    if family in ("Standard NCASv3_T4 Family", "StandardNVADSA10v5Family", "StandardNCADSA100v4Family",
                  "StandardNCadsH100v5Family"):
        return GPU_LIMITS.get((family, region), 0)
    return GENERAL_FAMILY_LIMIT


def sku_entry(size: tuple[str, str, int, float, int, list[str]], region: str) -> dict[str, Any]:
    """One ResourceSku as the resource SKUs API lists it (one entry per size and location)."""
    name, family, vcpus, mem, gpus, _ = size
    caps = [
        {"name": "MaxResourceVolumeMB", "value": str(vcpus * 8192)},
        {"name": "OSVhdSizeMB", "value": "1047552"},
        {"name": "vCPUs", "value": str(vcpus)},
        {"name": "MemoryGB", "value": f"{mem:g}"},
        {"name": "MaxDataDiskCount", "value": str(min(64, vcpus * 2))},
        {"name": "LowPriorityCapable", "value": "True"},
        {"name": "PremiumIO", "value": "True"},
        {"name": "vCPUsAvailable", "value": str(vcpus)},
        {"name": "HyperVGenerations", "value": "V1,V2"},
        {"name": "AcceleratedNetworkingEnabled", "value": "True"},
    ]
    if gpus:
        caps.append({"name": "GPUs", "value": str(gpus)})
    restrictions = []
    if (name, region) in NOT_FOR_SUBSCRIPTION:
        restrictions.append({
            "type": "Location", "values": [region],
            "restrictionInfo": {"locations": [region]}, "reasonCode": "NotAvailableForSubscription",
        })
    return {
        "resourceType": "virtualMachines", "name": name, "tier": "Standard",
        "size": name.removeprefix("Standard_"), "family": family, "locations": [region],
        "locationInfo": [{"location": region, "zones": ["1", "2", "3"], "zoneDetails": []}],
        "capabilities": caps, "restrictions": restrictions,
    }
