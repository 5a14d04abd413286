"""What an install already holds, region by region, read from Azure (and the cluster, for the runner): what a re-run
starts from, so a guided re-run opens on the installed values instead of the defaults, and the estimate covers the
whole install."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .azure.errors import azure_call
from .catalog import gpu_size
from .errors import WizardError
from .naming import TAG
from .session import Session
from .steps.base import lookup, rest


@dataclass(frozen=True)
class InstalledRegion:
    """One region's cluster as it is: its GPU pool and the runner replicas (None when the cluster was not read)."""

    region: str
    gpu_sku: str
    gpu_nodes: int
    runner_replicas: int | None

    @property
    def pool(self) -> str:
        """``2 x Standard_NC8as_T4_v3``."""
        return f"{self.gpu_nodes} x {self.gpu_sku}"

    def answers(self) -> dict[str, Any]:
        """The answers that keep this region as it is."""
        try:
            gpus = gpu_size(self.gpu_sku).gpus * self.gpu_nodes
        except WizardError:  # a size the catalog no longer lists: the runner count as it is
            gpus = self.runner_replicas or self.gpu_nodes
        replicas = self.runner_replicas if self.runner_replicas is not None else gpus
        return {"region": self.region, "gpu_sku": self.gpu_sku, "gpu_nodes": self.gpu_nodes,
                "runner_replicas": min(replicas, gpus)}


def _replicas(kubeconfig: Path) -> int | None:
    if not kubeconfig.exists():
        return None
    from .kube import Kube
    from .status import RUNNER

    try:
        live = Kube(kubeconfig).get(RUNNER)
    except WizardError:
        return None
    return int(live["spec"].get("replicas") or 0) if live else None


def installed_regions(session: Session, sub: str, uniq_id: str, kubeconfig: Any) -> dict[str, InstalledRegion]:
    """Every region of the install with a GPU pool, by region (``kubeconfig(region)`` is the region's file)."""
    with azure_call("listing the install's clusters"):
        clusters = [rest(c) for c in session.clients.aks(sub).managed_clusters.list()]
    out = {}
    for mc in clusters:
        if not mc or (mc.get("tags") or {}).get(TAG) != uniq_id:
            continue
        gpu = next((p for p in lookup(mc, "properties.agentPoolProfiles", []) or [] if p.get("name") == "gpu"), None)
        if gpu is None or not gpu.get("vmSize"):
            continue
        region = str(mc["location"])
        out[region] = InstalledRegion(region, str(gpu["vmSize"]), int(gpu.get("count") or 0),
                                      _replicas(kubeconfig(region)))
    return out
