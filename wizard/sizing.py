"""Sizing that cannot fail late: availability (resource SKUs), quota (usages, with one surge node for upgrades)
and a whole-deployment cost estimate from retail prices."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from .answers import Answers
from .azure.clients import Clients
from .azure.errors import azure_call
from .catalog import gpu_size, service_sizes
from .errors import InputError, RefusedError
from .naming import TAG
from .pricing import HOURS_PER_MONTH, Price, PriceBook
from .steps.base import Context, get_or_none, lookup, rest

AKS_NODE_OS_DISK = "P10 LRS"  # 128 GiB managed OS disk per node
VM_OS_DISK = "P4 LRS"  # 30 GiB image -> the 32 GiB tier
FILES_DATA_DISK = "P15 LRS"  # 256 GiB
# The NAT gateway also bills each GB it processes: the service VMs move little through it (apt, the file server's
# download, updates); this much a month is assumed and said so.
NAT_DATA_GB = 20
QUOTA_BLADE = "/#view/Microsoft_Azure_Capacity/QuotaMenuBlade/~/myQuotas"  # after the cloud's portal


@dataclass
class CostLine:
    """One priced item of the deployment."""

    region: str
    item: str
    sku: str
    quantity: int
    unit_price: float | None
    unit: str
    hourly: float | None
    monthly: float | None
    source: str
    as_of: str


@dataclass
class Estimate:
    """The whole deployment, per region and in total, hourly and monthly (730 h)."""

    currency: str
    lines: list[CostLine] = field(default_factory=list)

    @property
    def sources(self) -> list[str]:
        """Where the prices came from, e.g. ``live 2026-11-29T...`` or ``snapshot 2026-11-01``."""
        return sorted({f"{line.source} {line.as_of}" for line in self.lines if line.unit_price is not None})

    @property
    def from_snapshot(self) -> bool:
        """Whether any price is the offline snapshot's."""
        return any(line.source == "snapshot" for line in self.lines)

    def total(self, region: str | None = None) -> tuple[float, float]:
        """(hourly, monthly) of the region, or of everything."""
        chosen = [x for x in self.lines if (region is None or x.region == region) and x.hourly is not None]
        return sum(x.hourly or 0.0 for x in chosen), sum(x.monthly or 0.0 for x in chosen)

    def idle_monthly(self) -> float:
        """A month with no GPU node running (scale to zero, nothing queued): everything but the GPU pool's nodes and
        their OS disks."""
        out = 0.0
        for x in self.lines:
            if x.monthly is None or x.item == "GPU pool nodes":
                continue
            share = 1 / x.quantity if x.item.startswith("AKS node OS disks") and x.quantity else 1.0
            out += x.monthly * share
        return out

    def as_dict(self) -> dict[str, Any]:
        """For ``plan --json``."""
        regions = sorted({x.region for x in self.lines})
        hourly, monthly = self.total()
        return {"currency": self.currency, "hours_per_month": HOURS_PER_MONTH, "sources": self.sources,
                "from_snapshot": self.from_snapshot, "lines": [asdict(x) for x in self.lines],
                "regions": {r: dict(zip(("hourly", "monthly"), self.total(r), strict=True)) for r in regions},
                "total": {"hourly": hourly, "monthly": monthly}, "idle_monthly": self.idle_monthly(),
                "unpriced": [x.item for x in self.lines if x.unit_price is None]}


def _line(region: str, item: str, sku: str, quantity: int, price: Price | None) -> CostLine:
    if price is None:
        return CostLine(region, item, sku, quantity, None, "", None, None, "unpriced", "")
    if price.unit == "1 GB":  # usage: ``quantity`` GB a month
        monthly = price.unit_price * quantity
        return CostLine(region, item, sku, quantity, price.unit_price, price.unit, monthly / HOURS_PER_MONTH, monthly,
                        price.source, price.as_of)
    hourly = price.hourly * quantity
    return CostLine(region, item, sku, quantity, price.unit_price, price.unit, hourly, hourly * HOURS_PER_MONTH,
                    price.source, price.as_of)


