"""The GPU size catalogue shipped in ``assets/gpu-skus.json``: current sizes and retired ones with successors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .assets import asset_json
from .errors import InputError


@dataclass(frozen=True)
class GpuSize:
    """One current GPU VM size."""

    name: str
    gpu: str
    gpus: int
    gpu_memory_gb: int
    vcpus: int
    memory_gib: float
    family: str
    fractional: bool = False


def _data() -> dict[str, Any]:
    data: dict[str, Any] = asset_json("gpu-skus.json")
    return data


def current_sizes() -> dict[str, GpuSize]:
    """Every current GPU size by name."""
    return {name: GpuSize(name=name, gpu=v["gpu"], gpus=v["gpus"], gpu_memory_gb=v["gpu_memory_gb"],
                          vcpus=v["vcpus"], memory_gib=v["memory_gib"], family=v["family"],
                          fractional=bool(v.get("fractional")))
            for name, v in _data()["current"].items()}


def service_sizes() -> dict[str, Any]:
    """VM sizes of the system pool, RabbitMQ and the file server, and the file server's data disk size."""
    services: dict[str, Any] = _data()["services"]
    return services


def gpu_size(name: str, key: str = "gpu_sku") -> GpuSize:
    """The catalogue entry of ``name``; a retired or unknown size is an :class:`InputError` naming the way out."""
    sizes = current_sizes()
    by_lower = {k.lower(): v for k, v in sizes.items()}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    retired = {k.lower(): (k, v) for k, v in _data()["retired"].items()}
    if name.lower() in retired:
        real, info = retired[name.lower()]
        raise InputError(f"{key}: {real} ({info['gpu']}) was retired by Azure on {info['retired']}.",
                         f"use {info['successor']}, its current successor (gpu_sku = \"{info['successor']}\")")
    raise InputError(f"{key}: {name!r} is not a GPU size the wizard knows.",
                     "pick one of: " + ", ".join(sorted(sizes)))
