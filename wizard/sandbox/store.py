"""The sandbox's durable state: one JSON document in the sandbox directory.

Saved atomically (write to a temporary file, fsync, rename) after every change, so a
``serve`` killed at any moment leaves the last consistent state, and a second ``serve`` on the
same directory sees what the first made. Times are wall-clock epoch seconds, so operations that
were in flight when the server stopped finish on schedule after a restart.

Secret material is encrypted at rest, as AKS encrypts etcd: Kubernetes Secret data, registry admin
passwords, cluster tokens and what the VMs hold (their customData and disks) are sealed with AES-GCM under a key
kept 0600 in ``pki/state.key``.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import time
import uuid
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SEALED = "sealed:v1:"

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
        self._aead = AESGCM(_state_key(directory))
        if self.path.exists():
            self.data: dict[str, Any] = self._unsealed(json.loads(self.path.read_text()))
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
            json.dump(self._sealed(), fh, separators=(",", ":"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def _seal(self, value: str) -> str:
        nonce = os.urandom(12)
        return SEALED + base64.b64encode(nonce + self._aead.encrypt(nonce, value.encode(), None)).decode()

    def _open(self, value: Any) -> Any:
        if not isinstance(value, str) or not value.startswith(SEALED):
            return value
        raw = base64.b64decode(value[len(SEALED):])
        return self._aead.decrypt(raw[:12], raw[12:], None).decode()

    def _transform(self, doc: dict[str, Any], fn: Any) -> dict[str, Any]:
        """``doc`` with every secret field passed through ``fn`` (copies only what changes)."""
        out = dict(doc)
        out["kube"] = {}
        for key, cluster in doc.get("kube", {}).items():
            objects = {}
            for okey, obj in cluster.get("objects", {}).items():
                if obj.get("kind") == "Secret" and obj.get("data"):
                    obj = {**obj, "data": {k: fn(v) for k, v in obj["data"].items()}}
                objects[okey] = obj
            out["kube"][key] = {**cluster, "objects": objects}
        out["resources"] = {}
        for key, rec in doc.get("resources", {}).items():
            if "admin_passwords" in rec:
                rec = {**rec, "admin_passwords": [fn(p) for p in rec["admin_passwords"]]}
            if isinstance(rec.get("kube"), dict):
                rec = {**rec, "kube": {k: fn(v) if k.endswith("_token") else v for k, v in rec["kube"].items()}}
            out["resources"][key] = rec
        out["guests"] = {key: self._guest(guest, fn) for key, guest in doc.get("guests", {}).items()}
        return out

    def _guest(self, guest: dict[str, Any], fn: Any) -> dict[str, Any]:
        """A VM guest with its customData and event log (files hold the services' credentials) sealed or opened."""
        out = dict(guest)
        if out.get("custom_data"):
            out["custom_data"] = fn(out["custom_data"])
        events = out.get("events")
        if isinstance(events, list):  # sealing: the whole log as one sealed string
            out["events"] = fn(json.dumps(events, separators=(",", ":"))) if fn == self._seal else events
        elif isinstance(events, str):  # opening
            out["events"] = json.loads(fn(events))
        return out

    def _sealed(self) -> dict[str, Any]:
        return self._transform(self.data, self._seal)

    def _unsealed(self, doc: dict[str, Any]) -> dict[str, Any]:
        return self._transform(doc, self._open)

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


def _state_key(directory: Path) -> bytes:
    """The at-rest encryption key, made on first use (0600 beside the PKI)."""
    path = directory / "pki" / "state.key"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(AESGCM.generate_key(bit_length=256))
    return path.read_bytes()


def iso(ts: float) -> str:
    """An epoch time as the ISO-8601 UTC string ARM and Graph use."""
    frac = f"{ts % 1:.7f}"[1:]
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + frac + "Z"
