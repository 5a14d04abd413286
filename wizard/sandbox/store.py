"""The sandbox's durable state: one JSON document in the sandbox directory.

Saved atomically (write to a temporary file, fsync, rename) after every change, so a
``serve`` killed at any moment leaves the last consistent state, and a second ``serve`` on the
same directory sees what the first made. Times are wall-clock epoch seconds, so operations that
were in flight when the server stopped finish on schedule after a restart.
"""

from __future__ import annotations

import json
import os
import secrets
import time
import uuid
from pathlib import Path
from typing import Any

SUBSCRIPTION_NAMES = [
    ("Visual Studio Ultimate with MSDN", "Enabled"),
    ("Pay-As-You-Go", "Warned"),
    ("Sentient AI Evaluation", "Enabled"),
]


class Store:
    """All sandbox state as one JSON document."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / "state.json"
        directory.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            self.data: dict[str, Any] = json.loads(self.path.read_text())
        else:
            self.data = self._fresh()
            self.save()

    @staticmethod
    def _fresh() -> dict[str, Any]:
        tenant = str(uuid.uuid4())
        subs = [
            {"subscriptionId": str(uuid.uuid4()), "displayName": name, "state": state}
            for name, state in SUBSCRIPTION_NAMES
        ]
        admin_app = {
            "id": str(uuid.uuid4()),
            "appId": str(uuid.uuid4()),
            "displayName": "studioml-sandbox-admin",
            "createdDateTime": iso(time.time())[:19] + "Z",
            "signInAudience": "AzureADMyOrg",
            "passwordCredentials": [],
            "keyCredentials": [],
            "identifierUris": [],
            "tags": [],
        }
        admin_sp = {
            "id": str(uuid.uuid4()),
            "appId": admin_app["appId"],
            "displayName": admin_app["displayName"],
            "appDisplayName": admin_app["displayName"],
            "accountEnabled": True,
            "servicePrincipalType": "Application",
            "servicePrincipalNames": [admin_app["appId"]],
            "appOwnerOrganizationId": tenant,
            "passwordCredentials": [],
            "keyCredentials": [],
            "tags": [],
            "_visible_at": 0,
        }
        return {
            "version": 1,
            "meta": {
                "tenant_id": tenant,
                "tenant_domain": "sandbox.onmicrosoft.com",
                "admin_client_id": admin_app["appId"],
                "admin_user": "admin@sandbox.onmicrosoft.com",
                "admin_object_id": str(uuid.uuid4()),
                "last_port": 0,
            },
            "subscriptions": subs,
            "providers": {},
            "resources": {},
            "operations": {},
            "applications": {admin_app["id"]: admin_app},
            "service_principals": {admin_sp["id"]: admin_sp},
            "app_secrets": {},
            "device_codes": {},
            "refresh_tokens": {},
            "registry_tags": {},
            "kube": {},
        }

    def save(self) -> None:
        """Write the document atomically."""
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(self.data, fh, separators=(",", ":"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    # --- convenience views -------------------------------------------------------------------

    @property
    def meta(self) -> dict[str, Any]:
        """Tenant, admin identity and server bookkeeping."""
        return self.data["meta"]  # type: ignore[no-any-return]

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        """ARM resources keyed by lower-case resource id."""
        return self.data["resources"]  # type: ignore[no-any-return]

    @property
    def operations(self) -> dict[str, dict[str, Any]]:
        """Long-running operations keyed by operation id."""
        return self.data["operations"]  # type: ignore[no-any-return]

    def subscription(self, sub_id: str) -> dict[str, Any] | None:
        """The subscription with this id (case-insensitive), if any."""
        for sub in self.data["subscriptions"]:
            if sub["subscriptionId"].lower() == sub_id.lower():
                return sub  # type: ignore[no-any-return]
        return None


def admin_secret(directory: Path) -> str:
    """The sandbox admin principal's client secret, kept 0600 beside the PKI."""
    path = directory / "pki" / "admin.secret"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("sbx~" + secrets.token_urlsafe(30))
    return path.read_text().strip()


def iso(ts: float) -> str:
    """An epoch time as the ISO-8601 UTC string ARM and Graph use."""
    frac = f"{ts % 1:.7f}"[1:]
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + frac + "Z"
