"""Simulated Kubernetes controllers (filled in by the Kubernetes milestone)."""

from __future__ import annotations

import asyncio

from ..arm.base import Sandbox


async def run(sbx: Sandbox) -> None:
    """Reconcile forever."""
    while True:
        await asyncio.sleep(3600)
