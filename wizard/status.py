"""``studioml-azure status``: what exists now, read-only, without needing the answers it was made with."""

from __future__ import annotations

import json
import stat
import sys
from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from . import secrets as keys
from .answers import Answers
from .azure.errors import azure_call
from .errors import WizardError
from .health import book
from .kube import Kube
from .manifests import AMQP_SECRET, KEY_SECRET, PASSPHRASE_SECRET, S3_SECRET
from .naming import NAMESPACE, PULL_SECRET, TAG
from .pricing import PriceBook
from .runrate import cost_line, region_cost
from .session import Session, make_context
from .steps.base import Context, get_or_none, lookup, rest
from .steps.identity import ROTATE_DAYS, days_left, find_app, our_credential

RUNNER: dict[str, Any] = {"apiVersion": "apps/v1", "kind": "Deployment",
          "metadata": {"name": "studioml-go-runner-deployment", "namespace": NAMESPACE}}
SECRET_KEYS = list(keys.PURPOSES)


def region_doc(ctx: Context, region: str | None = None) -> dict[str, Any]:
    """Per region: the cluster, kubeconfig, namespace, resource ids, and secret names (never values)."""
    n, sub = ctx.names, ctx.subscription_id
    region = region or ctx.region
    rg_base = f"/subscriptions/{sub}/resourceGroups"
    kubeconfig = ctx.state.kubeconfig_path(n.uniq_id, region)
    k8s_secrets = [PULL_SECRET] if ctx.answers.pull_auth == "secret" else []
    k8s_secrets.append(S3_SECRET)
    doc: dict[str, Any] = {
        "region": region, "home": region == n.home_region, "cluster": n.cluster,
        "cluster_id": f"{rg_base}/{n.cluster_rg(region)}/providers/Microsoft.ContainerService/managedClusters/"
                      f"{n.cluster}",
        "kubeconfig": str(kubeconfig), "namespace": NAMESPACE,
        "resource_ids": {
            "registry_group": f"{rg_base}/{n.registry_rg}", "cluster_group": f"{rg_base}/{n.cluster_rg(region)}",
            "registry": f"{rg_base}/{n.registry_rg}/providers/Microsoft.ContainerRegistry/registries/{n.registry}",
            "vnet": f"{rg_base}/{n.registry_rg}/providers/Microsoft.Network/virtualNetworks/{n.vnet}",
            "rabbitmq_vm": f"{rg_base}/{n.registry_rg}/providers/Microsoft.Compute/virtualMachines/"
                           f"{n.vm('rabbitmq')}",
            "files_vm": f"{rg_base}/{n.registry_rg}/providers/Microsoft.Compute/virtualMachines/{n.vm('files')}",
            "nat_gateway": f"{rg_base}/{n.registry_rg}/providers/Microsoft.Network/natGateways/{n.nat}"},
        "service_principal": n.sp, "registry_login_server": ctx.login_server,
        "secrets": {"keyring": [str(ctx.secrets.ref(k)) for k in SECRET_KEYS if ctx.secrets.get(k) is not None],
                    "kubernetes": [f"{NAMESPACE}/{s}" for s in
                                   [*k8s_secrets, AMQP_SECRET, KEY_SECRET, PASSPHRASE_SECRET]]},
    }
    if region != n.home_region:  # its own VNet, peered with the home one
        doc["resource_ids"]["region_vnet"] = (f"{rg_base}/{n.cluster_rg(region)}/providers/Microsoft.Network/"
                                              f"virtualNetworks/{n.region_vnet(region)}")
    return doc


def _home(ctx: Context) -> dict[str, Any]:
    n, sub = ctx.names, ctx.subscription_id
    reg = rest(get_or_none(lambda: ctx.clients.acr(sub).registries.get(n.registry_rg, n.registry), "reading registry"))
    vms: dict[str, Any] = {}
    compute = ctx.clients.compute(sub)
    checks = book(ctx.state, n.uniq_id)
    for role in ("rabbitmq", "files", "minio"):
        name = n.vm(role)
        vm = rest(get_or_none(partial(compute.virtual_machines.get, n.registry_rg, name), "reading the service VMs"))
        if vm is None and role == "minio":
            continue  # only an install made by an earlier version has one (apply replaces it)
        last = checks.get(f"vm:{name}") or {}
        current = bool(last) and last.get("vm_id") == lookup(vm, "properties.vmId")
        vms[role] = {"name": name, "id": lookup(vm, "id"), "size": lookup(vm, "properties.hardwareProfile.vmSize"),
                     "provisioning": lookup(vm, "properties.provisioningState"),
                     "health": {k: last.get(k) for k in ("ok", "cloud_init", "step", "service", "protocol",
                                                         "tls", "checked_at")} if current else None} if vm else None
    app = find_app(ctx)
    cred = our_credential(ctx, app) if app else None
    return {"region": n.home_region, "sp_password_expires": cred.get("endDateTime") if cred else None, "registry": {
        "id": lookup(reg, "id"), "login_server": lookup(reg, "properties.loginServer"),
        "admin_user": lookup(reg, "properties.adminUserEnabled")} if reg else None,
        "service_principal": n.sp, "vms": vms, "experimenters": experimenters(ctx),
        "keyring": [str(ctx.secrets.ref(k)) for k in SECRET_KEYS if ctx.secrets.get(k) is not None]}


