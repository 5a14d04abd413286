"""The wizard as an interactive UI walks it: one object holding the session and the answers so far, with the
calls each screen needs (subscriptions, GPU sizes with prices, regions with quota headroom, the estimate, the
plan, the run). Headless: the TUI calls it from worker threads and follows the engine's events; every answer
goes through :func:`wizard.answers.validate`.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .answers import Answers, validate
from .catalog import GpuSize, current_sizes
from .errors import InputError
from .events import Event, Warning
from .installed import InstalledRegion, installed_regions
from .pricing import PriceBook
from .secrets import PURPOSES, SOURCE_TOKEN, SecretStore
from .session import (
    Session,
    UniqId,
    home_region,
    list_subscriptions,
    make_context,
    resolve_uniq_id,
    subscription_warning,
    usable,
)
from .sizing import estimate, preflight_for
from .source import SourceOption, chosen, credentials, keep_token, options, warnings
from .state import TenantState

if TYPE_CHECKING:  # the engine, the plan's steps and the status reader load the SDKs: imported when first used,
    # so a UI importing this module draws before they load
    from .destroy import Prepared
    from .engine import RunResult
    from .plan import PlannedStep
    from .sizing import Estimate
    from .steps.base import Context

ShowDeviceCode = Callable[[str, str], None]


@dataclass(frozen=True)
class SizeOption:
    """A GPU size as a person chooses it: its facts and its hourly price in a region."""

    size: GpuSize
    hourly: float | None
    currency: str

    @property
    def facts(self) -> str:
        """``1 x T4 (16 GB), 4 vCPUs``."""
        s = self.size
        return f"{s.gpus} x {s.gpu} ({s.gpu_memory_gb} GB), {s.vcpus} vCPUs"


def region_title(found: dict[str, Any], home: str) -> str:
    """One region of :func:`wizard.sizing.regions_for` as a person reads it: headroom, home, too little quota."""
    cost = f"  {found['monthly']:>10,.0f} {found['currency']}/month" if found.get("monthly") is not None else ""
    return (f"{found['region']:<16} headroom {found['headroom_vcpus']:>4} vCPUs{cost}"
            + (" (home)" if found["region"] == home else "")
            + (f" installed: {found['installed']}" if found.get("installed") else "")
            + ("" if found["fits"] else "  too little quota"))


def risky_changes(steps: list[PlannedStep]) -> list[str]:
    """The planned changes that lose capacity or data: a count that goes down, anything removed, deleted, replaced
    or made again (each needs its own confirmation)."""
    out = []
    for p in steps:
        if p.action == "none":
            continue
        down = any(int(b) < int(a) for a, b in re.findall(r"(\d+) -> (\d+)", p.detail))
        if down or re.search(r"(?i)\b(remove|delete|replace|again)\b", p.detail):
            out.append(f"{p.title}: {p.detail}")
    return out


def size_options(book: PriceBook, region: str) -> list[SizeOption]:
    """Every current size fit for CUDA training (fractional GPUs left out), with its Linux pay-as-you-go price."""
    out = []
    for size in current_sizes().values():
        if not size.fractional:
            price = book.vm(size.name, region)
            out.append(SizeOption(size, price.hourly if price else None, book.currency))
    return out


@dataclass(frozen=True)
class SecretEntry:
    """One secret of the install, without its value: what it is for, where it is kept, whether it is there."""

    key: str
    purpose: str
    ref: str
    stored: bool


@dataclass
class Wizard:
    """The state of one interactive run: sign-in, subscription, install identity and answers."""

    open_session: Callable[[ShowDeviceCode | None], Session]  # signs in; shows a device code when one is needed
    answers: Answers = field(default_factory=Answers)
    session: Session | None = None
    subscription: dict[str, Any] | None = None
    uniq: UniqId | None = None
    home: str = ""  # the install's home region, once it exists
    installed: dict[str, InstalledRegion] = field(default_factory=dict)  # the install's regions as Azure holds them
    _book: PriceBook | None = field(default=None, repr=False)

    def _session(self, show: ShowDeviceCode | None = None) -> Session:
        if self.session is None:
            self.session = self.open_session(show)
        return self.session

    def sign_in(self, show: ShowDeviceCode | None = None) -> list[dict[str, Any]]:
        """Sign in (once; ``show`` gets the URL and code if the device code flow is needed) and list the
        subscriptions this sign-in can use."""
        return usable(list_subscriptions(self._session(show)))

    def choose_subscription(self, sub: dict[str, Any]) -> None:
        """Settle the subscription, the install's uniq_id and (when it exists) its home region."""
        session = self._session()
        self.subscription = sub
        self.answers = replace(self.answers, subscription=sub["id"])
        self.uniq = resolve_uniq_id(session, self.answers, sub["id"], TenantState(session.login.tenant_id))
        self.home = home_region(session, sub["id"], self.uniq.value, replace(self.answers, region=""))
        if self.home:
            self.answers = replace(self.answers, region=self.home)
        self.read_installed()

    def read_installed(self) -> None:
        """What the install holds per region (its GPU pool, the runner replicas), and the answers of the answered
        region filled from it: a re-run starts from the install, not from the defaults."""
        session, uid = self._session(), self._chosen()
        state = TenantState(session.login.tenant_id)
        self.installed = installed_regions(session, self.answers.subscription, uid.value,
                                           lambda region: state.kubeconfig_path(uid.value, region))
        if self.installed and not self.home:  # made since the subscription was picked
            self.home = home_region(session, self.answers.subscription, uid.value, replace(self.answers, region=""))
        if self.answers.region in self.installed:
            self.answers = validate({**self.answers.as_dict(), **self.installed[self.answers.region].answers()})

    def adding_region(self) -> str:
        """A sentence when the answered region is not yet in the install: what adding it makes and shares."""
        if not self.home or self.uniq is None or self.answers.region == self.home \
                or self.answers.region in self.installed:
            return ""
        return (f"{self.answers.region} is added to install {self.uniq.value} (home {self.home}): its own cluster and "
                "VNet, peered with the home one; the registry, principal, RabbitMQ and file server are shared.")

    def book(self) -> PriceBook:
        """The price book in the answered currency, kept for the run (its cache file is read once, not on every
        redraw of the sizing screen)."""
        if self._book is None or self._book.currency != self.answers.currency:
            session = self._session()
            self._book = PriceBook(session.cloud.prices, currency=self.answers.currency, verify=session.cloud.verify())
        return self._book

    def sizes(self) -> list[SizeOption]:
        """The GPU sizes with their prices in the answered region."""
        return size_options(self.book(), self.answers.region)

    def vcpus_needed(self) -> int:
        """GPU quota the answered pool needs: its nodes plus the surge node an upgrade adds."""
        return current_sizes()[self.answers.gpu_sku].vcpus * (self.answers.gpu_nodes + 1)

    def regions(self) -> list[dict[str, Any]]:
        """Regions offering the answered size to the subscription, with quota headroom for the pool + surge and the
        install's monthly cost there, cheapest first among those that fit."""
        from .ranking import ranked

        assert self.subscription is not None
        found = ranked(self._session().clients, self.book(), self.subscription["id"], self.answers,
                       self.home if self.installed else None)
        size = current_sizes()[self.answers.gpu_sku]
        for r in found:  # a region's own pool is given back: it is replaced, not added to
            have = self.installed.get(r["region"])
            if have is not None:
                r["installed"] = have.pool
                if have.gpu_sku in current_sizes() and current_sizes()[have.gpu_sku].family == size.family:
                    r["headroom_vcpus"] += current_sizes()[have.gpu_sku].vcpus * have.gpu_nodes
                    r["fits"] = r["headroom_vcpus"] >= self.vcpus_needed()
        return found

    def answer(self, **changes: Any) -> Answers:
        """Change some answers; an invalid one raises :class:`InputError` and changes nothing. Picking a region the
        install has brings its pool and runners along (unless they are given too)."""
        region = changes.get("region")
        if region in self.installed and not {"gpu_sku", "gpu_nodes", "runner_replicas"} & set(changes):
            changes = {**self.installed[region].answers(), **changes}
        self.answers = validate({**self.answers.as_dict(), **changes})
        return self.answers

    def image_sources(self) -> list[SourceOption]:
        """Where the runner image can come from, for the answered tag (quay.io, Docker Hub with a user, anonymous)."""
        return options(self.answers)

    def image_source(self) -> str:
        """Which of :meth:`image_sources` is answered (``custom`` for another image)."""
        return chosen(self.answers)

    def choose_image_source(self, key: str, user: str = "", token: str = "") -> Answers:
        """Answer the image source; a Docker Hub user's access token goes to the keyring (read back) before the
        answer changes. A user whose token the keyring already holds needs none typed again."""
        option = next(o for o in options(self.answers) if o.key == key)
        changes = {"runner_image": option.image, "source_registry_user": user.strip() if option.needs_user else ""}
        checked = validate({**self.answers.as_dict(), **changes})
        if option.needs_user:
            if not checked.source_registry_user:
                raise InputError("a Docker Hub user is needed for this source.", "type your Docker ID")
            if token.strip():
                keep_token(self._store(), token)
            elif self._store().get(SOURCE_TOKEN) is None:
                raise InputError("the access token is missing.", "paste a Docker Hub access token (Account settings "
                                 "> Personal access tokens; public repositories read-only is enough)")
        self.answers = checked
        return checked

    def source_warnings(self) -> list[str]:
        """What to know about the image source before applying (Docker Hub's anonymous limit, a missing token), one
        short sentence each."""
        return warnings(self.answers, self._store(), brief=True) if self.uniq is not None else []

    def subscription_note(self) -> str:
        """What to know about the chosen subscription's state (Warned, PastDue), or ''."""
        return subscription_warning(self.subscription or {})

    def estimate(self) -> Estimate:
        """The whole install's cost with the answers applied: every installed region as it is (the answered one as
        answered) and the home services."""
        regions = sorted({*self.installed, self.answers.region})
        pools = {r: (i.gpu_sku, i.gpu_nodes) for r, i in self.installed.items()}
        pools.pop(self.answers.region, None)
        return estimate(self.book(), self.answers, regions, home=self.home or self.answers.region, pools=pools)

    def monthly_now(self) -> float:
        """What the install costs a month as it is (0 before the first install)."""
        if not self.installed:
            return 0.0
        pools = {r: (i.gpu_sku, i.gpu_nodes) for r, i in self.installed.items()}
        return estimate(self.book(), self.answers, sorted(pools), home=self.home, pools=pools).total()[1]

    def _context(self, emit: Callable[[Event], None]) -> Context:
        ctx, _sub, _uid = make_context(self._session(), self.answers, emit)
        preflight_for(ctx)
        return ctx

    def plan(self, emit: Callable[[Event], None]) -> tuple[list[PlannedStep], Estimate]:
        """Refuse what cannot succeed (availability, quota), then observe every step: what apply would do."""
        from .report import costed_plan

        ctx = self._context(emit)
        est = self.estimate()
        return costed_plan(ctx, est), est

    def apply(self, emit: Callable[[Event], None], stop: threading.Event) -> tuple[RunResult, Context]:
        """Converge everything; ``stop`` set from another thread ends the run at the next safe point (exit 4)."""
        from .engine import Engine
        from .plan import build_steps

        ctx = self._context(emit)
        ctx.stop = stop
        with ctx.state.apply_lock(ctx.names.uniq_id):  # one apply of an install at a time on this host
            notice = ctx.journal.resume_notice()
            if notice:
                emit(Warning("resume", notice))
            ctx.secrets.check_usable()
            credentials(self.answers, ctx.secrets)  # the image source's token is in the keyring (asked for by `i`)
            return asyncio.run(Engine(build_steps(ctx), ctx).run()), ctx

    def status(self) -> dict[str, Any]:
        """What is installed now, every region (``studioml-azure status --json``'s document)."""
        from .status import status_doc

        self._chosen()
        return status_doc(self._session(), self.answers)

    def rotate(self, say: Callable[[str], None]) -> dict[str, Any]:
        """A new registry principal password in the keyring and every region's pull secret, then the old one
        removed (see :mod:`wizard.rotate`); ``exit_code`` 4 when a region could not be reached."""
        from .rotate import rotate

        self._chosen()
        return rotate(self._session(), self.answers, say)

    def destroy_plan(self, region: str | None) -> Prepared:
        """What destroying ``region`` (None: the whole install) would delete and save (reads only)."""
        from .destroy import prepare

        self._chosen()
        return prepare(self._session(), self.answers, region, lambda _e: None)

    def destroy(self, prep: Prepared, emit: Callable[[Event], None], stop: threading.Event) -> None:
        """Delete what ``prep`` lists, in order, reporting through ``emit``; ``stop`` ends it at a safe point."""
        from .destroy import execute

        prep.ctx.emit, prep.ctx.stop = emit, stop
        execute(prep)

    def set_client_cidrs(self, text: str) -> Answers:
        """Who submits experiments: networks separated by commas or spaces (none: inside the VNet only)."""
        items = [t for t in re.split(r"[,\s]+", text.strip()) if t]
        self.answers = validate({**self.answers.as_dict(), "client_cidrs": items})
        return self.answers

    def write_client_config(self, path: str) -> dict[str, Any]:
        """The experimenters' StudioML configuration into ``path`` (0600; see :mod:`wizard.clientconfig`); returns
        what was written, without secrets."""
        from .clientconfig import write_files

        self._chosen()
        if not path.strip():
            raise InputError("no file named.", "type a path such as ~/studioml/config.yaml")
        ctx, _sub, _uid = make_context(self._session(), self.answers, lambda e: None, any_region=True)
        return write_files(ctx, Path(path.strip()).expanduser())

    def _chosen(self) -> UniqId:
        if self.uniq is None:
            raise InputError("no install is chosen yet.", "pick the subscription first")
        return self.uniq

    def _store(self) -> SecretStore:
        return SecretStore(self._session().login.tenant_id, self._chosen().value)

    def secret_entries(self) -> list[SecretEntry]:
        """Every secret the install keeps in the OS keyring, named and located, values left out."""
        store = self._store()
        return [SecretEntry(key, purpose, str(store.ref(key)), store.get(key) is not None)
                for key, purpose in PURPOSES.items()]

    def reveal(self, key: str) -> str:
        """One secret's value, read from the keyring when a person asks for it (never cached here)."""
        if key not in PURPOSES:
            raise InputError(f"{key!r} is not a secret of this install.", "pick one from the list")
        value = self._store().get(key)
        if value is None:
            raise InputError(f"{key} is not in the keyring.", "run apply: it makes what is missing")
        return value
