"""A sandbox AKS cluster (system pool + tainted GPU pool) and its user kubeconfig, for the Kubernetes tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.resource.resources import ResourceManagementClient


@pytest.fixture
def kubeconfig(sandbox: Any, credential: Any, tmp_path: Path) -> Iterator[Path]:
    """Make a cluster through the SDK and write its user kubeconfig (0600); delete its group afterwards
    (the cluster holds GPU quota, which the sandbox enforces)."""
    info = sandbox.info
    sub = info["subscriptions"][0]
    kw = {"base_url": info["arm"], "connection_verify": info["ca_bundle"], "polling_interval": 0.05}
    rg = f"rg-k8s-{uuid.uuid4().hex[:6]}"
    groups = ResourceManagementClient(credential, sub, **kw).resource_groups
    groups.create_or_update(rg, {"location": "eastus"})
    aks = ContainerServiceClient(credential, sub, **kw)
    aks.managed_clusters.begin_create_or_update(rg, "leafai-cluster", {"location": "eastus", "properties": {
        "dnsPrefix": "leafai", "agentPoolProfiles": [
            {"name": "system", "count": 1, "vmSize": "Standard_D2s_v3", "mode": "System"},
            {"name": "gpu", "count": 1, "vmSize": "Standard_NC4as_T4_v3", "mode": "User",
             "nodeTaints": ["sku=gpu:NoSchedule"]}]}}).result()
    value = aks.managed_clusters.list_cluster_user_credentials(rg, "leafai-cluster").kubeconfigs[0].value
    path = tmp_path / "kubeconfig"
    path.write_bytes(value)
    os.chmod(path, 0o600)
    yield path
    groups.begin_delete(rg)
