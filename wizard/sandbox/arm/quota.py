"""Compute quota in the sandbox: what VMs and AKS node pools use, per family and region."""

from __future__ import annotations

from typing import Any

from . import catalog
from .base import ArmError, Sandbox

LOW_PRIORITY_LIMIT = 100  # "Total Regional Low-priority vCPUs": Spot VMs count here, not in their family's quota


def _consumers(sbx: Sandbox, sub: str, location: str, exclude: str | None) -> list[tuple[str, int, bool]]:
    """(vmSize, count, spot) for every live VM and agent pool of the subscription in the location."""
    out: list[tuple[str, int, bool]] = []
    prefix = f"/subscriptions/{sub}/".lower()
    skip = (exclude or "").lower()
    for key in list(sbx.store.resources):
        if not key.startswith(prefix) or (skip and (key == skip or key.startswith(skip + "/"))):
            continue
        rec = sbx.get_resource(key)
        if rec is None or rec.get("transition") == "Deleting":
            continue
        rtype = rec["type"].lower()
        if rtype == "microsoft.compute/virtualmachines" and rec["location"] == location:
            out.append((rec["body"]["properties"].get("hardwareProfile", {}).get("vmSize", ""), 1, False))
        elif rtype.endswith("managedclusters/agentpools") and rec.get("cluster_location") == location:
            props = rec["body"]["properties"]
            out.append((props.get("vmSize", ""), int(props.get("count") or 0), props.get("scaleSetPriority") == "Spot"))
    return out


def usage(sbx: Sandbox, sub: str, location: str, exclude: str | None = None) -> dict[str, int]:
    """vCPUs in use per family name, plus ``cores`` (the regional total) and ``virtualMachines``."""
    used: dict[str, int] = {"cores": 0, "virtualMachines": 0, "lowPriorityCores": 0}
    for size, count, spot in _consumers(sbx, sub, location, exclude):
        entry = catalog.SIZE_BY_NAME.get(size.lower())
        if entry is None:
            continue
        cores = entry[2] * count
        if spot:
            used["lowPriorityCores"] += cores
            used["virtualMachines"] += count
            continue
        used[entry[1]] = used.get(entry[1], 0) + cores
        used["cores"] += cores
        used["virtualMachines"] += count
    return used


def usage_list(sbx: Sandbox, sub: str, location: str) -> list[dict[str, Any]]:
    """The usages API's ``value`` list for one region."""
    used = usage(sbx, sub, location)
    items = [
        {"unit": "Count", "currentValue": used["cores"], "limit": catalog.TOTAL_REGIONAL_LIMIT,
         "name": {"value": "cores", "localizedValue": "Total Regional vCPUs"}},
        {"unit": "Count", "currentValue": used["virtualMachines"], "limit": 25000,
         "name": {"value": "virtualMachines", "localizedValue": "Virtual Machines"}},
        {"unit": "Count", "currentValue": 0, "limit": 2500,
         "name": {"value": "availabilitySets", "localizedValue": "Availability Sets"}},
        {"unit": "Count", "currentValue": used["lowPriorityCores"], "limit": LOW_PRIORITY_LIMIT,
         "name": {"value": "lowPriorityCores", "localizedValue": "Total Regional Low-priority vCPUs"}},
    ]
    for family, label in catalog.FAMILY_LABELS.items():
        items.append({"unit": "Count", "currentValue": used.get(family, 0),
                      "limit": catalog.family_limit(family, location),
                      "name": {"value": family, "localizedValue": label}})
    return items


