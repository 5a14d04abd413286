"""Everything a command needs before the first step: the cloud, the sign-in, the subscription, the uniq_id
and the run context."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .answers import SUBSCRIPTION_ID_RE, Answers
from .azure.clients import Clients
from .azure.cloud import Cloud, Login, cloud_from_options, login, sandbox_login
from .azure.errors import azure_call
from .errors import InputError, RefusedError
from .events import Event
from .naming import TAG, Derivation, Names, derive_uniq_id, network_interfaces
from .secrets import SecretStore
from .state import TenantState
from .steps.base import Context, get_or_none


@dataclass
class Options:
    """Command-line choices that are not answers: where the cloud is and how to behave."""

    cloud: str = "AzureCloud"
    arm_endpoint: str | None = None
    authority: str | None = None
    graph_endpoint: str | None = None
    prices_endpoint: str | None = None
    registry_endpoint: str | None = None
    ca_bundle: str | None = None
    sandbox: bool = False
    sandbox_dir: Path | None = None
    speed: float = 10.0
    interactive: bool = False
    on_device_code: Callable[[str, str], None] | None = None  # shows (url, code) when the device code flow runs


@dataclass
class Session:
    """A signed-in connection to one cloud (and the embedded sandbox when it serves it)."""

    cloud: Cloud
    login: Login
    clients: Clients
    sandbox_dir: Path | None = None  # the sandbox's folder, when this session started it in the background
    # A person at the terminal picks when the answers do not settle the subscription (the plain prompts).
    choose_subscription: Callable[[list[dict[str, Any]], str | None], dict[str, Any]] | None = None


def open_session(opts: Options) -> Session:
    """Start the embedded sandbox if asked, pick the cloud, sign in."""
    if opts.sandbox:
        from .sandbox.control import find_running, start_background

        directory = opts.sandbox_dir or default_sandbox_dir()
        running = find_running(directory)
        if running is not None:  # a `sandbox serve` of this folder: join it
            ep, name, started = running, f"the local sandbox served from {directory}", None
        else:  # start one that outlives this command, so its kubeconfigs keep working (like kind or minikube)
            ep, name, started = start_background(directory, speed=opts.speed), \
                f"the local sandbox, now serving from {directory} in the background", directory
        cloud = Cloud(name, ep.arm, ep.authority, ep.graph, ep.prices, ca_bundle=ep.ca_bundle,
                      registry=ep.registry + "/{host}", custom=True)
        signed_in = sandbox_login(cloud, ep.tenant_id, ep.client_id, ep.client_secret)
        return Session(cloud, signed_in, Clients(cloud, signed_in.credential, polling_interval=_poll(opts)),
                       sandbox_dir=started)
    cloud = cloud_from_options(opts.cloud, arm=opts.arm_endpoint, authority=opts.authority, graph=opts.graph_endpoint,
                               prices=opts.prices_endpoint, ca_bundle=opts.ca_bundle, registry=opts.registry_endpoint)
    signed_in = login(cloud, interactive=opts.interactive, on_device_code=opts.on_device_code)
    return Session(cloud, signed_in, Clients(cloud, signed_in.credential, polling_interval=_poll(opts)))


def _poll(opts: Options) -> float | None:
    return max(0.05, 5.0 / opts.speed) if opts.sandbox else None


def default_sandbox_dir() -> Path:
    """Where the embedded sandbox keeps its state unless told otherwise."""
    import platformdirs

    return Path(platformdirs.user_data_dir("studioml-azure")) / "sandbox"


UNUSABLE = ("Disabled", "Deleted", "PastDue")  # subscription states nothing can be created in


def usable(subs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The subscriptions something can be created in."""
    return [s for s in subs if s["state"] not in UNUSABLE]


def list_subscriptions(session: Session) -> list[dict[str, Any]]:
    """Every subscription the sign-in sees: id, display name and state."""
    with azure_call("listing subscriptions"):
        return [{"id": str(s.subscription_id), "name": str(s.display_name),
                 "state": str(getattr(s.state, "value", s.state))}  # the enum's value: "Enabled", not its name
                for s in session.clients.subscriptions().subscriptions.list()]


def pick_subscription(session: Session, wanted: str, remembered: list[str] | None = None) -> dict[str, Any]:
    """The subscription named by id or display name; without one, the only one this host installed into, else
    az's default subscription (the seed's ``isDefault``), else the only enabled subscription."""
    subs = list_subscriptions(session)
    if not subs:
        raise RefusedError("this sign-in sees no subscription.", "sign in with an account that has one")
    listing = "; ".join(f"{s['name']} ({s['id']}, {s['state']})" for s in subs)
    if wanted:
        key = "id" if SUBSCRIPTION_ID_RE.match(wanted) else "name"
        match = [s for s in subs if s[key].lower() == wanted.lower()]
        if not match:
            raise InputError(f"subscription = \"{wanted}\" is not one this sign-in can use.",
                             f"choose one of: {listing}")
        if len(match) > 1:
            raise InputError(f"subscription = \"{wanted}\" names {len(match)} subscriptions.",
                             "give the subscription id instead")
        chosen = match[0]
    else:
        known = [s for s in subs if s["id"] in (remembered or [])]
        default = [s for s in subs if s["id"] == session.login.default_subscription]
        enabled = known if len(known) == 1 else default or [s for s in subs if s["state"] == "Enabled"]
        if len(enabled) != 1 and session.choose_subscription is not None:
            return session.choose_subscription(subs, session.login.default_subscription)
        if len(enabled) != 1:
            raise InputError("the answers name no subscription and this sign-in has several.",
                             f"set subscription to one of: {listing}")
        chosen = enabled[0]
    if chosen["state"] in UNUSABLE:
        raise RefusedError(f"subscription {chosen['name']} is {chosen['state']}.", "pick an enabled subscription")
    return chosen