def experimenters(ctx: Context) -> dict[str, Any]:
    """Per service, as experimenters meet it: the endpoint, the networks the NSG admits to its TLS port (none: the
    VNet only), and when its certificate ends."""
    from .clientconfig import endpoints
    from .tls import not_after

    net = ctx.clients.network(ctx.subscription_id)
    nsg = rest(get_or_none(lambda: net.network_security_groups.get(ctx.names.registry_rg, ctx.names.nsg),
                           "reading the NSG"))
    out: dict[str, Any] = {}
    for role, where in endpoints(ctx).items():
        admits = sorted({str(p) for r in lookup(nsg, "properties.securityRules", []) or []
                         if lookup(r, "properties.access") == "Allow"
                         and str(lookup(r, "properties.destinationPortRange")) == str(where["port"])
                         for p in (lookup(r, "properties.sourceAddressPrefixes") or [])
                         + ([lookup(r, "properties.sourceAddressPrefix")]
                            if lookup(r, "properties.sourceAddressPrefix") else [])})
        cert = ctx.secrets.get(keys.tls_cert(role))
        out[role] = {"endpoint": f"{where['host']}:{where['port']}", "public": where["public"],
                     "reachable_from": admits if where["public"] else [],
                     "certificate_valid_until": not_after(cert).strftime("%Y-%m-%d") if cert else None}
    return out


def _runner(kubeconfig: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"deployment": RUNNER["metadata"]["name"], "ready": None, "replicas": None,
                           "reachable": False}
    if not kubeconfig.exists():
        return out
    kube = Kube(kubeconfig)
    try:
        live = kube.get(RUNNER)
        secrets = [s["metadata"]["name"] for s in kube.list(f"/api/v1/namespaces/{NAMESPACE}/secrets")]
    except WizardError:
        return out
    out["reachable"] = True
    out["kubernetes_secrets"] = sorted(f"{NAMESPACE}/{s}" for s in secrets)
    if live:
        out.update(ready=live.get("status", {}).get("availableReplicas", 0) or 0, replicas=live["spec"].get("replicas"))
    return out


def install_clusters(ctx: Context) -> list[dict[str, Any]]:
    """The AKS clusters of this install (by its tag), every region."""
    with azure_call("listing clusters"):
        clusters = [rest(c) for c in ctx.clients.aks(ctx.subscription_id).managed_clusters.list()]
    return [mc for mc in clusters if mc and (mc.get("tags") or {}).get(TAG) == ctx.names.uniq_id]


def _regions(ctx: Context, prices: PriceBook) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for mc in install_clusters(ctx):
        region = str(mc["location"])
        kubeconfig = ctx.state.kubeconfig_path(ctx.names.uniq_id, region)
        mode = oct(stat.S_IMODE(kubeconfig.stat().st_mode)) if kubeconfig.exists() else None
        out.append({
            **region_doc(ctx, region), "cluster": mc["name"], "cluster_id": mc["id"],
            "provisioning": lookup(mc, "properties.provisioningState"),
            "kubernetes_version": lookup(mc, "properties.kubernetesVersion"),
            "pools": [{"name": p["name"], "size": p.get("vmSize"), "count": p.get("count"),
                       "taints": p.get("nodeTaints") or [], "spot": p.get("scaleSetPriority") == "Spot",
                       "autoscale": [p.get("minCount"), p.get("maxCount")] if p.get("enableAutoScaling") else None}
                      for p in lookup(mc, "properties.agentPoolProfiles", [])],
            "kubeconfig_mode": mode, "runner": _runner(kubeconfig),
            "services": book(ctx.state, ctx.names.uniq_id).get(f"probe:{region}")})
        out[-1]["cost"] = region_cost(prices, region, out[-1]["pools"], lookup(mc, "systemData.createdAt"))
        if out[-1]["runner"]["reachable"]:  # what the cluster holds, rather than what the answers imply
            out[-1]["secrets"]["kubernetes"] = out[-1]["runner"]["kubernetes_secrets"]
    return sorted(out, key=lambda r: (not r["home"], r["region"]))


