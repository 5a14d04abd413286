"""The AKS cluster (a small system pool and a GPU pool tainted ``sku=gpu:NoSchedule``) and its kubeconfig."""

from __future__ import annotations

from typing import Any

from azure.mgmt.containerservice.models import AgentPool, ManagedCluster, TagsObject

from ..azure.errors import CAPACITY_CODES, azure_call
from ..catalog import gpu_size, service_sizes
from ..errors import RefusedError
from ..events import StepProgress
from ..kube import Kube, context_of, renamed
from ..state import write_private
from .base import CREATE, NONE, UPDATE, Context, Observation, Resource, Step, get_or_none, lookup, rest, tags_missing

# Azure CNI overlay: pod and service ranges private to each cluster; no VNet of the install (nor a peered one) may
# overlap them, so region VNets never take them (steps/peering.py).
POD_CIDR, SERVICE_CIDR, DNS_SERVICE_IP = "10.244.0.0/16", "10.0.0.0/16", "10.0.0.10"

GPU_TAINT = "sku=gpu:NoSchedule"
SYSTEM_POOL, GPU_POOL = "system", "gpu"
BUSY = ("Creating", "Updating", "Upgrading", "Scaling", "Deleting", "Starting", "Stopping")


def gpu_settings(ctx: Context) -> dict[str, Any]:
    """Spot and autoscaler settings of the GPU pool. Spot: evicted VMs are deleted, no price cap above the
    pay-as-you-go price (-1), and the autoscaler on (``gpu_nodes`` to ``gpu_nodes``) so that a node comes back for
    the runners an eviction left Pending; scale to zero: the autoscaler from 0 (``"Add an Azure Spot node pool"``,
    ``"Cluster autoscaler"``)."""
    a = ctx.answers
    out: dict[str, Any] = {}
    if a.spot:
        out.update(scaleSetPriority="Spot", scaleSetEvictionPolicy="Delete", spotMaxPrice=-1)
    if a.autoscaled:
        out.update(enableAutoScaling=True, minCount=0 if a.scale_to_zero else a.gpu_nodes, maxCount=a.gpu_nodes)
    return out


def _pools(ctx: Context, gpu_count: int | None = None) -> list[dict[str, Any]]:
    subnet = ctx.facts.cluster_subnet_id
    common: dict[str, Any] = {"osType": "Linux", "type": "VirtualMachineScaleSets"}
    if subnet:
        common["vnetSubnetID"] = subnet
    settings = gpu_settings(ctx)
    count = ctx.answers.gpu_nodes
    if settings.get("enableAutoScaling") and gpu_count is not None:  # the autoscaler owns the count: keep it,
        count = min(max(gpu_count, settings["minCount"]), settings["maxCount"])  # within the new bounds
    return [
        {"name": SYSTEM_POOL, "mode": "System", "count": 1, "vmSize": service_sizes()["system_pool"], **common},
        {"name": GPU_POOL, "mode": "User", "count": count, "vmSize": ctx.answers.gpu_sku,
         "nodeTaints": [GPU_TAINT], "nodeLabels": {"sku": "gpu"}, **settings, **common},
    ]


def _gpu_pool_body(ctx: Context, current: int | None = None) -> dict[str, Any]:
    """The GPU pool as the agentPools API takes it (``properties`` of an AgentPool)."""
    pool = next(p for p in _pools(ctx, current) if p["name"] == GPU_POOL)
    return {"properties": {k: v for k, v in pool.items() if k != "name"}}


def pool_changes(ctx: Context, gpu: dict[str, Any]) -> tuple[list[str], bool]:
    """What differs in the GPU pool, and whether it must be made again (a pool's priority is fixed when made)."""
    a, want = ctx.answers, gpu_settings(ctx)
    priority = gpu.get("scaleSetPriority") or "Regular"
    if priority != want.get("scaleSetPriority", "Regular"):
        return [f"make the GPU pool again as {want.get('scaleSetPriority', 'Regular')} (a pool's priority is fixed "
                f"when it is made; its nodes go)"], True
    if a.autoscaled:
        if not gpu.get("enableAutoScaling") or (gpu.get("minCount"), gpu.get("maxCount")) != (want["minCount"],
                                                                                              want["maxCount"]):
            return [f"GPU pool autoscaler {want['minCount']}..{want['maxCount']} node(s)"], False
    elif gpu.get("enableAutoScaling"):
        return [f"GPU pool autoscaler off, {a.gpu_nodes} node(s)"], False
    elif gpu.get("count") != a.gpu_nodes:
        return [f"GPU pool {gpu.get('count')} -> {a.gpu_nodes} node(s)"], False
    if GPU_TAINT not in (gpu.get("nodeTaints") or []):
        return [f"GPU pool taint {GPU_TAINT}"], False
    return [], False


