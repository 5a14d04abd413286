"""The typed contract between steps: what one step learns (an id, an address, that it changed something) and later
steps read (the actions and outcomes a step can have are in :mod:`wizard.actions`).

A misspelt fact is an error (mypy's, and at run time the slots'), where a string key silently read ``None``.
A step sets only the fields it owns (its name says which step: ``registry_id`` is the registry step's); a later
step reads them, ``None`` meaning "not learned in this run" (the earlier step failed, or the plan is being shown
before anything exists).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Facts:
    """Everything steps pass to each other in one run."""

    providers_missing: list[str] = field(default_factory=list)
    group_ids: dict[str, str] = field(default_factory=dict)  # registry-group / cluster-group -> resource id
    registry_id: str | None = None
    registry_login_server: str | None = None
    sp_app_id: str | None = None
    sp_object_id: str | None = None
    outbound_nat_id: str | None = None
    outbound_ip: str | None = None
    network_vnet_id: str | None = None
    network_aks_subnet_id: str | None = None
    network_services_subnet_id: str | None = None
    service_access_sources: list[str] | None = None
    service_access_changed: bool = False
    service_ips: dict[str, str] = field(default_factory=dict)  # role -> private address
    vm_ids: dict[str, str] = field(default_factory=dict)  # role -> the VM's vmId (changes when it is re-made)
    service_fqdns: dict[str, str] = field(default_factory=dict)  # role -> the DNS name experimenters use
    service_public_ips: dict[str, str] = field(default_factory=dict)  # role -> public address (when it has one)
    recheck: set[str] = field(default_factory=set)  # service VMs whose boot script ran again this run
    region_vnet_id: str | None = None
    region_space: str | None = None
    region_aks_prefix: str | None = None
    peering_changed: bool = False
    cluster_id: str | None = None
    cluster_subnet_id: str | None = None
    cluster_principal_id: str | None = None
    cluster_kubelet_object_id: str | None = None
    kubeconfig_path: str | None = None
    runner_ready: str | None = None
    done: set[str] = field(default_factory=set)  # steps finished in this run