def status_doc(session: Session, answers: Answers, say: Callable[[str], None] = lambda _line: None) -> dict[str, Any]:
    """What is installed, read from Azure and the clusters: the home part, every region, and whether every
    runner is ready (``say`` hears which install is being read). Read-only; the answers only pick the
    subscription."""
    ctx, sub, uid = make_context(session, answers, lambda e: None, any_region=True)
    say(f"reading install {uid.value} in {sub['name']} ...")
    prices = PriceBook(session.cloud.prices, currency=answers.currency, verify=session.cloud.verify())
    home, regions = _home(ctx), _regions(ctx, prices)
    ready = bool(regions) and all(r["runner"]["ready"] is not None and r["runner"]["ready"] == r["runner"]["replicas"]
                                  for r in regions)
    return {"subscription": {"id": sub["id"], "name": sub["name"]}, "tenant": ctx.tenant_id,
            "uniq_id": {"value": uid.value, "source": uid.source}, "installed": bool(home["registry"]) and ready,
            "home": home, "regions": regions}


def password_line(expires: str | None, now: datetime | None = None) -> str:
    """The registry principal's password: until when, and whether to rotate it now."""
    if not expires:
        return "service principal password: none the keyring holds (apply makes one)"
    days = days_left(expires, now)
    if days < 0:
        return f"service principal password EXPIRED on {expires[:10]}: the clusters cannot pull; run rotate"
    due = ": rotate it now (studioml-azure rotate)" if days < ROTATE_DAYS else ""
    return f"service principal password valid until {expires[:10]} ({days} days){due}"


def vm_line(role: str, vm: dict[str, Any] | None) -> str:
    """One service VM: made or not, and what its last check found, when."""
    label = {"rabbitmq": "RabbitMQ", "files": "file server (S3)", "minio": "MinIO (earlier version: apply replaces "
             "it)"}[role]
    if vm is None:
        return f"{label} VM missing"
    health = vm.get("health")
    if not health:
        return f"{label} VM {vm['provisioning']}, not checked from this host yet"
    if health.get("ok"):
        return f"{label} VM {vm['provisioning']}: {health.get('protocol')} (checked {health.get('checked_at')})"
    return (f"{label} VM {vm['provisioning']}: NOT serving (cloud-init {health.get('cloud_init')}, boot "
            f"{health.get('step')}, service {health.get('service')}; checked {health.get('checked_at')})")


def services_line(probe: dict[str, Any] | None) -> str:
    """What a pod of the region reached, when."""
    if not probe:
        return "services not probed from here yet"
    return f"services from here: {probe.get('amqp')}; {probe.get('s3')} (checked {probe.get('checked_at')})"


def home_line(home: dict[str, Any]) -> str:
    """The home part: registry, secrets in the keyring, the password's end; then each service VM."""
    reg = home["registry"]
    return (f"home {home['region']}: registry {reg['login_server'] if reg else 'missing'}; "
            f"{len(home['keyring'])} secret(s) in the keyring; " + password_line(home["sp_password_expires"])
            + "".join(f"\n  {vm_line(k, v)}" for k, v in home["vms"].items())
            + "".join(f"\n  {experimenter_line(k, v)}" for k, v in (home.get("experimenters") or {}).items()))


def experimenter_line(role: str, found: dict[str, Any]) -> str:
    """A service as experimenters reach it."""
    label = {"rabbitmq": "RabbitMQ (AMQPS)", "files": "file server (S3 over HTTPS)"}[role]
    reach = (f"reachable from {', '.join(found['reachable_from'])}" if found["reachable_from"] else
             "reachable inside the VNet only (client_cidrs is empty: peering or a VPN lets experimenters in)")
    until = found["certificate_valid_until"]
    return f"experimenters: {label} at {found['endpoint']}, {reach}; certificate valid until {until or 'none yet'}"


def gpu_pool(region: dict[str, Any]) -> str:
    """``2 x Standard_NC4as_T4_v3`` (or ``none``) for a region of :func:`status_doc`."""
    gpu = next((p for p in region["pools"] if p["name"] == "gpu"), None)
    return f"{gpu['count']} x {gpu['size']}" if gpu else "none"


def status_command(session: Session, answers: Answers, *, as_json: bool) -> int:
    """Report the install (exit 0 whether or not it is complete)."""
    doc = status_doc(session, answers, lambda line: print(line, file=sys.stderr, flush=True))
    if as_json:
        print(json.dumps(doc, indent=2))
        return 0
    out, sub, uid = sys.stdout, doc["subscription"], doc["uniq_id"]
    print(f"subscription {sub['name']} ({sub['id']}), install {uid['value']} ({uid['source']})", file=out)
    print(home_line(doc["home"]), file=out)
    for r in doc["regions"]:
        run = r["runner"]
        print(f"{r['region']}: cluster {r['cluster']} {r['provisioning']}, GPU pool {gpu_pool(r)}, runner "
              f"{run['ready']}/{run['replicas']} ready, kubeconfig {r['kubeconfig']}", file=out)
        print(f"  {services_line(r.get('services'))}", file=out)
        print(f"  {cost_line(r['cost'])}", file=out)
    if not doc["regions"]:
        print("no cluster yet: run `studioml-azure apply`", file=out)
    return 0
