"""The api-versions the sandbox's ARM accepts, per resource provider namespace.

ARM accepts, for a resource type, the api-versions its providers answer lists for that type (``GET
/subscriptions/{s}/providers/{namespace}``: ``resourceTypes[].apiVersions``), and the providers answer here lists
these same versions. The set is the union of the versions the pinned SDK wheels send by default
(``azure-specs/sdk-api-versions``), the versions of the spec files the contract rests on, and the versions the
official ``az`` CLI 2.91 sends for the commands of the printed script (read from its requests against the sandbox;
``tests/engine/test_script.py`` runs them). Anything else is refused as ARM refuses it.
"""

from __future__ import annotations

from .base import ArmError

ACCEPTED: dict[str, tuple[str, ...]] = {
    "microsoft.resources": ("2016-06-01", "2020-01-01", "2021-01-01", "2022-12-01", "2024-03-01", "2024-11-01",
                            "2025-04-01"),
    "microsoft.containerregistry": ("2023-07-01", "2025-11-01", "2026-09-01-preview"),
    "microsoft.containerservice": ("2024-02-01", "2026-06-01", "2026-08-01"),
    "microsoft.compute": ("2021-07-01", "2024-03-01", "2024-11-01", "2026-04-01"),
    "microsoft.network": ("2022-01-01", "2023-11-01", "2024-01-01", "2024-07-01", "2025-07-01", "2025-09-01",
                          "2026-03-01"),
    "microsoft.authorization": ("2022-04-01", "2022-05-01-preview"),
}


def check(namespace: str, api_version: str | None, rtype: str, location: str = "eastus") -> None:
    """Raise ARM's error when the api-version is missing or not one the namespace serves."""
    if not api_version:
        raise ArmError(400, "MissingApiVersionParameter",
                       "The api-version query parameter (?api-version=) is required for all requests.")
    ns = namespace.lower()
    versions = ACCEPTED.get(ns)
    if versions is None or api_version in versions:
        return
    supported = ", ".join(versions)
    if ns == "microsoft.resources":
        raise ArmError(400, "InvalidApiVersionParameter",
                       f"The api-version '{api_version}' is invalid. The supported versions are "
                       f"'{supported}'.")
    raise ArmError(400, "NoRegisteredProviderFound",
                   f"No registered resource provider found for location '{location}' and API version "
                   f"'{api_version}' for type '{rtype}'. The supported api-versions are '{supported}'.")
