"""What every step is made of: the shared run context, observations, and helpers for long operations."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from ..actions import Action
from ..answers import Answers
from ..azure.clients import Clients
from ..azure.errors import azure_call
from ..errors import InterruptedRun, WizardError
from ..events import Event, StepProgress
from ..events import Warning as WarningEvent
from ..naming import Names, install_tags
from ..secrets import SecretStore
from ..state import Journal, TenantState
from .facts import Facts

CREATE, UPDATE, NONE = Action.CREATE, Action.UPDATE, Action.NONE


@dataclass
class Resource:
    """One thing a step makes or keeps, for the plan and the status report."""

    kind: str
    name: str
    id: str = ""
    cost_item: str = ""  # the estimate line that prices it (none: it costs nothing by itself)


@dataclass
class Observation:
    """What a step found: the action it needs, why, and the resources it covers."""

    action: Action
    detail: str = ""
    resources: list[Resource] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    """Everything a step may use; ``facts`` carry ids between steps (a registry id, an IP address)."""

    clients: Clients
    answers: Answers
    names: Names
    subscription_id: str
    tenant_id: str
    secrets: SecretStore
    state: TenantState
    journal: Journal
    emit: Callable[[Event], None]
    stop: threading.Event = field(default_factory=threading.Event)
    facts: Facts = field(default_factory=Facts)
    poll_seconds: float = 1.0

    @property
    def region(self) -> str:
        """The region being installed."""
        return self.answers.region

    @property
    def login_server(self) -> str:
        """The registry's login server in this cloud (``<name>.azurecr.io`` in the public one)."""
        return f"{self.names.registry}.{self.clients.cloud.acr_suffix}"

    @property
    def tags(self) -> dict[str, str]:
        """The tags on everything the wizard makes."""
        return install_tags(self.names.uniq_id)

    def check_stop(self) -> None:
        """Raise :class:`InterruptedRun` when the run was asked to stop."""
        if self.stop.is_set():
            raise InterruptedRun("stopped before finishing.", "run the same command again to resume")

    def sleep(self, seconds: float) -> None:
        """Sleep, waking early (and raising) when the run is stopped."""
        if self.stop.wait(seconds):
            self.check_stop()

    def warn(self, step: str, message: str) -> None:
        """Tell the person something without stopping."""
        self.emit(WarningEvent(step, message))

    def wait(self, step: str, poller: Any, what: str) -> Any:
        """Follow an SDK poller to its end with progress every few seconds; Ctrl-C leaves Azure working. ``poller``
        may be its starter (``lambda: client.begin_x(...)``), so the first request is classified here too."""
        started = time.monotonic()
        last = 0.0
        with azure_call(what):
            if callable(poller) and not hasattr(poller, "done"):
                poller = poller()
            while not poller.done():
                self.check_stop()
                poller.wait(timeout=0.5)
                elapsed = time.monotonic() - started
                if elapsed - last >= 2:
                    last = elapsed
                    self.emit(StepProgress(step, f"{what}: {int(elapsed)} s"))
            return poller.result()


class Step:
    """A unit of the plan: ``observe`` reads (never writes), ``apply`` converges idempotently, ``verify`` checks."""

    key: str = ""
    title: str = ""
    needs: tuple[str, ...] = ()

    def observe(self, ctx: Context) -> Observation:
        """Read live state and say what :meth:`apply` would do."""
        raise NotImplementedError

    def apply(self, ctx: Context, obs: Observation) -> None:
        """Create or converge; idempotent."""
        raise NotImplementedError

    def verify(self, ctx: Context) -> None:
        """Check the result works; raise if not (nothing to check by default)."""


def get_or_none(fn: Callable[[], Any], what: str) -> Any:
    """An SDK GET that returns ``None`` for 404 (as the SDK raises it, or as the client guard classified it)."""
    with azure_call(what):
        try:
            return fn()
        except ResourceNotFoundError:
            return None
        except WizardError as err:
            if isinstance(err.__cause__, ResourceNotFoundError):
                return None
            raise


def tags_missing(have: dict[str, str] | None, want: dict[str, str]) -> bool:
    """Whether any wanted tag is missing or different."""
    have = have or {}
    return any(have.get(k) != v for k, v in want.items())


def rest(obj: Any) -> dict[str, Any] | None:
    """An SDK model as the REST JSON it came from (camelCase, ``properties`` kept), whatever the SDK's style."""
    if obj is None:
        return None
    if hasattr(obj, "serialize"):  # msrest-style models (azure-mgmt-authorization)
        return dict(obj.serialize(keep_readonly=True))
    return dict(obj.as_dict())


def lookup(doc: Any, path: str, default: Any = None) -> Any:
    """``doc['a']['b']`` for ``"a.b"``, ``default`` when any part is missing."""
    for part in path.split("."):
        if not isinstance(doc, dict) or part not in doc:
            return default
        doc = doc[part]
    return doc