def estimate(book: PriceBook, answers: Answers, regions: list[str] | None = None, home: str | None = None,
             pools: dict[str, tuple[str, int]] | None = None) -> Estimate:
    """Price every part: per region (the answered one by default) the GPU pool x nodes, system pool, node OS disks
    and the load balancer's public IP; once, in the home region (the answered one unless given), RabbitMQ, the file
    server and its data disk, their OS disks, their NAT gateway with its public IP and an assumed amount of data
    processed, and the registry, which every region's runners use; with ``client_cidrs``, the services' public
    IPs. ``pools`` gives regions whose GPU pool is not the answered one (an install's other regions, as they are)."""
    services = service_sizes()
    est = Estimate(book.currency)
    home = home or answers.region
    for region in regions or [answers.region]:
        sku, nodes = (pools or {}).get(region, (answers.gpu_sku, answers.gpu_nodes))
        gpu_price = book.vm_spot(sku, region) if answers.spot else book.vm(sku, region)
        est.lines += [
            _line(region, "GPU pool nodes", f"{sku} Spot (evictable)" if answers.spot else sku, nodes, gpu_price),
            _line(region, "system pool node", services["system_pool"], 1, book.vm(services["system_pool"], region)),
            _line(region, "AKS node OS disks (128 GiB)", AKS_NODE_OS_DISK, nodes + 1,
                  book.disk(AKS_NODE_OS_DISK, region)),
            _line(region, "AKS outbound public IP", "Standard IPv4 static", 1, book.public_ip(region)),
        ]
    est.lines += [
        _line(home, "RabbitMQ VM", services["rabbitmq"], 1, book.vm(services["rabbitmq"], home)),
        _line(home, "file server VM", services["files"], 1, book.vm(services["files"], home)),
        _line(home, "RabbitMQ OS disk (30 GiB)", VM_OS_DISK, 1, book.disk(VM_OS_DISK, home)),
        _line(home, "file server OS disk (30 GiB)", VM_OS_DISK, 1, book.disk(VM_OS_DISK, home)),
        _line(home, f"file server data disk ({services['files_data_disk_gb']} GiB)", FILES_DATA_DISK, 1,
              book.disk(FILES_DATA_DISK, home)),
        _line(home, "NAT gateway", "Standard", 1, book.nat_gateway(home)),
        _line(home, "NAT gateway public IP", "Standard IPv4 static", 1, book.public_ip(home)),
        _line(home, "NAT gateway data processed", f"{NAT_DATA_GB} GB a month (assumed)", NAT_DATA_GB,
              book.nat_data(home)),
        _line(home, "container registry (Basic)", "Basic", 1, book.registry("Basic", home)),
    ]
    if answers.public_services:  # experimenters from client_cidrs reach each service at its own public IP
        est.lines += [_line(home, item, "Standard IPv4 static", 1, book.public_ip(home))
                      for item in ("RabbitMQ public IP", "file server public IP")]
    return est


@dataclass
class Shortfall:
    """A quota that the deployment would exceed."""

    family: str
    label: str
    needed: int
    limit: int
    in_use: int


def offered(clients: Clients, sub: str, size: str, region: str) -> tuple[bool, str, dict[str, Any] | None]:
    """Whether ``size`` is offered in ``region`` to this subscription (resource SKUs API), why not, and the SKU."""
    with azure_call(f"reading the VM sizes of {region}"):
        skus = [s for s in clients.compute(sub).resource_skus.list(filter=f"location eq '{region}'")
                if s.resource_type == "virtualMachines" and (s.name or "").lower() == size.lower()]
    if not skus:
        return False, f"{size} is not offered in {region}", None
    sku = skus[0]
    for r in sku.restrictions or []:
        if r.type == "Location" and region in [v.lower() for v in (r.values_property or [])]:
            reason = getattr(r.reason_code, "value", r.reason_code)
            return False, f"{size} exists in {region} but is {reason} there (resource SKUs API)", None
    return True, "", {"family": sku.family, "vcpus": next(
        (int(c.value) for c in sku.capabilities or [] if c.name == "vCPUs" and c.value), 0)}


def quota_needs(answers: Answers, existing_gpu_nodes: int, vms_exist: bool, home: bool) -> dict[str, int]:
    """vCPUs per VM size the run would add (the GPU pool with one surge node for upgrades)."""
    services = service_sizes()
    gpu = gpu_size(answers.gpu_sku)
    add_nodes = max(0, answers.gpu_nodes - existing_gpu_nodes) + 1  # the surge node an upgrade adds
    needs = {answers.gpu_sku: gpu.vcpus * add_nodes}
    if not existing_gpu_nodes:
        needs[services["system_pool"]] = needs.get(services["system_pool"], 0) + 2 * 2  # 1 node + 1 surge, 2 vCPUs
    if home and not vms_exist:
        needs[services["rabbitmq"]] = needs.get(services["rabbitmq"], 0) + 4
        needs[services["files"]] = needs.get(services["files"], 0) + 4
    return {k: v for k, v in needs.items() if v}


