"""The plain prompt mode: the wizard's questions asked at a terminal (questionary), for a person who runs
``plan`` or ``apply`` without an answers file.

Prompts are drawn on stderr, so ``--json`` keeps stdout one JSON document. Every answer goes through
:func:`wizard.answers.validate`, so a bad value gets the same message as in an answers file or the TUI;
the choices come from Azure (subscriptions, regions offering the size with their quota headroom) and
from the catalogue and the price book.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from .answers import ALLOWED, Answers, validate
from .catalog import gpu_size
from .errors import InputError
from .flow import size_options
from .pricing import PriceBook
from .report import money
from .session import Session, home_region, resolve_uniq_id
from .sizing import regions_for
from .state import TenantState


@dataclass(frozen=True)
class Choice:
    """One entry of a choice list: what a person reads and the value it stands for."""

    title: str
    value: str


class Prompter(Protocol):
    """Asks a person; the terminal implementation is :class:`TerminalPrompter`."""

    def choose(self, message: str, choices: Sequence[Choice], default: str | None = None) -> str:
        """One of ``choices``' values."""

    def confirm(self, message: str, default: bool = False) -> bool:
        """Yes or no."""

    def text(self, message: str, default: str, check: Callable[[str], str | None]) -> str:
        """Free text; ``check`` returns what is wrong with a value (shown, and asked again), or ``None``."""


class TerminalPrompter:
    """questionary prompts on stderr; Ctrl-C raises :class:`KeyboardInterrupt` (nothing has changed yet)."""

    def __init__(self) -> None:
        from prompt_toolkit.output import create_output

        self._kw: dict[str, Any] = {"output": create_output(stdout=sys.stderr)}

    def choose(self, message: str, choices: Sequence[Choice], default: str | None = None) -> str:
        """An arrow-key list."""
        import questionary

        items = [questionary.Choice(c.title, value=c.value) for c in choices]
        return str(questionary.select(message, choices=items, default=next(
            (i for i in items if i.value == default), None), **self._kw).unsafe_ask())

    def confirm(self, message: str, default: bool = False) -> bool:
        """y/n."""
        import questionary

        return bool(questionary.confirm(message, default=default, **self._kw).unsafe_ask())

    def text(self, message: str, default: str, check: Callable[[str], str | None]) -> str:
        """A line, checked as it is typed."""
        import questionary

        return str(questionary.text(message, default=default, validate=lambda v: check(v) or True,
                                    **self._kw).unsafe_ask())


def choose_subscription(prompter: Prompter, subs: list[dict[str, Any]], default: str | None) -> dict[str, Any]:
    """A person picks among the usable subscriptions of the sign-in."""
    usable = [s for s in subs if s["state"] not in ("Disabled", "Deleted", "PastDue")]
    if not usable:
        raise InputError("no subscription of this sign-in is usable (all disabled or past due).",
                         "enable one in the Azure portal, or sign in with another account")
    picked = prompter.choose("Subscription", [Choice(f"{s['name']} ({s['id']}, {s['state']})", s["id"])
                                              for s in usable], default)
    return next(s for s in usable if s["id"] == picked)


def _checker(base: Answers, key: str) -> Callable[[str], str | None]:
    """What is wrong with a whole-number answer for ``key``, in :func:`validate`'s words."""
    def check(value: str) -> str | None:
        try:
            validate({**base.as_dict(), key: int(value.strip())})
        except ValueError:
            return f"{key} must be {ALLOWED[key]}"
        except InputError as err:
            return f"{err.message} {err.hint or ''}".strip()
        return None
    return check


def ask_answers(prompter: Prompter, session: Session, sub: dict[str, Any], base: Answers, book: PriceBook,
                say: Callable[[str], None]) -> Answers:
    """The wizard's questions, each default taken from ``base``; returns validated answers for ``sub``."""
    answers = replace(base, subscription=sub["id"])
    uid = resolve_uniq_id(session, answers, sub["id"], TenantState(session.login.tenant_id))
    home = home_region(session, sub["id"], uid.value, replace(answers, region=""))
    where = home or answers.region
    say(f"reading GPU size prices in {where} ...")
    sizes = [Choice(f"{o.size.name:<26} {o.facts}, " + (f"{money(o.hourly, o.currency)}/h in {where}"
                                                        if o.hourly is not None else f"no price in {where}"),
                    o.size.name) for o in size_options(book, where)]
    answers = replace(answers, gpu_sku=prompter.choose("GPU size of the pool", sizes, answers.gpu_sku))
    answers = replace(answers, gpu_nodes=int(prompter.text(
        "GPU nodes", str(answers.gpu_nodes), _checker(answers, "gpu_nodes"))))
    size = gpu_size(answers.gpu_sku)
    needed = size.vcpus * (answers.gpu_nodes + 1)
    say(f"reading where {size.name} is offered to this subscription, and the quota headroom there ...")
    found = regions_for(session.clients, sub["id"], size.name, needed)
    if not found:
        raise InputError(f"{size.name} is offered to this subscription in no region.",
                         "run again and pick another GPU size")
    if home:
        say(f"install {uid.value} lives in {home}; another region gets its own cluster and VNet, peered with it")
    default = home or answers.region
    answers = replace(answers, region=prompter.choose(
        f"Region ({needed} vCPUs of {found[0]['family']} quota needed, one upgrade surge node included)",
        [Choice(f"{r['region']:<16} headroom {r['headroom_vcpus']:>4} vCPUs"
                + (" (home)" if r["region"] == home else "")
                + ("" if r["fits"] else "  (too little quota: apply will say how to raise it)"), r["region"])
         for r in found], default if any(r["region"] == default for r in found) else None))
    gpus = answers.gpu_nodes * size.gpus
    answers = replace(answers, runner_replicas=gpus)  # one runner per GPU unless the person says otherwise
    answers = replace(answers, runner_replicas=int(prompter.text(
        f"Runner replicas (one GPU each, {gpus} in the pool)", str(answers.runner_replicas),
        _checker(answers, "runner_replicas"))))
    answers = replace(answers, pull_auth=prompter.choose("How the cluster pulls the runner image", [
        Choice("pull secret studioml-go-docker-key with the service principal (the seed's way)", "secret"),
        Choice("attach the registry (AcrPull for the cluster's kubelet identity, no secret)", "attach")],
        answers.pull_auth))
    answers = replace(answers, admin_user=prompter.confirm(
        "Enable the registry's admin user? (a shared password; the service principal is safer)",
        answers.admin_user))
    return validate(answers.as_dict())
