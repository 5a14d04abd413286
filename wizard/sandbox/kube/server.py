"""Kubernetes API endpoint for sandbox clusters (filled in by the Kubernetes milestone)."""

from __future__ import annotations

from aiohttp import web


async def handle(request: web.Request) -> web.Response:
    """Answer as an API server that is not there yet."""
    return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                              "message": "not found", "reason": "NotFound", "code": 404}, status=404)