def check_quota(clients: Clients, sub: str, region: str, needs: dict[str, int],
                families: dict[str, str], spot: frozenset[str] = frozenset()) -> list[Shortfall]:
    """Compare with the usage API: each family and the regional total; Spot sizes against the regional
    low-priority vCPUs instead ("Spot VMs count against the regional low-priority quota")."""
    with azure_call(f"reading compute quota in {region}"):
        usages = {u.name.value: u for u in clients.compute(sub).usage.list(region) if u.name and u.name.value}
    per_family: dict[str, int] = {}
    low = 0
    for size, vcpus in needs.items():
        if size in spot:
            low += vcpus
            continue
        per_family[families[size]] = per_family.get(families[size], 0) + vcpus
    short = []
    checks = [*per_family.items(), ("cores", sum(per_family.values()))] + ([("lowPriorityCores", low)] if low else [])
    for family, vcpus in checks:
        u = usages.get(family)
        if u is None:
            continue
        if u.current_value + vcpus > u.limit:
            label = (u.name.localized_value if u.name else None) or family
            short.append(Shortfall(family, label, vcpus, int(u.limit), int(u.current_value)))
    return short


def refuse_shortfall(short: list[Shortfall], sub: str, region: str,
                     portal: str = "https://portal.azure.com") -> RefusedError:
    """The error that names each shortfall and the two ways to raise it."""
    parts = [f"{s.label} ({s.family}): needs {s.needed} more vCPUs, limit {s.limit}, in use {s.in_use}"
             for s in short]
    first = short[0]
    new_limit = first.in_use + first.needed
    return RefusedError(
        f"not enough compute quota in {region}: " + "; ".join(parts) + " (the GPU pool counts one extra "
        "node that AKS adds during upgrades).",
        f"raise it in the portal ({portal}{QUOTA_BLADE}, filter Compute and {region}) or run: az quota update "
        f"--scope /subscriptions/{sub}/providers/Microsoft.Compute/locations/{region} --resource-name "
        f"\"{first.family}\" --limit-object value={new_limit} limit-object-type=LimitValue --resource-type "
        "dedicated; or choose another region or size", "QuotaExceeded")


def regions_for(clients: Clients, sub: str, size: str, vcpus_needed: int, spot: bool = False) -> list[dict[str, Any]]:
    """Regions where ``size`` is offered to this subscription, each with its quota headroom for the family (for Spot,
    the regional low-priority vCPUs)."""
    with azure_call("reading VM sizes"):
        skus = [s for s in clients.compute(sub).resource_skus.list()
                if s.resource_type == "virtualMachines" and (s.name or "").lower() == size.lower()]
    offered_in = [(sku, region) for sku in skus for region in sku.locations or []
                  if not any(r.type == "Location" and region in (r.values_property or [])
                             for r in sku.restrictions or [])]

    def headroom(pair: tuple[Any, str]) -> dict[str, Any]:
        sku, region = pair
        with azure_call(f"reading quota in {region}"):
            usage = {u.name.value: u for u in clients.compute(sub).usage.list(region) if u.name}
        fam, total = usage.get("lowPriorityCores" if spot else sku.family or ""), usage.get("cores")
        if spot:
            total = None
        room = int(fam.limit - fam.current_value) if fam else 0
        if total is not None:
            room = min(room, int(total.limit - total.current_value))
        return {"region": region, "family": sku.family, "headroom_vcpus": room, "fits": room >= vcpus_needed}

    with ThreadPoolExecutor(max_workers=8) as pool:  # one usage call per region: overlap them
        out = list(pool.map(headroom, offered_in))
    return sorted(out, key=lambda r: (not r["fits"], -r["headroom_vcpus"], r["region"]))


def check_region(clients: Clients, sub: str, region: str) -> None:
    """The region is one of the subscription's (its ARM name; a display name is refused naming the ARM one)."""
    with azure_call("listing the subscription's regions"):
        found = [(str(loc.name), str(loc.display_name or "")) for loc in
                 clients.subscriptions().subscriptions.list_locations(sub)]
    names = sorted(n for n, _d in found)
    if not names or region in names:
        return
    by_display = {d.replace(" ", "").lower(): n for n, d in found}
    if region.replace(" ", "").lower() in by_display:
        right = by_display[region.replace(" ", "").lower()]
        raise InputError(f"region = \"{region}\" is a display name.", f"use its ARM name: region = \"{right}\"")
    raise InputError(f"region = \"{region}\" is not a region of subscription {sub}.",
                     f"use one of its {len(names)} regions: {', '.join(names)}")


