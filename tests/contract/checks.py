"""Check every recorded ARM answer against the spec."""

from __future__ import annotations

from typing import Any

from . import spec

ASYNC_STATUS = ("InProgress", "Succeeded", "Failed", "Canceled")


def check_all(seen: list[tuple[str, str, int, Any]]) -> int:
    """Validate each answer; LRO polling answers get the ARM async-operation shape. Returns how many."""
    count = 0
    for method, url, status, body in seen:
        low = url.lower()
        if "/operationstatuses/" in low:
            assert isinstance(body, dict) and body.get("status") in ASYNC_STATUS, (url, body)
            if body["status"] == "Failed":
                assert {"code", "message"} <= set(body["error"]), body
        elif "/operationresults/" in low:
            assert status in (200, 202, 204) or "error" in body, (url, status, body)
        else:
            op = spec.find(method, url)
            assert op is not None, f"no spec operation for {method} {url}"
            spec.validate(op, status, body)
        count += 1
    return count