def check(sbx: Sandbox, sub: str, location: str, wanted: list[tuple[str, int, bool]], exclude: str | None,
          *, status: int, code: str) -> None:
    """Refuse a request whose VMs would exceed a family or the regional vCPU quota (AKS, code
    ``ErrCode_InsufficientVCPUQuota``, words it its own way: recorded AKS answers)."""
    used = usage(sbx, sub, location, exclude)
    need: dict[str, int] = {}
    spot = 0
    for size, count, is_spot in wanted:
        entry = catalog.SIZE_BY_NAME[size.lower()]
        if is_spot:
            spot += entry[2] * count
            continue
        need[entry[1]] = need.get(entry[1], 0) + entry[2] * count
    if used["lowPriorityCores"] + spot > LOW_PRIORITY_LIMIT:  # AKS's words for it are not recorded: its regional form
        left = LOW_PRIORITY_LIMIT - used["lowPriorityCores"]
        raise ArmError(status, code, f"Insufficient regional low priority vcpu quota left for location {location}. "
                       f"left low priority vcpu quota {left}, requested quota {spot}. If you want to increase the "
                       "quota, please follow this instruction: https://learn.microsoft.com/en-us/azure/quotas/"
                       "view-quotas." if code == AKS_QUOTA else _message("Low-priority", location,
                                                                          LOW_PRIORITY_LIMIT, LOW_PRIORITY_LIMIT - left,
                                                                          spot))
    for family, cores in need.items():
        limit = catalog.family_limit(family, location)
        current = used.get(family, 0)
        if current + cores > limit:
            raise ArmError(status, code, _aks_family(family, location, limit - current, cores)
                           if code == AKS_QUOTA else _message(family, location, limit, current, cores))
    total = sum(need.values())
    if used["cores"] + total > catalog.TOTAL_REGIONAL_LIMIT:
        left = catalog.TOTAL_REGIONAL_LIMIT - used["cores"]
        raise ArmError(status, code, _aks_regional(location, left, total) if code == AKS_QUOTA else
                       _message("Total Regional", location, catalog.TOTAL_REGIONAL_LIMIT, used["cores"], total))


AKS_QUOTA = "ErrCode_InsufficientVCPUQuota"


def _aks_regional(location: str, left: int, requested: int) -> str:
    return (f"Insufficient regional vcpu quota left for location {location}. left regional vcpu quota {left}, "
            f"requested quota {requested}. If you want to increase the quota, please follow this instruction: "
            "https://learn.microsoft.com/en-us/azure/quotas/view-quotas. Surge nodes would also consume vcpu quota, "
            "please consider use smaller maxSurge or use maxUnavailable to proceed upgrade without surge nodes.")


def _aks_family(family: str, location: str, left: int, requested: int) -> str:
    return (f"Insufficient vcpu quota requested {requested}, remaining {left} for family {family} for region "
            f"{location}. If you want to increase the quota, please follow this instruction: "
            "https://learn.microsoft.com/en-us/azure/quotas/view-quotas.")


def _message(family: str, location: str, limit: int, current: int, extra: int) -> str:
    return (f"Operation could not be completed as it results in exceeding approved {family} Cores quota. "
            f"Additional details - Deployment Model: Resource Manager, Location: {location}, Current Limit: "
            f"{limit}, Current Usage: {current}, Additional Required: {extra}, (Minimum) New Limit Required: "
            f"{current + extra}. Submit a request for Quota increase at https://aka.ms/ProdportalCRP/#blade/"
            "Microsoft_Azure_Capacity/UsageAndQuota.ReactView/Parameters/ by specifying parameters listed in "
            "the 'Details' section for deployment to succeed.")


def require_size(sbx: Sandbox, size: str, location: str, target: str) -> None:
    """Refuse a VM size the region does not offer, or offers but not to this subscription."""
    entry = catalog.SIZE_BY_NAME.get(size.lower())
    if entry is None or location not in entry[5]:
        raise ArmError(400, "InvalidParameter" if entry is None else "SkuNotAvailable",
                       f"The requested VM size {size} is not available in location '{location}'. Please try "
                       "another size or deploy to a different location or zones. See "
                       "https://aka.ms/azureskunotavailable for details.", target=target)
    if (entry[0], location) in catalog.NOT_FOR_SUBSCRIPTION:
        raise ArmError(409, "SkuNotAvailable",
                       f"The requested VM size for resource 'Following SKUs have failed for Capacity Restrictions: "
                       f"{entry[0]}' is currently not available in location '{location}'. Please try another size "
                       "or deploy to a different location or zones. See https://aka.ms/azureskunotavailable for "
                       "details.", target=target)