def preflight(clients: Clients, sub: str, answers: Answers, cluster_rg: str, cluster: str, services_rg: str,
              vm_name: str, home: bool = True) -> None:
    """Refuse, before anything is made, a region the subscription does not have, a size that is not offered there, or
    a deployment the quota cannot hold."""
    region = answers.region
    check_region(clients, sub, region)
    sizes = {answers.gpu_sku, *(str(service_sizes()[k]) for k in ("system_pool", "rabbitmq", "files")
                                if home or k == "system_pool")}  # the service VMs live in the home region only
    families: dict[str, str] = {}
    for size in sorted(sizes):
        ok, why, sku = offered(clients, sub, size, region)
        if not ok or sku is None:
            where = [r["region"] for r in regions_for(clients, sub, size, 0)][:8]
            raise RefusedError(f"{why}.", (f"choose a region where it is offered: {', '.join(where)}" if where else
                                           "choose another size") + " (answers: region, gpu_sku)",
                               "SkuNotAvailable")
        families[size] = str(sku["family"])
    mc = rest(get_or_none(lambda: clients.aks(sub).managed_clusters.get(cluster_rg, cluster), "reading the cluster"))
    existing = sum(p.get("count") or 0 for p in lookup(mc, "properties.agentPoolProfiles", []) if p["name"] == "gpu")
    vms_exist = get_or_none(lambda: clients.compute(sub).virtual_machines.get(services_rg, vm_name),
                            "reading the service VMs") is not None
    short = check_quota(clients, sub, region, quota_needs(answers, existing, vms_exist, home), families,
                        frozenset({answers.gpu_sku}) if answers.spot else frozenset())
    if short:
        raise refuse_shortfall(short, sub, region, clients.cloud.portal)


def check_id_elsewhere(clients: Clients, sub: str, uniq_id: str) -> None:
    """An install id that this subscription does not hold but another subscription of the tenant does is refused,
    naming where: two subscriptions' installs would share one state folder, principal and keyring entries."""
    tagged = f"tagName eq '{TAG}'"
    with azure_call("looking for the install id's resource groups"):
        here = [g for g in clients.resources(sub).resource_groups.list(filter=tagged)
                if (g.tags or {}).get(TAG) == uniq_id]
    if here:
        return
    with azure_call("listing the tenant's subscriptions"):
        others = [s for s in clients.subscriptions().subscriptions.list() if str(s.subscription_id) != sub
                  and str(getattr(s.state, "value", s.state)) in ("Enabled", "Warned", "PastDue")]
    for other in others:
        try:
            with azure_call(f"looking for install {uniq_id} in subscription {other.display_name}"):
                groups = [str(g.name) for g in clients.resources(str(other.subscription_id)).resource_groups.list(
                    filter=tagged) if (g.tags or {}).get(TAG) == uniq_id]
        except RefusedError:
            continue  # a subscription this sign-in may not read holds nothing it could share
        if groups:
            raise InputError(f"install id {uniq_id} is in use in subscription {other.display_name} "
                             f"({other.subscription_id}): resource group(s) {', '.join(sorted(groups))}.",
                             f"to work on that install, answer subscription = \"{other.subscription_id}\"; for a new "
                             "install here, give another uniq_id (or leave it \"auto\" on another host)")


def preflight_for(ctx: Context) -> None:
    """:func:`preflight` for a run's context (its region, cluster, and whether it is the home region), after the
    install id's other uses in the tenant and the registry's global name; last, whether the signed-in identity's
    role assignments grant what the apply writes."""
    from .permissions import check_permissions
    from .steps.registry import check_registry_name

    check_id_elsewhere(ctx.clients, ctx.subscription_id, ctx.names.uniq_id)
    check_registry_name(ctx.clients, ctx.subscription_id, ctx.names)
    n = ctx.names
    preflight(ctx.clients, ctx.subscription_id, ctx.answers, n.cluster_rg(ctx.region), n.cluster, n.registry_rg,
              n.vm("rabbitmq"), home=ctx.region == n.home_region)
    check_permissions(ctx.clients, ctx.subscription_id, n, ctx.region)
