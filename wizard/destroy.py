"""``studioml-azure destroy``: take one region, or the whole install, away again, with everything the wizard made
for it that a resource-group delete by hand leaves behind.

What goes, in dependency order. An added region: the home VNet's half of its peering (the region's half goes with
its group), its AKS subnet in the services' NSG rules, its resource group (cluster, VNet, node resources), its
kubeconfig. Everything: every added region first, then the role assignments the wizard made on the registry, the
home cluster's and the registry's resource groups, the Graph application (its service principal and password go
with it), this host's files of the install (kubeconfigs, health records), and last the keyring entries, once nothing
that used them is left; then the journal and the remembered id. Each removal looks first and skips what is already
gone, so a destroy that was interrupted converges when run again (the journal says where the last one stopped).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from . import secrets as keys
from .azure.errors import azure_call
from .errors import InputError, InterruptedRun
from .events import StepDone, StepStarted
from .naming import TAG
from .permissions import refuse_missing
from .steps.base import Context, get_or_none, lookup, rest
from .steps.identity import find_app
from .steps.network import AKS_SUBNET


@dataclass
class Removal:
    """One thing destroy deletes: what, the Azure id or local path, and how."""

    key: str
    title: str
    where: str
    run: Callable[[], None] = field(repr=False, compare=False)
    action: str = ""  # the Azure RBAC action it takes (checked against the caller's role assignments first)


def _groups(ctx: Context) -> dict[str, dict[str, Any]]:
    """The install's resource groups (by its tag), by lower-case name."""
    with azure_call("listing the install's resource groups"):
        found = ctx.clients.resources(ctx.subscription_id).resource_groups.list(
            filter=f"tagName eq '{TAG}' and tagValue eq '{ctx.names.uniq_id}'")
        return {str(g.name).lower(): {"name": str(g.name), "id": str(g.id), "location": str(g.location)}
                for g in found}


def install_regions(ctx: Context, groups: dict[str, dict[str, Any]]) -> list[str]:
    """Every region of the install: the home one, then each added region's cluster group."""
    n = ctx.names
    prefix = f"{n.cluster_rg(n.home_region)}-".lower()
    added = sorted(name[len(prefix):] for name in groups if name.startswith(prefix))
    return [n.home_region, *added]


def _delete_group(ctx: Context, name: str) -> None:
    rgs = ctx.clients.resources(ctx.subscription_id).resource_groups
    if get_or_none(lambda: rgs.get(name), f"reading resource group {name}") is not None:
        ctx.wait("destroy", lambda: rgs.begin_delete(name), f"deleting resource group {name}")


def _delete_peering(ctx: Context, region: str) -> None:
    n, peerings = ctx.names, ctx.clients.network(ctx.subscription_id).virtual_network_peerings
    if get_or_none(lambda: peerings.get(n.registry_rg, n.vnet, f"to-{region}"), "reading the peering") is not None:
        ctx.wait("destroy", lambda: peerings.begin_delete(n.registry_rg, n.vnet, f"to-{region}"),
                 f"deleting peering {n.vnet}/to-{region}")


def _region_prefix(ctx: Context, region: str) -> str | None:
    net = ctx.clients.network(ctx.subscription_id)
    vnet = rest(get_or_none(lambda: net.virtual_networks.get(ctx.names.cluster_rg(region),
                                                              ctx.names.region_vnet(region)), "reading the VNet"))
    return next((str(lookup(s, "properties.addressPrefix")) for s in lookup(vnet, "properties.subnets", []) or []
                 if s.get("name") == AKS_SUBNET), None)


def _forget_subnet(ctx: Context, prefix: str) -> None:
    """The services' NSG rules without the region's AKS subnet (one PUT; rules left with no source go)."""
    from azure.mgmt.network.models import NetworkSecurityGroup

    net = ctx.clients.network(ctx.subscription_id)
    nsg = rest(get_or_none(lambda: net.network_security_groups.get(ctx.names.registry_rg, ctx.names.nsg),
                           "reading the NSG"))
    if nsg is None:
        return
    rules, changed = [], False
    for rule in lookup(nsg, "properties.securityRules", []) or []:
        props = dict(rule.get("properties") or {})
        sources = props.get("sourceAddressPrefixes") or []
        if prefix in sources:
            changed = True
            props["sourceAddressPrefixes"] = [s for s in sources if s != prefix]
            if not props["sourceAddressPrefixes"]:
                continue
        rules.append({"name": rule["name"], "properties": {k: v for k, v in props.items()
                                                            if k not in ("provisioningState", "etag")}})
    if changed:
        body = NetworkSecurityGroup({"location": nsg["location"], "tags": nsg.get("tags") or {},
                                     "properties": {"securityRules": rules}})
        ctx.wait("destroy", lambda: net.network_security_groups.begin_create_or_update(
            ctx.names.registry_rg, ctx.names.nsg, body), "removing the region's subnet from the NSG rules")


