"""The plan as a bash script of ``az`` and ``kubectl`` commands an admin can read, keep, and run.

Every step that would change something has its lines; each step's lines look up by name what they need (an appId,
a subnet id), so a step whose resources already exist can be left out. Secrets never appear on a command line:
they come from the OS keyring through pipes (``keyring get ... |``, ``--password @-``, ``--body @-``), and what the
wizard generates from them (a VM's cloud-init, the cluster's Secrets) is printed by ``studioml-azure render`` into a
pipe. Asset paths are absolute. Run it with ``bash``.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import replace

from .actions import Action
from .assets import asset_path
from .catalog import service_sizes
from .naming import NAMESPACE, TAG
from .plan import REPO_READER_NAME, PlannedStep, probe_image
from .steps.access import wanted_rules
from .steps.base import Context
from .steps.cluster import DNS_SERVICE_IP, GPU_POOL, GPU_TAINT, POD_CIDR, SERVICE_CIDR, SYSTEM_POOL
from .steps.identity import repository_condition
from .steps.network import ADDRESS_SPACE, AKS_PREFIX, AKS_SUBNET, SERVICES_PREFIX, SERVICES_SUBNET, STATIC_IPS
from .steps.registry import Image

VM_API = "2024-11-01"
HEADER = [
    "#!/usr/bin/env bash",
    "# The same as commands. Secrets come from the OS keyring through pipes, never a command line or a file.",
    "set -euo pipefail",
    "retry() { for _ in 1 2 3 4 5 6 7 8 9 10 11 12; do \"$@\" && return 0; sleep 10; done; \"$@\"; }"
    "  # directory replication: a new principal is unknown for a minute or two",
]


def _q(text: str) -> str:
    return shlex.quote(text)


def _tags(ctx: Context) -> str:
    return " ".join(f"{k}={v}" for k, v in ctx.tags.items())


def script(ctx: Context, plan: list[PlannedStep]) -> list[str]:
    """The commands equivalent to the plan's changes."""
    n, region, a = ctx.names, ctx.region, ctx.answers
    sub, rg, crg = "--subscription \"$SUB\"", n.registry_rg, n.cluster_rg(region)
    kc = ctx.state.kubeconfig_path(n.uniq_id, region)
    k = f"kubectl --kubeconfig {_q(str(kc))}"
    prefix = ctx.secrets.prefix
    cloud = ctx.clients.cloud
    answers = replace(a, uniq_id=n.uniq_id, subscription=ctx.subscription_id)
    app_uri = f"{cloud.graph}/v1.0/applications(uniqueName='{n.sp}')"
    graph = f"az rest --resource {cloud.graph_audience}"
    tags = _tags(ctx)
    head = [*HEADER, f"SUB={ctx.subscription_id}", "ANSWERS=$(mktemp); trap 'rm -f \"$ANSWERS\"' EXIT",
            "cat > \"$ANSWERS\" <<'EOF'", *answers.as_toml().splitlines(), "EOF",
            f"RENDER=\"studioml-azure render --tenant {ctx.tenant_id} --answers $ANSWERS\"",
            f"app_id() {{ {graph} --method GET --uri \"{app_uri}\" --query appId -o tsv; }}",
            f"login_server() {{ az acr show {sub} -n {n.registry} --query loginServer -o tsv; }}"]
    _h, _s, repo, tag = Image().target(ctx)
    rules = wanted_rules(list(ctx.facts.service_access_sources or [AKS_PREFIX]), a.client_cidrs, a.scale_to_zero)
    vnet_rg, vnet_name = (rg, n.vnet) if region == n.home_region else (crg, n.region_vnet(region))
    aks_subnet = (f"$(az network vnet subnet show {sub} -g {vnet_rg} --vnet-name {vnet_name} -n {AKS_SUBNET} "
                  "--query id -o tsv)")
    space, aks_prefix = ctx.facts.region_space or "", ctx.facts.region_aks_prefix or ""

    def role(step: str, assignee: str, role_name: str, scope: str, condition: str = "") -> list[str]:
        extra = f" --condition-version 2.0 --condition {_q(condition)}" if condition else ""
        return [f"ASSIGNEE={assignee}; SCOPE={scope}",
                f"[ -n \"$(az role assignment list {sub} --assignee \"$ASSIGNEE\" --role {_q(role_name)} --scope "
                f"\"$SCOPE\" --query '[0].id' -o tsv)\" ] || retry az role assignment create {sub} "
                f"--assignee-object-id \"$ASSIGNEE\" --assignee-principal-type ServicePrincipal --role "
                f"{_q(role_name)} --scope \"$SCOPE\" --description {_q(step)}{extra} -o none"]

    def rule(r: dict[str, object]) -> str:
        p = dict(r["properties"])  # type: ignore[call-overload]
        sources = p.get("sourceAddressPrefixes") or [p.get("sourceAddressPrefix")]
        return (f"az network nsg rule create {sub} -g {rg} --nsg-name {n.nsg} -n {r['name']} --priority "
                f"{p['priority']} --access {p['access']} --protocol {_q(str(p['protocol']))} --direction Inbound "
                f"--source-address-prefixes {' '.join(_q(str(s)) for s in sources)} --source-port-ranges '*' "
                f"--destination-address-prefixes {_q(str(p['destinationAddressPrefix']))} "
                f"--destination-port-ranges {_q(str(p['destinationPortRange']))} --description "
                f"{_q(str(p['description']))} -o none")

    def vm(role_name: str) -> list[str]:
        name = n.vm(role_name)
        return [f"NIC=$(az network nic create {sub} -g {rg} -n {name}-nic --vnet-name {n.vnet} --subnet "
                f"{SERVICES_SUBNET} --private-ip-address {STATIC_IPS[role_name]} --tags {tags} --query NewNIC.id "
                "-o tsv)",
                f"$RENDER vm-{role_name} --nic-id \"$NIC\" | az rest --method PUT --uri \"/subscriptions/$SUB/"
                f"resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{name}?api-version={VM_API}\" "
                "--body @- -o none  # its cloud-init holds the service's credentials: never on a command line",
                f"az vm wait {sub} -g {rg} -n {name} --created",
                f"az vm run-command invoke {sub} -g {rg} -n {name} --command-id RunShellScript --scripts "
                f"'timeout 900 cloud-init status --wait; python3 /usr/local/lib/studioml/check.py "
                f"{'amqp' if role_name == 'rabbitmq' else 's3'}' --query 'value[0].message' -o tsv"]

    def endpoint(role_name: str) -> list[str]:
        name, ip = n.vm(role_name), n.service_ip(role_name)
        vm_ref = f"{sub} -g {rg} -n {name}"
        public = [f"az network public-ip create {sub} -g {rg} -n {ip} -l {n.home_region} --sku Standard "
                  f"--allocation-method Static --dns-name {n.dns_label(role_name)} --tags {tags} -o none",
                  f"az network nic ip-config update {sub} -g {rg} --nic-name {name}-nic -n ipconfig1 "
                  f"--public-ip-address {ip} -o none",
                  f"PIP=$(az network public-ip show {sub} -g {rg} -n {ip} --query ipAddress -o tsv)"] \
            if a.client_cidrs else [f"az network nic ip-config update {sub} -g {rg} --nic-name {name}-nic -n "
                                    "ipconfig1 --remove publicIPAddress -o none",
                                    f"az network public-ip delete {sub} -g {rg} -n {ip} 2>/dev/null || true", "PIP="]
        return [*public,
                f"$RENDER settings-{role_name} --public-ip \"$PIP\" | az vm run-command invoke {vm_ref} --command-id "
                "RunShellScript --scripts @/dev/stdin --query 'value[0].message' -o tsv  # its credentials and TLS "
                "certificate: through the pipe, never a file or a command line",
                f"az vm update {vm_ref} --set tags.studioml-conf=$($RENDER conf-tag-{role_name} --public-ip \"$PIP\") "
                "-o none"]

    commands: dict[str, list[str]] = {
        "providers": [f"az provider register {sub} --namespace {ns} --wait" for ns in (
            "Microsoft.ContainerRegistry", "Microsoft.ContainerService", "Microsoft.Compute", "Microsoft.Network")],
        "registry-group": [f"az group create {sub} -n {rg} -l {n.home_region} --tags {tags} -o none"],
        "registry": [f"az acr create {sub} -g {rg} -n {n.registry} -l {n.home_region} --sku Basic "
                     "--role-assignment-mode rbac-abac" + (" --admin-enabled true" if a.admin_user else "")
                     + f" --tags {tags} -o none"],
        "sp": [f"{graph} --method PATCH --uri \"{app_uri}\" --headers Prefer=create-if-missing --body "
               + _q(json.dumps({"displayName": n.sp, "signInAudience": "AzureADMyOrg",
                                "tags": [f"{TAG}:{n.uniq_id}"]})) + " -o none",
               "az ad sp show --id \"$(app_id)\" -o none 2>/dev/null || retry az ad sp create --id \"$(app_id)\" "
               "-o none",
               "retry az ad app credential reset --id \"$(app_id)\" --append --display-name studioml-azure --years 1 "
               f"--query password -o tsv 2>/dev/null | keyring set studioml-azure {prefix}/sp-password"],
        "sp-role": role("sp-role", "$(az ad sp show --id \"$(app_id)\" --query id -o tsv)", REPO_READER_NAME,
                        f"$(az acr show {sub} -n {n.registry} --query id -o tsv)", repository_condition(repo)),
        "image": [(f"keyring get studioml-azure {prefix}/source-registry-token | " if a.source_registry_user
                   else "") + f"az acr import {sub} -n {n.registry} --source {a.runner_image} -t {repo}:{tag} --force"
                  + (f" --username {a.source_registry_user} --password @-" if a.source_registry_user else "")
                  + " -o none"],
        "outbound": [f"az network public-ip create {sub} -g {rg} -n {n.nat_ip} -l {n.home_region} --sku Standard "
                     f"--allocation-method Static --tags {tags} -o none",
                     f"az network nat gateway create {sub} -g {rg} -n {n.nat} -l {n.home_region} --public-ip-addresses "
                     f"{n.nat_ip} --idle-timeout 4 --tags {tags} -o none"],
        "network": [f"az network nsg create {sub} -g {rg} -n {n.nsg} -l {n.home_region} --tags {tags} -o none",
                    f"az network vnet create {sub} -g {rg} -n {n.vnet} -l {n.home_region} --address-prefixes "
                    f"{ADDRESS_SPACE} --tags {tags} -o none",
                    f"az network vnet subnet create {sub} -g {rg} --vnet-name {n.vnet} -n {AKS_SUBNET} "
                    f"--address-prefixes {AKS_PREFIX} --default-outbound-access false -o none",
                    f"az network vnet subnet create {sub} -g {rg} --vnet-name {n.vnet} -n {SERVICES_SUBNET} "
                    f"--address-prefixes {SERVICES_PREFIX} --network-security-group {n.nsg} --nat-gateway {n.nat} "
                    "--default-outbound-access false -o none"],
        "service-access": [rule(r) for r in rules],
        "rabbitmq": vm("rabbitmq"),
        "files": vm("files"),
        "endpoints": endpoint("rabbitmq") + endpoint("files"),
        "cluster-group": [f"az group create {sub} -n {crg} -l {region} --tags {tags} -o none"],
        "region-network": [f"az network vnet create {sub} -g {crg} -n {n.region_vnet(region)} -l {region} "
                           f"--address-prefixes {space} --tags {tags} -o none",
                           f"az network vnet subnet create {sub} -g {crg} --vnet-name {n.region_vnet(region)} -n "
                           f"{AKS_SUBNET} --address-prefixes {aks_prefix} --default-outbound-access false -o none"],
        "peering": [f"az network vnet peering create {sub} -g {rg} --vnet-name {n.vnet} -n to-{region} "
                    f"--remote-vnet $(az network vnet show {sub} -g {crg} -n {n.region_vnet(region)} --query id "
                    "-o tsv) --allow-vnet-access -o none",
                    f"az network vnet peering create {sub} -g {crg} --vnet-name {n.region_vnet(region)} -n to-home "
                    f"--remote-vnet $(az network vnet show {sub} -g {rg} -n {n.vnet} --query id -o tsv) "
                    "--allow-vnet-access -o none"],
        "cluster": [f"az aks create {sub} -g {crg} -n {n.cluster} -l {region} --tier free --nodepool-name "
                    f"{SYSTEM_POOL} --node-count 1 --node-vm-size {service_sizes()['system_pool']} --vnet-subnet-id "
                    f"\"{aks_subnet}\" --network-plugin azure --network-plugin-mode overlay --pod-cidr {POD_CIDR} "
                    f"--service-cidr {SERVICE_CIDR} --dns-service-ip {DNS_SERVICE_IP} --no-ssh-key --tags {tags} "
                    "-o none",
                    f"az aks nodepool add {sub} -g {crg} --cluster-name {n.cluster} -n {GPU_POOL} --mode User "
                    f"--node-vm-size {a.gpu_sku} --node-count {a.gpu_nodes} --node-taints {GPU_TAINT} --labels "
                    "sku=gpu -o none"],
        "cluster-network-role": role("cluster-network-role", f"$(az aks show {sub} -g {crg} -n {n.cluster} --query "
                                     "identity.principalId -o tsv)", "Network Contributor", aks_subnet),
        "acr-attach": role("acr-attach", f"$(az aks show {sub} -g {crg} -n {n.cluster} --query "
                           "identityProfile.kubeletidentity.objectId -o tsv)", REPO_READER_NAME,
                           f"$(az acr show {sub} -n {n.registry} --query id -o tsv)", repository_condition(repo)),
        "kubeconfig": [f"az aks get-credentials {sub} -g {crg} -n {n.cluster} -f {_q(str(kc))} --context "
                       f"{n.cluster}-{region} --overwrite-existing", f"chmod 600 {_q(str(kc))}"],
        "k8s-base": [f"$RENDER k8s-base | {k} apply --server-side -f -  # the namespace and "
                     f"{asset_path('manifests', 'nvidia-device-plugin.yaml')}"],
        "k8s-secrets": [f"$RENDER k8s-secrets --login-server \"$(login_server)\" --app-id \"$(app_id)\" | {k} apply "
                        "--server-side -f -  # from the keyring, through the pipe"],
        "runner": [f"$RENDER runner --login-server \"$(login_server)\" | {k} apply --server-side -f -",
                   f"{k} -n {NAMESPACE} rollout status deploy/studioml-go-runner-deployment --timeout 15m"],
        "probe": [f"$RENDER probe --login-server \"$(login_server)\" --probe-image {probe_image()} | {k} apply "
                  "--server-side -f -",
                  f"{k} -n {NAMESPACE} wait --for=jsonpath='{{.status.phase}}'=Succeeded pod/studioml-probe "
                  "--timeout 300s",
                  f"{k} -n {NAMESPACE} delete pod studioml-probe --wait=false"],
    }
    out: list[str] = []
    for step in plan:
        if step.action != Action.NONE:
            out.append(f"# {step.title}: {step.action}" + (f" ({step.detail})" if step.detail else ""))
            out.extend(commands.get(step.key, []))
    return head + out if out else []
