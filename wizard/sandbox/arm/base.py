"""What every sandbox ARM handler shares: errors, the request context, LROs and resource records.

Behaviour follows the official specs in ``azure-specs``: error bodies are
``{"error": {"code", "message", "target"?, "details"?}}``; long-running PUTs answer 201 with an
``Azure-AsyncOperation`` header, DELETEs and POST actions 202 with ``Location``; polling endpoints
send ``Retry-After`` scaled by the speed factor so the SDK polls at the pace of the simulation.
"""

from __future__ import annotations

import json
import math
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ..crypto import Pki
from ..store import Store, iso

JSON_TYPE = "application/json; charset=utf-8"


class ArmError(Exception):
    """An ARM error answer: HTTP status plus the ARM error envelope."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        target: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.target, self.details, self.headers = target, details, headers or {}

    def body(self) -> dict[str, Any]:
        """The error envelope."""
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target:
            err["target"] = self.target
        if self.details:
            err["details"] = self.details
        return {"error": err}

    def response(self) -> web.Response:
        """As an aiohttp response with ARM's headers."""
        headers = {"x-ms-failure-cause": "gateway" if self.status in (401, 429) else "service"}
        headers.update(self.headers)
        return json_response(self.body(), status=self.status, headers=headers)


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON answer carrying a request id, as ARM sends."""
    hdrs = {"x-ms-request-id": str(uuid.uuid4()), "x-ms-correlation-request-id": str(uuid.uuid4())}
    hdrs.update(headers or {})
    text = None if body is None else json.dumps(body)
    return web.Response(status=status, text=text, content_type="application/json" if text else None,
                        headers=hdrs)


def bad_request(message: str, target: str | None = None, code: str = "InvalidParameter") -> ArmError:
    """A 400 naming the offending parameter."""
    return ArmError(400, code, message, target=target)


def not_found(rtype: str, name: str, rg: str | None) -> ArmError:
    """ARM's 404 for a missing resource."""
    where = f" under resource group '{rg}'" if rg else ""
    return ArmError(404, "ResourceNotFound", f"The Resource '{rtype}/{name}'{where} was not found. "
                    "For more details please go to https://aka.ms/ARMResourceNotFoundFix")


@dataclass
class Sandbox:
    """Process-wide sandbox context shared by every handler."""

    store: Store
    pki: Pki
    speed: float = 1.0
    base_url: str = ""
    rng: random.Random = field(default_factory=random.Random)
    lro_fail_rate: float = 0.0
    device_approve_seconds: float = 5.0

    def now(self) -> float:
        """Wall-clock now (epoch seconds)."""
        return time.time()

    def scaled(self, seconds: float) -> float:
        """Real-Azure duration divided by the speed factor."""
        return seconds / self.speed if self.speed > 0 else 0.0

    def retry_after(self, seconds: float) -> dict[str, str]:
        """Retry headers: ``Retry-After`` always, in whole seconds as ARM sends it (RFC 9110 delay-seconds; the SDKs
        parse an int, az and Terraform wait that long), at least 1; below a second (high speed factors only) also
        ``retry-after-ms``, which azure-core reads first, so the SDK keeps the pace of the simulation."""
        headers = {"Retry-After": str(max(1, math.ceil(seconds)))}
        if seconds < 1:
            headers["retry-after-ms"] = str(max(50, int(seconds * 1000)))
        return headers

    # --- long-running operations ---------------------------------------------------------------

    def start_operation(
        self,
        *,
        sub: str,
        namespace: str,
        location: str,
        seconds: float,
        resource_id: str | None = None,
        kind: str = "put",
        result: Any = None,
        api_version: str = "",
        error: dict[str, Any] | None = None,
        can_fail: bool = True,
    ) -> dict[str, Any]:
        """Record an operation that finishes after ``seconds`` of real-Azure time. Injected ``lro_fail``
        faults hit only operations that ``can_fail`` (deletes always finish)."""
        op_id = str(uuid.uuid4())
        now = self.now()
        injected = can_fail and self.lro_fail_rate > 0 and self.rng.random() < self.lro_fail_rate
        fails = error is not None or injected
        if fails and error is None:
            error = {"code": "InternalServerError",
                     "message": "An internal error occurred during the operation (injected lro_fail)."}
        op = {
            "id": op_id, "sub": sub, "namespace": namespace, "location": location,
            "start": now, "done_at": now + self.scaled(seconds), "resource_id": resource_id,
            "kind": kind, "result": result, "error": error if fails else None, "api_version": api_version,
        }
        self.store.operations[op_id] = op
        return op

    def op_urls(self, op: dict[str, Any]) -> tuple[str, str]:
        """(Azure-AsyncOperation URL, Location URL) for an operation, on this sandbox."""
        base = (f"{self.base_url}/subscriptions/{op['sub']}/providers/{op['namespace']}"
                f"/locations/{op['location']}")
        q = f"?api-version={op['api_version']}" if op["api_version"] else ""
        return f"{base}/operationStatuses/{op['id']}{q}", f"{base}/operationResults/{op['id']}{q}"

    def op_headers(self, op: dict[str, Any], *, async_header: bool, location: bool) -> dict[str, str]:
        """Headers announcing an LRO."""
        status_url, result_url = self.op_urls(op)
        headers = self.retry_after(op["done_at"] - self.now())
        if async_header:
            headers["Azure-AsyncOperation"] = status_url
        if location:
            headers["Location"] = result_url
        return headers

    def op_status(self, op: dict[str, Any]) -> str:
        """InProgress, Succeeded or Failed, by the clock."""
        if self.now() < op["done_at"]:
            return "InProgress"
        return "Failed" if op.get("error") else "Succeeded"

    # --- resources -----------------------------------------------------------------------------

    def get_resource(self, rid: str) -> dict[str, Any] | None:
        """The live record for a resource id (case-insensitive), finishing due transitions."""
        rec = self.store.resources.get(rid.lower())
        if rec is None:
            return None
        if rec.get("transition") == "Deleting" and self.now() >= rec["busy_until"]:
            self.remove_resource(rid)
            return None
        return rec

    def remove_resource(self, rid: str) -> None:
        """Remove a resource and everything nested below it."""
        prefix = rid.lower() + "/"
        for key in [k for k in self.store.resources if k == rid.lower() or k.startswith(prefix)]:
            del self.store.resources[key]

    def provisioning_state(self, rec: dict[str, Any]) -> str:
        """Succeeded, Failed, or the transition in progress."""
        if rec.get("transition") and self.now() < rec.get("busy_until", 0):
            return str(rec["transition"])
        return "Failed" if rec.get("failed") else "Succeeded"

    def rendered(self, rec: dict[str, Any]) -> dict[str, Any]:
        """The resource body with its current provisioningState."""
        body: dict[str, Any] = json.loads(json.dumps(rec["body"]))
        body.setdefault("properties", {})["provisioningState"] = self.provisioning_state(rec)
        return body

    def children(self, parent_id: str, child_type: str) -> list[dict[str, Any]]:
        """Live records directly below ``parent_id`` of the given child type segment."""
        prefix = f"{parent_id.lower()}/{child_type.lower()}/"
        out = []
        for key in list(self.store.resources):
            if key.startswith(prefix) and "/" not in key[len(prefix):]:
                rec = self.get_resource(key)
                if rec:
                    out.append(rec)
        return out


def now_iso() -> str:
    """Now as an ISO-8601 UTC string."""
    return iso(time.time())