def _unlink(ctx: Context, region: str) -> None:
    ctx.state.kubeconfig_path(ctx.names.uniq_id, region).unlink(missing_ok=True)


def region_removals(ctx: Context, region: str, groups: dict[str, dict[str, Any]], *, alone: bool) -> list[Removal]:
    """An added region's removals (``alone``: the rest of the install stays, so its NSG rules are mended)."""
    n, out = ctx.names, []
    if n.registry_rg.lower() in groups:
        home_vnet = f"/subscriptions/{ctx.subscription_id}/resourceGroups/{n.registry_rg}/providers/" \
                    f"Microsoft.Network/virtualNetworks/{n.vnet}"
        out.append(Removal(f"peering-{region}", f"peering of the home VNet to {region}",
                           f"{home_vnet}/virtualNetworkPeerings/to-{region}", partial(_delete_peering, ctx, region),
                           "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/delete"))
        if alone:
            prefix = _region_prefix(ctx, region)
            if prefix:
                out.append(Removal(f"nsg-{region}", f"{region}'s AKS subnet {prefix} in the services' NSG rules",
                                   f"{home_vnet.rsplit('/', 2)[0]}/networkSecurityGroups/{n.nsg}",
                                   partial(_forget_subnet, ctx, prefix),
                                   "Microsoft.Network/networkSecurityGroups/write"))
    group = groups.get(n.cluster_rg(region).lower())
    if group:
        out.append(Removal(f"group-{region}", f"resource group {group['name']} (cluster, VNet, node resources)",
                           group["id"], partial(_delete_group, ctx, group["name"]),
                           "Microsoft.Resources/subscriptions/resourceGroups/delete"))
    path = ctx.state.kubeconfig_path(n.uniq_id, region)
    if path.exists():
        out.append(Removal(f"kubeconfig-{region}", f"kubeconfig of {region}", str(path), partial(_unlink, ctx, region)))
    return out


def _role_assignments(ctx: Context, app: dict[str, Any] | None, groups: dict[str, dict[str, Any]]) -> list[Any]:
    if app is None or ctx.names.registry_rg.lower() not in groups:
        return []
    sp = ctx.clients.graph().request("GET", "/servicePrincipals", params={"$filter": f"appId eq '{app['appId']}'"})
    ids = [s["id"] for s in sp.get("value", [])]
    reg = (f"/subscriptions/{ctx.subscription_id}/resourceGroups/{ctx.names.registry_rg}/providers/"
           f"Microsoft.ContainerRegistry/registries/{ctx.names.registry}")
    authz = ctx.clients.authz(ctx.subscription_id)
    with azure_call("reading the registry's role assignments"):
        return [a for pid in ids for a in authz.role_assignments.list_for_scope(reg, filter=f"principalId eq '{pid}'")
                if str(a.scope).lower() == reg.lower()]


def _delete_app(ctx: Context, object_id: str) -> None:
    with azure_call("deleting the Graph application"):
        ctx.clients.graph().request("DELETE", f"/applications/{object_id}", ok=(204, 404))


def _delete_assignment(ctx: Context, assignment_id: str) -> None:
    with azure_call("deleting a role assignment"):
        ctx.clients.authz(ctx.subscription_id).role_assignments.delete_by_id(assignment_id)


def _delete_keys(ctx: Context, names: list[str]) -> None:
    for key in names:
        ctx.secrets.delete(key)


