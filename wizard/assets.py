"""Where the shipped data files live: ``wizard/_assets`` in a wheel, ``assets/`` in a source checkout."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent


def asset_path(*parts: str) -> Path:
    """The path of an asset file, wherever the package is installed from."""
    for base in (_HERE / "_assets", _HERE.parent / "assets"):
        path = base.joinpath(*parts)
        if path.exists():
            return path
    raise FileNotFoundError(f"asset {'/'.join(parts)} is missing from the package")


def asset_text(*parts: str) -> str:
    """An asset's text."""
    return asset_path(*parts).read_text(encoding="utf-8")


@cache
def asset_json(*parts: str) -> Any:
    """An asset parsed as JSON (cached: assets do not change while running)."""
    return json.loads(asset_text(*parts))
