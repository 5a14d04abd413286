"""The plan: every step of an install in dependency order, what each would do, and the equivalent script."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .actions import Action
from .events import StepProgress
from .steps.access import ServiceAccess
from .steps.base import Context, Observation, Step
from .steps.cluster import Cluster, Kubeconfig
from .steps.endpoints import Endpoints
from .steps.identity import RoleAssignment, ServicePrincipal, repository_condition
from .steps.network import Network
from .steps.outbound import Outbound
from .steps.peering import Peering, RegionNetwork
from .steps.probe import Probe
from .steps.registry import Image, Providers, Registry, ResourceGroup
from .steps.services import ServiceVm
from .steps.workloads import NamespaceAndPlugin, Runner, RunnerSecrets
from .vmconfig import versions

ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
# In the registry's ABAC-enabled role mode (set explicitly: it is Microsoft's recommendation and to become the
# default) only the repository roles count; the puller gets the reader role for the runner's repository alone.
REPO_READER, REPO_READER_NAME = "b93aa761-3e63-49ed-ac28-beffa264f7ac", "Container Registry Repository Reader"
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"


def build_steps(ctx: Context) -> list[Step]:
    """The steps of one region's install, each after what it needs."""
    names, region = ctx.names, ctx.region
    condition = repository_condition(Image().target(ctx)[2])
    steps: list[Step] = [
        Providers(),
        ResourceGroup("registry-group", names.registry_rg, names.home_region),
        Registry(),
        ServicePrincipal(),
        RoleAssignment("sp-role", role=REPO_READER, role_name=REPO_READER_NAME, scope=lambda f: f.registry_id,
                       principal=lambda f: f.sp_object_id, needs=("sp", "registry"), who=names.sp, condition=condition,
                       replaces=ACR_PULL),
        Image(),
        Outbound(),
        Network(),
        ServiceAccess(("network",) if region == names.home_region else ("network", "region-network")),
        ServiceVm("rabbitmq"),
        ServiceVm("files"),
        Endpoints(),
        ResourceGroup("cluster-group", names.cluster_rg(region), region),
        Cluster(),
        RoleAssignment("cluster-network-role", role=NETWORK_CONTRIBUTOR, role_name="Network Contributor",
                       scope=lambda f: f.cluster_subnet_id, principal=lambda f: f.cluster_principal_id,
                       needs=("cluster", "network"), who=f"{names.cluster} (on the AKS subnet)"),
        Kubeconfig(),
        NamespaceAndPlugin(),
        RunnerSecrets(),
    ]
    runner: Step = Runner()
    if region != names.home_region:  # a region added to an install: its own VNet, peered with the home one
        cluster = next(s for s in steps if s.key == "cluster")
        cluster.needs = (*cluster.needs, "region-network")
        at = steps.index(cluster)
        steps[at:at] = [RegionNetwork(), Peering()]
        runner.needs = (*runner.needs, "peering")
    if ctx.answers.pull_auth == "attach":
        steps.append(RoleAssignment("acr-attach", role=REPO_READER, role_name=REPO_READER_NAME,
                                    scope=lambda f: f.registry_id, principal=lambda f: f.cluster_kubelet_object_id,
                                    needs=("cluster", "registry"), who=f"{names.cluster} kubelet identity",
                                    condition=condition, replaces=ACR_PULL))
        runner.needs = (*runner.needs, "acr-attach")
    steps.append(runner)
    steps.append(Probe(("runner", "service-access", "rabbitmq", "files", "endpoints")
                       + (("peering",) if region != names.home_region else ())))
    return steps


@dataclass
class PlannedStep:
    """One step of a plan as shown to a person."""

    key: str
    title: str
    action: Action
    detail: str
    needs: tuple[str, ...]
    resources: list[dict[str, Any]] = field(default_factory=list)


def observe_all(ctx: Context, steps: list[Step]) -> list[tuple[Step, Observation]]:
    """Observe every step in order (read-only); later steps see the facts earlier ones learned. Each one is
    announced as a progress event, since reading a whole install takes a few seconds on Azure."""
    out = []
    for step in steps:
        ctx.emit(StepProgress(step.key, f"checking: {step.title}"))
        out.append((step, step.observe(ctx)))
    return out


def planned(observed: list[tuple[Step, Observation]]) -> list[PlannedStep]:
    """The plan as data."""
    return [PlannedStep(s.key, s.title, o.action, o.detail, tuple(s.needs),
                        [{"kind": r.kind, "name": r.name, "id": r.id, "action": o.action, "cost_item": r.cost_item}
                         for r in o.resources]) for s, o in observed]


def probe_image() -> str:
    """The image the probe pod runs (Python, from MCR: no pull limit)."""
    return str(versions()["probe_image"])