def _local_files(ctx: Context) -> None:
    folder = ctx.state.install_dir(ctx.names.uniq_id)
    for path in [folder / "kube", folder / "health.json"]:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def everything(ctx: Context, groups: dict[str, dict[str, Any]]) -> list[Removal]:
    """The whole install's removals, in order."""
    n, out = ctx.names, []
    for region in install_regions(ctx, groups)[1:]:
        out += region_removals(ctx, region, groups, alone=False)
    app = find_app(ctx)
    for a in _role_assignments(ctx, app, groups):
        out.append(Removal(f"role-{a.name}", f"role assignment of {n.sp} on the registry", str(a.id),
                           partial(_delete_assignment, ctx, str(a.id)),
                           "Microsoft.Authorization/roleAssignments/delete"))
    for name in (n.cluster_rg(n.home_region), n.registry_rg):
        group = groups.get(name.lower())
        if group:
            what = "home cluster" if name != n.registry_rg else "registry, VNet, RabbitMQ and file-server VMs, NAT"
            out.append(Removal(f"group-{name}", f"resource group {name} ({what})", group["id"],
                               partial(_delete_group, ctx, name),
                               "Microsoft.Resources/subscriptions/resourceGroups/delete"))
    if app is not None:
        out.append(Removal("application", f"Graph application {app.get('displayName')} (its service principal and "
                                          "password go with it)", f"/applications/{app['id']}",
                           partial(_delete_app, ctx, str(app["id"]))))
    folder = ctx.state.install_dir(n.uniq_id)
    if (folder / "kube").exists() or (folder / "health.json").exists():
        out.append(Removal("files", "this host's kubeconfigs and health records of the install", str(folder),
                           partial(_local_files, ctx)))
    held = [k for k in [*keys.PURPOSES, *keys.LEGACY] if ctx.secrets.get(k) is not None]
    if held:
        out.append(Removal("keyring", f"{len(held)} keyring entries (last: nothing that used them is left)",
                           f"keyring:{keys.SERVICE}/{ctx.secrets.prefix}/*", partial(_delete_keys, ctx, held)))
    return out


def plan_removals(ctx: Context, region: str | None) -> tuple[list[Removal], list[str]]:
    """What destroy would delete (only what still exists), and the regions it takes away."""
    groups = _groups(ctx)
    regions = install_regions(ctx, groups)
    n = ctx.names
    if region is None:
        return everything(ctx, groups), regions
    if region not in regions and region != n.home_region:
        raise InputError(f"install {n.uniq_id} has no region {region}.",
                         f"its regions: {', '.join(regions)}; destroy without --region removes all of it")
    if region == n.home_region:
        if len(regions) > 1:
            raise InputError(f"{region} is the install's home region (registry, RabbitMQ, file server), and "
                             f"{', '.join(regions[1:])} still use it.",
                             "destroy those regions first (--region R), or the whole install (no --region)")
        return everything(ctx, groups), regions
    return region_removals(ctx, region, groups, alone=True), [region]


def run_removals(ctx: Context, removals: list[Removal]) -> None:
    """Delete in order, journaled; Ctrl-C stops before the next one (a re-run goes on from what is left)."""
    for r in removals:
        if ctx.stop.is_set():
            raise InterruptedRun("destroy stopped before it finished.", "run the same destroy again: it goes on "
                                 "from what is left")
        ctx.emit(StepStarted(r.key, f"delete {r.title}"))
        if r.key not in ("keyring",):
            ctx.journal.record(f"destroy:{r.key}", "started")
        r.run()
        if r.key not in ("keyring",):
            ctx.journal.record(f"destroy:{r.key}", "done")
        ctx.emit(StepDone(r.key, "delete", r.where))


def forget_install(ctx: Context) -> None:
    """After everything else: the install's folder on this host (journal, lock) and its remembered id."""
    shutil.rmtree(ctx.state.install_dir(ctx.names.uniq_id), ignore_errors=True)
    ctx.state.forget_uniq_id(ctx.subscription_id, ctx.names.uniq_id)


def say(line: str) -> None:
    """A line for the person (stderr)."""
    print(line, file=sys.stderr, flush=True)


