"""Run the sandbox inside the wizard's process (``studioml-azure --sandbox``), on its own thread and loop."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from .server import Endpoints, SandboxServer


class EmbeddedSandbox:
    """A sandbox server on a daemon thread; ``start()`` returns its endpoints, ``stop()`` ends it."""

    def __init__(self, directory: Path, *, speed: float = 10.0) -> None:
        self.server = SandboxServer(directory, speed=speed)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="sandbox", daemon=True)

    def start(self) -> Endpoints:
        """Start serving and wait until the listener is bound."""
        self.thread.start()
        return asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(timeout=30)

    def stop(self) -> None:
        """Stop serving, save, and end the thread."""
        if not self.thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
