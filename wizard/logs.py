"""The log file: the wizard's and the SDKs' lines, never over the screen (light, so the UI sets it up before
anything heavy loads)."""

from __future__ import annotations

import logging
from pathlib import Path

from .state import local_write, log_dir

log = logging.getLogger("studioml_azure")


def setup_log() -> Path:
    """Send the wizard's and the SDKs' log lines to the log file (never over the screen); returns its path."""
    logging.raiseExceptions = False  # a log line that cannot be written (a full disk) is dropped, never printed
    directory = log_dir()
    path = directory / "studioml-azure.log"
    with local_write(path, folder=directory):
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not log.handlers:
        with local_write(path):
            handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        sdk = logging.getLogger("azure")  # the SDKs' warnings go to the log, not over the progress lines
        sdk.addHandler(handler)
        sdk.setLevel(logging.WARNING)
        sdk.propagate = False
    return path
