"""Watches: a stream of ``{"type": ..., "object": ...}`` lines, resumable by resourceVersion."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from aiohttp import web

from .kinds import Kind
from .objects import Cluster
from .selectors import field_selector, label_selector


async def serve_watch(request: web.Request, cluster: Cluster, kind: Kind, namespace: str | None) -> web.StreamResponse:
    """Stream events for one kind until ``timeoutSeconds`` or the client goes away."""
    q = request.query
    lt, ft = label_selector(q.get("labelSelector", "")), field_selector(q.get("fieldSelector", ""))
    timeout = float(q.get("timeoutSeconds") or 1800)
    since = q.get("resourceVersion", "")

    def wanted(item: dict[str, Any]) -> bool:
        obj = item["object"]
        return (item.get("_kind") == kind.key and (namespace is None or obj["metadata"].get("namespace") == namespace)
                and lt(obj) and ft(obj))

    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    Cluster.watchers[cluster.key].append(queue)
    resp = web.StreamResponse(headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    await resp.prepare(request)
    try:
        if since in ("", "0"):
            for obj in cluster.list(kind, namespace):
                if lt(obj) and ft(obj):
                    await _send(resp, {"type": "ADDED", "object": obj})
        else:
            history = list(Cluster.history[cluster.key])
            oldest = history[0][0] if history else int(cluster.resource_version)
            if int(since) < oldest - 1:
                await _send(resp, {"type": "ERROR", "object": {
                    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": f"too old resource version: {since} ({oldest})", "reason": "Expired", "code": 410}})
                return resp
            for rv, _key, item in history:
                if rv > int(since) and wanted(item):
                    await _send(resp, item)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                item = await asyncio.wait_for(queue.get(), timeout=left)
            except TimeoutError:
                break
            if item.get("type") == "_CLOSE":
                break
            if wanted(item):
                await _send(resp, item)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(ValueError):
            Cluster.watchers[cluster.key].remove(queue)
    with contextlib.suppress(ConnectionResetError):
        await resp.write_eof()
    return resp


async def _send(resp: web.StreamResponse, item: dict[str, Any]) -> None:
    await resp.write((json.dumps({"type": item["type"], "object": item["object"]}) + "\n").encode())