@dataclass(frozen=True)
class UniqId:
    """The uniq_id in use and where it came from."""

    value: str
    source: str
    hint: str = ""  # set when the derivation had no interface to hash: how to pick one or type an id


def resolve_uniq_id(session: Session, answers: Answers, subscription_id: str, state: TenantState) -> UniqId:
    """The answer; else, when the answers name an interface other than the one the remembered id was derived over,
    a derivation over it (refused while the remembered install exists in Azure); else the one remembered for the
    subscription; else recovered from Azure's tags; else derived as the seed does, once, and remembered."""
    if answers.uniq_id != "auto":
        state.remember_uniq_id(subscription_id, answers.uniq_id, "given as uniq_id, not derived")
        return UniqId(answers.uniq_id, "given as uniq_id, not derived")
    known = state.remembered_uniq_id(subscription_id)
    if answers.interface != "eth0" and state.remembered_interface(subscription_id) != answers.interface:
        derived = _derive(subscription_id, answers.interface)  # asked for: derived over it once, remembered
        if known and known != derived.uniq_id and known in _installs(session, subscription_id):
            raise InputError(f"install {known} exists in this subscription; deriving over {answers.interface} gives "
                             f"{derived.uniq_id}, a second install.",
                             f"to keep working on {known}, leave interface at eth0; to start a second install, "
                             f"set uniq_id = \"{derived.uniq_id}\"")
        return remember_derived(state, subscription_id, derived)
    if known:
        return UniqId(known, "remembered from the first run on this host")
    tagged = _installs(session, subscription_id)
    if len(tagged) == 1:
        state.remember_uniq_id(subscription_id, tagged[0], "recovered from the studioml-uniq-id tag in Azure")
        return UniqId(tagged[0], "recovered from the studioml-uniq-id tag in Azure")
    if len(tagged) > 1:
        raise InputError(f"this subscription holds installs with uniq_ids {', '.join(tagged)}.",
                         "set uniq_id to the one to work on (in the answers file, or the wizard's install id)")
    return remember_derived(state, subscription_id, _derive(subscription_id, "eth0"))


def _installs(session: Session, subscription_id: str) -> list[str]:
    """The uniq_ids the subscription's tagged resource groups carry."""
    with azure_call("looking for an earlier install's tags"):
        groups = session.clients.resources(subscription_id).resource_groups.list(filter=f"tagName eq '{TAG}'")
        return sorted({(g.tags or {}).get(TAG, "") for g in groups} - {""})


def _derive(subscription_id: str, interface: str) -> Derivation:
    """Derive as the seed does over ``interface`` (one this host lacks is refused unless it is the seed's eth0,
    whose absence the seed's command survives)."""
    present = network_interfaces()
    if interface != "eth0" and interface not in present:
        raise InputError(f"this host has no network interface {interface}.",
                         f"set interface to one of: {', '.join(present) or '(none found)'}, or type an install id")
    return derive_uniq_id(subscription_id, interface)


def remember_derived(state: TenantState, subscription_id: str, derived: Derivation) -> UniqId:
    """Keep a derivation as the subscription's uniq_id; with no interface hashed, say how to pick one."""
    state.remember_uniq_id(subscription_id, derived.uniq_id, derived.note, derived.interface)
    hint = "" if derived.interface else ("to hash another interface or use an id of your own, set interface or "
                                         "uniq_id (in the wizard: Esc, then the interface or install id field)")
    return UniqId(derived.uniq_id, derived.note, hint)


def make_context(session: Session, answers: Answers, emit: Callable[[Event], None],
                 *, state_root: Path | None = None, any_region: bool = False) -> tuple[Context, dict[str, Any], UniqId]:
    """Resolve the subscription and uniq_id and build the run context (``any_region``: the install's home region
    replaces the answer, for reports)."""
    tenant = session.login.tenant_id
    state = TenantState(tenant, state_root)
    sub = pick_subscription(session, answers.subscription, state.remembered_subscriptions())
    uid = resolve_uniq_id(session, answers, sub["id"], state)
    home = home_region(session, sub["id"], uid.value, answers)
    if any_region:
        answers = replace(answers, region=home)
    ctx = Context(clients=session.clients, answers=answers, names=Names(uid.value, home),
                  subscription_id=sub["id"], tenant_id=tenant, secrets=SecretStore(tenant, uid.value), state=state,
                  journal=state.journal(uid.value), emit=emit,
                  poll_seconds=session.clients.polling_interval or 5.0)
    return ctx, sub, uid


def home_region(session: Session, sub: str, uniq_id: str, answers: Answers) -> str:
    """Where the registry and services live: the registry group's region once it exists, else the answer."""
    group = get_or_none(lambda: session.clients.resources(sub).resource_groups.get(f"studioml-{uniq_id}"),
                        "reading the registry's resource group")
    return str(group.location) if group is not None else answers.region


def subscription_warning(sub: dict[str, Any]) -> str:
    """What a person must know about a subscription's state before making anything in it ('' when nothing)."""
    if sub.get("state") == "Warned":
        return (f"subscription {sub.get('name')} is Warned: Azure has flagged it (usually a spending limit reached or "
                "a payment overdue) and disables it if nothing is done; what exists keeps running meanwhile, but new "
                "resources can be refused. See Cost Management + Billing in the portal before installing")
    if sub.get("state") == "PastDue":
        return (f"subscription {sub.get('name')} is PastDue: a payment is overdue; settle it (Cost Management + "
                "Billing) before Azure disables the subscription")
    return ""


def is_interactive() -> bool:
    """Whether a person is at the terminal."""
    return sys.stdin.isatty() and sys.stderr.isatty()