def _writable(mc: dict[str, Any]) -> dict[str, Any]:
    """A managed cluster as read, fit to send back: what GET returns less what only Azure sets (a PUT of this
    keeps everything an admin added since, add-ons, auto-upgrade, Entra settings)."""
    props = {k: v for k, v in (mc.get("properties") or {}).items() if k not in (
        "provisioningState", "powerState", "fqdn", "azurePortalFQDN", "privateFQDN", "currentKubernetesVersion",
        "maxAgentPools", "resourceUID")}
    props["agentPoolProfiles"] = [{k: v for k, v in p.items() if k not in (
        "provisioningState", "powerState", "currentOrchestratorVersion", "nodeImageVersion")}
        for p in props.get("agentPoolProfiles") or []]
    out: dict[str, Any] = {"location": mc["location"], "tags": mc.get("tags") or {}, "properties": props}
    for key in ("sku", "identity"):
        if mc.get(key):
            out[key] = {k: v for k, v in mc[key].items() if k not in ("principalId", "tenantId")}
    return out


class Cluster(Step):
    """``leafai-cluster-<id>`` in the region's cluster resource group: made with both pools in one PUT; afterwards
    the GPU pool changes only through the agentPools API (AKS refuses pool changes in a cluster PUT) and tags
    through a tags update, so nothing an admin added to the cluster is dropped."""

    key, title, needs = "cluster", "AKS cluster with a GPU pool", ("cluster-group", "network")

    def observe(self, ctx: Context) -> Observation:
        """Exists? GPU pool as answered? Still being made by an interrupted run? Failed?"""
        rg, name = ctx.names.cluster_rg(ctx.region), ctx.names.cluster
        size = gpu_size(ctx.answers.gpu_sku)
        res = [Resource("AKS cluster (Free tier)", name),
               Resource(f"system pool 1 x {service_sizes()['system_pool']}", f"{name}/{SYSTEM_POOL}",
                        cost_item="system pool node"),
               Resource(f"GPU pool {ctx.answers.gpu_nodes} x {size.name} ({size.gpus} x {size.gpu})",
                        f"{name}/{GPU_POOL}", cost_item="GPU pool nodes"),
               Resource(f"node OS disks ({ctx.answers.gpu_nodes + 1} x 128 GiB)", f"{name} nodes",
                        cost_item="AKS node OS disks (128 GiB)"),
               Resource("outbound public IP (load balancer)", f"{name} load balancer",
                        cost_item="AKS outbound public IP")]
        mc = rest(get_or_none(lambda: ctx.clients.aks(ctx.subscription_id).managed_clusters.get(rg, name),
                              f"reading cluster {name}"))
        if mc is None:
            how = ", Spot (evictable)" if ctx.answers.spot else ""
            return Observation(CREATE, f"{ctx.answers.gpu_nodes} x {size.name}{how}, taint {GPU_TAINT}", res)
        res[0].id = mc["id"]
        self._remember(ctx, mc)
        state = lookup(mc, "properties.provisioningState", "")
        if state in BUSY:
            return Observation(UPDATE, f"waiting for Azure to finish ({state})", res, {"wait": True, "mc": mc})
        if state == "Failed":
            return Observation(UPDATE, "retry the failed provisioning (the cluster as Azure holds it)", res,
                               {"retry": True, "mc": mc})
        pools = {p["name"]: p for p in lookup(mc, "properties.agentPoolProfiles", [])}
        gpu = pools.get(GPU_POOL)
        if gpu is not None and gpu.get("vmSize") != ctx.answers.gpu_sku:
            raise RefusedError(f"the cluster's GPU pool is {gpu.get('vmSize')}; a pool's VM size is fixed when it is "
                               "made.", f"answer gpu_sku = \"{gpu.get('vmSize')}\", or delete the pool "
                               f"(az aks nodepool delete -g {rg} --cluster-name {name} -n {GPU_POOL}) and run again: "
                               "the pool is made again with the answered size")
        changes, remake = [], False
        if gpu is None:
            changes.append(f"make the GPU pool again ({ctx.answers.gpu_nodes} x {size.name})")
        else:
            changes, remake = pool_changes(ctx, gpu)
        data: dict[str, Any] = {"pool": bool(changes), "remake": remake, "mc": mc,
                                "count": (gpu or {}).get("count")}
        if ctx.answers.scale_to_zero and not lookup(mc, "properties.workloadAutoScalerProfile.keda.enabled"):
            changes.append("turn on the KEDA add-on")
            data["keda"] = True
        if tags_missing(mc.get("tags"), ctx.tags):
            changes.append("tags")
            data["tags"] = True
        return Observation(UPDATE if changes else NONE, ", ".join(changes), res, data)

    def _remember(self, ctx: Context, mc: dict[str, Any]) -> None:
        ctx.facts.cluster_id = mc["id"]
        ctx.facts.cluster_kubelet_object_id = lookup(mc, "properties.identityProfile.kubeletidentity.objectId")
        ctx.facts.cluster_principal_id = lookup(mc, "identity.principalId")

    def apply(self, ctx: Context, obs: Observation) -> None:
        """Create with one PUT; wait out a busy cluster; retry a failed one with its own body; change the GPU pool
        through the agentPools API; tags through a tags update. No room for the pool in the region: the refusal names
        the regions to try instead, cheapest first."""
        if obs.data.get("wait"):
            self._wait_idle(ctx)
            obs = self.observe(ctx)
            if obs.action == NONE or obs.data.get("wait"):
                return
        try:
            self._converge(ctx, obs)
        except RefusedError as err:
            if err.code not in CAPACITY_CODES:
                raise
            from ..pricing import PriceBook
            from ..ranking import capacity_refusal

            book = PriceBook(ctx.clients.cloud.prices, currency=ctx.answers.currency, verify=ctx.clients.cloud.verify())
            raise capacity_refusal(err, ctx.clients, book, ctx.subscription_id, ctx.answers,
                                   ctx.names.home_region) from err

    def _converge(self, ctx: Context, obs: Observation) -> None:
        aks = ctx.clients.aks(ctx.subscription_id)
        rg, name = ctx.names.cluster_rg(ctx.region), ctx.names.cluster
        if obs.action == CREATE:
            body = self._new(ctx)
            mc = rest(ctx.wait(self.key, lambda: aks.managed_clusters.begin_create_or_update(
                rg, name, ManagedCluster(body)), f"creating AKS cluster {name}"))
            assert mc is not None
            self._remember(ctx, mc)
            return
        if obs.data.get("retry"):
            again = _writable(obs.data["mc"])
            mc = rest(ctx.wait(self.key, lambda: aks.managed_clusters.begin_create_or_update(
                rg, name, ManagedCluster(again)), f"retrying AKS cluster {name}"))
            assert mc is not None
            self._remember(ctx, mc)
            obs = self.observe(ctx)  # a retried cluster may still need its GPU pool or tags
        if obs.data.get("keda"):  # a cluster setting, not a pool's: a cluster PUT of the cluster as it is
            body = _writable(obs.data["mc"])
            body["properties"]["workloadAutoScalerProfile"] = {
                **(body["properties"].get("workloadAutoScalerProfile") or {}), "keda": {"enabled": True}}
            ctx.wait(self.key, lambda: aks.managed_clusters.begin_create_or_update(rg, name, ManagedCluster(body)),
                     f"turning on KEDA in {name}")
        if obs.data.get("remake"):
            ctx.wait(self.key, lambda: aks.agent_pools.begin_delete(rg, name, GPU_POOL),
                     f"deleting GPU pool {GPU_POOL} to make it again")
        if obs.data.get("pool"):
            pool = _gpu_pool_body(ctx, None if obs.data.get("remake") else obs.data.get("count"))
            ctx.wait(self.key, lambda: aks.agent_pools.begin_create_or_update(rg, name, GPU_POOL, AgentPool(pool)),
                     f"GPU pool {GPU_POOL}: {ctx.answers.gpu_nodes} x {ctx.answers.gpu_sku}")
        if obs.data.get("tags"):
            tags = {**(obs.data["mc"].get("tags") or {}), **ctx.tags}
            ctx.wait(self.key, lambda: aks.managed_clusters.begin_update_tags(rg, name, TagsObject(tags=tags)),
                     f"tagging AKS cluster {name}")

    def _new(self, ctx: Context) -> dict[str, Any]:
        return {"location": ctx.region, "tags": ctx.tags, "identity": {"type": "SystemAssigned"},
                "sku": {"name": "Base", "tier": "Free"},
                "properties": {"dnsPrefix": f"leafai-{ctx.names.uniq_id}", "agentPoolProfiles": _pools(ctx),
                               "enableRBAC": True, **({"workloadAutoScalerProfile": {"keda": {"enabled": True}}}
                                                      if ctx.answers.scale_to_zero else {}),
                               "networkProfile": {"networkPlugin": "azure", "networkPluginMode": "overlay",
                                                  "podCidr": POD_CIDR, "serviceCidr": SERVICE_CIDR,
                                                  "dnsServiceIP": DNS_SERVICE_IP}}}

    def _wait_idle(self, ctx: Context) -> None:
        """Follow a cluster another run left busy until Azure finishes it."""
        aks = ctx.clients.aks(ctx.subscription_id)
        rg, name = ctx.names.cluster_rg(ctx.region), ctx.names.cluster
        while True:
            with azure_call(f"reading cluster {name}"):
                mc = rest(aks.managed_clusters.get(rg, name))
            assert mc is not None
            state = lookup(mc, "properties.provisioningState", "")
            if state not in BUSY:
                self._remember(ctx, mc)
                return
            ctx.emit(StepProgress(self.key, f"cluster {name}: {state}"))
            ctx.sleep(ctx.poll_seconds)

    def verify(self, ctx: Context) -> None:
        """Provisioned and running."""
        with azure_call(f"reading cluster {ctx.names.cluster}"):
            mc = rest(ctx.clients.aks(ctx.subscription_id).managed_clusters.get(ctx.names.cluster_rg(ctx.region),
                                                                              ctx.names.cluster))
        if lookup(mc, "properties.provisioningState") != "Succeeded":
            raise RefusedError(f"cluster {ctx.names.cluster} is {lookup(mc, 'properties.provisioningState')}.",
                               "see the Azure portal's activity log for the cluster, then run again")