def monthly_saving(session: Any, ctx: Context, regions: list[str], whole: bool) -> tuple[float | None, str]:
    """What the removed part costs a month now (its pools as they are), and the currency."""
    from .installed import installed_regions
    from .pricing import PriceBook
    from .sizing import estimate

    found = installed_regions(session, ctx.subscription_id, ctx.names.uniq_id,
                              lambda r: ctx.state.kubeconfig_path(ctx.names.uniq_id, r))
    if not found:
        return None, ctx.answers.currency
    book = PriceBook(session.cloud.prices, currency=ctx.answers.currency, verify=session.cloud.verify())
    est = estimate(book, ctx.answers, regions=sorted(found), home=ctx.names.home_region,
                   pools={r: (f.gpu_sku, f.gpu_nodes) for r, f in found.items()})
    if whole:
        return est.total()[1], est.currency
    return sum(est.total(r)[1] for r in regions if r in found), est.currency


@dataclass
class Prepared:
    """A destroy planned: what goes, in order, the regions it takes away, and what that saves a month."""

    ctx: Context
    subscription: dict[str, Any]
    uniq_id: str
    removals: list[Removal]
    regions: list[str]
    whole: bool
    saving: float | None
    currency: str

    @property
    def what(self) -> str:
        """``install 1a2b3c4d`` or ``region westeurope of install 1a2b3c4d``."""
        return (f"install {self.uniq_id}" if self.whole else
                f"region {', '.join(self.regions)} of install {self.uniq_id}")

    def lines(self) -> list[str]:
        """The plan as a person reads it."""
        sub = self.subscription
        out = [f"destroy {self.what} in subscription {sub['name']} ({sub['id']}):"]
        out += [f"  delete  {r.title}" for r in self.removals]
        if not self.removals:
            out.append(f"nothing of {self.what} is left to delete.")
        elif self.saving is not None:
            from .report import money

            out.append(f"saves about {money(self.saving, self.currency)} a month (at today's prices, the pools as "
                       "they are)")
        return out

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (no secret: names and ids only)."""
        return {"subscription": {"id": self.subscription["id"], "name": self.subscription["name"]},
                "uniq_id": self.uniq_id, "scope": "install" if self.whole else "region", "regions": self.regions,
                "removals": [{"key": r.key, "title": r.title, "id": r.where} for r in self.removals],
                "monthly_saving": self.saving, "currency": self.currency}


def prepare(session: Any, answers: Any, region: str | None, emit: Callable[[Any], None]) -> Prepared:
    """Find the install (as the other commands do) and plan its destroy, reading only."""
    from .session import make_context

    ctx, sub, uid = make_context(session, answers, emit, any_region=True)
    removals, regions = plan_removals(ctx, region)
    refuse_missing(ctx.clients, ctx.subscription_id, [(r.action, r.where, f"delete the {r.title}") for r in removals
                                                      if r.action], "this destroy does")
    whole = region is None or regions == [ctx.names.home_region]
    saving, currency = monthly_saving(session, ctx, regions, whole) if removals else (None, answers.currency)
    return Prepared(ctx, sub, uid.value, removals, regions, whole, saving, currency)


def execute(prep: Prepared) -> None:
    """Delete what was planned, in order; for the whole install, this host's folder and remembered id last."""
    with prep.ctx.state.apply_lock(prep.uniq_id):  # never beside an apply of the same install
        notice = prep.ctx.journal.resume_notice()
        if notice:
            say(f"resuming: {notice}")
        run_removals(prep.ctx, prep.removals)
        if prep.whole:
            forget_install(prep.ctx)


def destroy_command(session: Any, answers: Any, *, region: str | None, yes: bool, as_json: bool,
                    prompter: Any = None) -> int:
    """Plan the deletions, have the install id typed (unless ``yes``), then delete in order."""
    import json

    from .commands import Printer, _ctrl_c

    prep = prepare(session, answers, region, Printer())
    doc = {**prep.as_dict(), "done": False}
    for line in prep.lines():
        say(line)
    if prep.removals and not yes:
        if prompter is None:
            raise InputError("destroy needs the install id typed to confirm, and no one is at the terminal.",
                             "run it at a terminal, or add --yes")
        typed = prompter.text(f"Type the install id ({prep.uniq_id}) to delete this", "", lambda _v: None)
        if typed.strip() != prep.uniq_id:
            say("not the install id: nothing deleted.")
            if as_json:
                print(json.dumps(doc, indent=2))
            return 0
    with _ctrl_c(prep.ctx):
        execute(prep)
    doc["done"] = True
    say(f"done: {prep.what} is gone" + ("; `studioml-azure apply` makes it again" if prep.whole else ""))
    if as_json:
        print(json.dumps(doc, indent=2))
    return 0
