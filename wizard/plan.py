"""The plan: every step of an install in dependency order, what each would do, and the equivalent script."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .events import StepProgress
from .naming import NAMESPACE, PULL_SECRET
from .steps.access import ServiceAccess
from .steps.base import Context, Observation, Step
from .steps.cluster import Cluster, Kubeconfig
from .steps.identity import RoleAssignment, ServicePrincipal, repository_condition
from .steps.network import Network
from .steps.outbound import Outbound
from .steps.peering import Peering, RegionNetwork
from .steps.probe import Probe
from .steps.registry import Image, Providers, Registry, ResourceGroup
from .steps.services import ServiceVm
from .steps.workloads import NamespaceAndPlugin, Runner, RunnerSecrets
from .vmconfig import boot_digest as boot
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
        RoleAssignment("sp-role", role=REPO_READER, role_name=REPO_READER_NAME, scope_fact="registry.id",
                       principal_fact="sp.object_id", needs=("sp", "registry"), who=names.sp, condition=condition,
                       replaces=ACR_PULL),
        Image(),
        Outbound(),
        Network(),
        ServiceAccess(("network",) if region == names.home_region else ("network", "region-network")),
        ServiceVm("rabbitmq"),
        ServiceVm("files"),
        ResourceGroup("cluster-group", names.cluster_rg(region), region),
        Cluster(),
        RoleAssignment("cluster-network-role", role=NETWORK_CONTRIBUTOR, role_name="Network Contributor",
                       scope_fact="cluster.subnet_id", principal_fact="cluster.principal_id",
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
                                    scope_fact="registry.id", principal_fact="cluster.kubelet_object_id",
                                    needs=("cluster", "registry"), who=f"{names.cluster} kubelet identity",
                                    condition=condition, replaces=ACR_PULL))
        runner.needs = (*runner.needs, "acr-attach")
    steps.append(runner)
    steps.append(Probe(("runner", "service-access", "rabbitmq", "files")
                       + (("peering",) if region != names.home_region else ())))
    return steps


@dataclass
class PlannedStep:
    """One step of a plan as shown to a person."""

    key: str
    title: str
    action: str
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


def script(ctx: Context, plan: list[PlannedStep]) -> list[str]:
    """The az/kubectl commands equivalent to the plan's changes (secrets read from the keyring, never shown)."""
    n, region, a = ctx.names, ctx.region, ctx.answers
    kc = ctx.state.kubeconfig_path(n.uniq_id, region)
    ring = f"keyring get studioml-azure {ctx.secrets.prefix}"
    sub = f"--subscription {ctx.subscription_id}"
    sources = " ".join(ctx.facts.get("service-access.sources") or ["10.20.0.0/20"])
    repo = Image().target(ctx)[2]
    commands: dict[str, list[str]] = {
        "providers": [f"az provider register {sub} --namespace {ns} --wait" for ns in (
            "Microsoft.ContainerRegistry", "Microsoft.ContainerService", "Microsoft.Compute", "Microsoft.Network")],
        "registry-group": [f"az group create {sub} -n {n.registry_rg} -l {n.home_region} --tags studioml-uniq-id="
                           f"{n.uniq_id}"],
        "registry": [f"az acr create {sub} -g {n.registry_rg} -n {n.registry} --sku Basic --role-assignment-mode "
                     "rbac-abac" + (" --admin-enabled true" if a.admin_user else "")],
        "sp": [f"az rest --method PATCH --uri \"https://graph.microsoft.com/v1.0/applications(uniqueName='{n.sp}')\" "
               f"--headers Prefer=create-if-missing --body '{{\"displayName\": \"{n.sp}\"}}'",
               f"az ad sp create --id <appId of {n.sp}>",
               f"az ad app credential reset --id <appId> --append --display-name studioml-azure --query password -o tsv"
               f" | keyring set studioml-azure {ctx.secrets.prefix}/sp-password"],
        "sp-role": [f"az role assignment create --assignee-object-id <sp objectId> --assignee-principal-type "
                    f"ServicePrincipal --role '{REPO_READER_NAME}' --scope $(az acr show -n {n.registry} --query id "
                    f"-o tsv) --condition-version 2.0 --condition \"{repository_condition(repo)}\""],
        "image": [(f"{ring}/source-registry-token | " if a.source_registry_user else "")
                  + f"az acr import -n {n.registry} --source {a.runner_image} -t {n.registry}/"
                  f"{a.runner_image.rsplit('/', 1)[-1]}"
                  + (f" --username {a.source_registry_user} --password @-" if a.source_registry_user else "")],
        "outbound": [f"az network public-ip create {sub} -g {n.registry_rg} -n {n.nat_ip} --sku Standard "
                     "--allocation-method Static",
                     f"az network nat gateway create {sub} -g {n.registry_rg} -n {n.nat} --public-ip-addresses "
                     f"{n.nat_ip} --idle-timeout 4"],
        "network": [f"az network nsg create {sub} -g {n.registry_rg} -n {n.nsg}",
                    f"az network vnet create {sub} -g {n.registry_rg} -n {n.vnet} --address-prefixes 10.20.0.0/16",
                    f"az network vnet subnet create {sub} -g {n.registry_rg} --vnet-name {n.vnet} -n aks "
                    "--address-prefixes 10.20.0.0/20 --default-outbound-access false",
                    f"az network vnet subnet create {sub} -g {n.registry_rg} --vnet-name {n.vnet} -n services "
                    f"--address-prefixes 10.20.16.0/24 --network-security-group {n.nsg} --nat-gateway {n.nat} "
                    "--default-outbound-access false"],
        "service-access": [
            f"az network nsg rule create {sub} -g {n.registry_rg} --nsg-name {n.nsg} -n allow-amqp-from-clusters "
            f"--priority 200 --protocol Tcp --source-address-prefixes {sources} --destination-address-prefixes "
            "10.20.16.4/32 --destination-port-ranges 5672",
            f"az network nsg rule create {sub} -g {n.registry_rg} --nsg-name {n.nsg} -n allow-s3-from-clusters "
            f"--priority 210 --protocol Tcp --source-address-prefixes {sources} --destination-address-prefixes "
            "10.20.16.5/32 --destination-port-ranges 8333",
            f"az network nsg rule create {sub} -g {n.registry_rg} --nsg-name {n.nsg} -n deny-other-vnet-inbound "
            "--priority 4000 --access Deny --protocol '*' --source-address-prefixes VirtualNetwork "
            "--destination-address-prefixes '*' --destination-port-ranges '*'"],
        "rabbitmq": [f"az vm create {sub} -g {n.registry_rg} -n {n.vm('rabbitmq')} --image Ubuntu2404 --size "
                     "Standard_DS12_v2 --subnet <services subnet id> --private-ip-address 10.20.16.4 "
                     "--public-ip-address '' --custom-data <cloud-config of wizard/vmconfig.py, secrets from the "
                     "keyring> --tags studioml-boot=" + boot("rabbitmq"),
                     f"az vm run-command invoke {sub} -g {n.registry_rg} -n {n.vm('rabbitmq')} --command-id "
                     "RunShellScript --scripts 'timeout 900 cloud-init status --wait; python3 "
                     "/usr/local/lib/studioml/check.py amqp'"],
        "files": [f"az vm create {sub} -g {n.registry_rg} -n {n.vm('files')} --image Ubuntu2404 --size Standard_D4s_v3 "
                  "--subnet <services subnet id> --private-ip-address 10.20.16.5 --public-ip-address '' "
                  "--data-disk-sizes-gb 256 --custom-data <cloud-config of wizard/vmconfig.py, secrets from the "
                  "keyring> --tags studioml-boot=" + boot("files"),
                  f"az vm run-command invoke {sub} -g {n.registry_rg} -n {n.vm('files')} --command-id RunShellScript "
                  "--scripts 'timeout 900 cloud-init status --wait; python3 /usr/local/lib/studioml/check.py s3'"],
        "cluster-group": [f"az group create {sub} -n {n.cluster_rg(region)} -l {region}"],
        "cluster": [f"az aks create -g {n.cluster_rg(region)} -n {n.cluster} --nodepool-name system --node-count 1 "
                    f"--vnet-subnet-id <aks subnet id> --network-plugin azure --network-plugin-mode overlay",
                    f"az aks nodepool add -g {n.cluster_rg(region)} --cluster-name {n.cluster} -n gpu --mode User "
                    f"--node-vm-size {a.gpu_sku} --node-count {a.gpu_nodes} --node-taints sku=gpu:NoSchedule"],
        "cluster-network-role": ["az role assignment create --assignee <cluster identity> --role 'Network "
                                 "Contributor' --scope <aks subnet id>"],
        "acr-attach": [f"az aks update -g {n.cluster_rg(region)} -n {n.cluster} --attach-acr {n.registry}"],
        "kubeconfig": [f"az aks get-credentials -g {n.cluster_rg(region)} -n {n.cluster} -f {kc} --context "
                       f"{n.cluster}-{region}",
                       f"chmod 600 {kc}"],
        "k8s-base": [f"kubectl --kubeconfig {kc} create namespace {NAMESPACE}",
                     f"kubectl --kubeconfig {kc} apply -f assets/manifests/nvidia-device-plugin.yaml"],
        "k8s-secrets": [f"kubectl --kubeconfig {kc} -n {NAMESPACE} create secret docker-registry {PULL_SECRET} "
                        f"--docker-server={ctx.login_server} --docker-username=<appId> "
                        f"--docker-password=\"$({ring}/sp-password)\"",
                        f"kubectl --kubeconfig {kc} -n {NAMESPACE} create secret generic studioml-runner-key-secret "
                        f"--from-file=ssh-privatekey=<({ring}/runner-private-key) "
                        f"--from-file=ssh-publickey=<({ring}/runner-public-key)",
                        f"kubectl --kubeconfig {kc} -n {NAMESPACE} create secret generic "
                        f"studioml-runner-passphrase-secret --from-file=ssh-passphrase=<({ring}/runner-passphrase)"],
        "probe": [f"kubectl --kubeconfig {kc} -n {NAMESPACE} create configmap studioml-check "
                  "--from-file=assets/services/check.py",
                  f"kubectl --kubeconfig {kc} -n {NAMESPACE} run studioml-probe --rm -i --restart=Never "
                  f"--image={probe_image()} -- python3 /check/check.py probe --amqp 10.20.16.4:5672 --s3 "
                  "http://10.20.16.5:8333  # with the check ConfigMap mounted and the runner's secrets as env"],
        "runner": [f"kubectl --kubeconfig {kc} apply -f <(stencil < assets/runner/deployment.yaml)",
                   f"kubectl --kubeconfig {kc} -n {NAMESPACE} rollout status deploy/studioml-go-runner-deployment"],
    }
    out: list[str] = []
    for step in plan:
        if step.action != "none":
            out.append(f"# {step.title}: {step.action}" + (f" ({step.detail})" if step.detail else ""))
            out.extend(commands.get(step.key, []))
    return out