class Kubeconfig(Step):
    """The cluster user's kubeconfig, one file per region (0600 in a 0700 folder)."""

    key, title, needs = "kubeconfig", "Kubeconfig for the region", ("cluster",)

    def observe(self, ctx: Context) -> Observation:
        """A file that still reaches the cluster under this region's context name needs nothing; one an earlier
        version wrote (AKS's names, the same in every region) is written again."""
        path = ctx.state.kubeconfig_path(ctx.names.uniq_id, ctx.region)
        ctx.facts.kubeconfig_path = str(path)
        res = [Resource("kubeconfig (0600)", str(path))]
        if path.exists() and Kube(path).reachable():
            if context_of(path.read_text()) == self.context(ctx):
                return Observation(NONE, str(path), res)
            return Observation(UPDATE, f"{path}: context named {self.context(ctx)}", res)
        return Observation(CREATE, str(path), res)

    @staticmethod
    def context(ctx: Context) -> str:
        """This region's context (and cluster entry) name: unique across the install's regions."""
        return f"{ctx.names.cluster}-{ctx.region}"

    def apply(self, ctx: Context, obs: Observation) -> None:
        """listClusterUserCredential, its context named for the region, written atomically 0600."""
        rg, name = ctx.names.cluster_rg(ctx.region), ctx.names.cluster
        with azure_call(f"reading the credentials of {name}"):
            creds = ctx.clients.aks(ctx.subscription_id).managed_clusters.list_cluster_user_credentials(rg, name)
        values = [k.value for k in creds.kubeconfigs or [] if k.value]
        if not values:
            raise RefusedError(f"Azure returned no kubeconfig for {name}.", "run again")
        text = renamed(values[0].decode() if isinstance(values[0], bytes) else str(values[0]), self.context(ctx))
        write_private(ctx.state.kubeconfig_path(ctx.names.uniq_id, ctx.region), text.encode())

    def verify(self, ctx: Context) -> None:
        """The file reaches the cluster."""
        if not Kube(ctx.state.kubeconfig_path(ctx.names.uniq_id, ctx.region)).reachable():
            raise RefusedError("the cluster's API server does not answer with the new kubeconfig.", "run again")
