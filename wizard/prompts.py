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
from dataclasses import dataclass
from typing import Any, Protocol

from .answers import ALLOWED, Answers, validate
from .catalog import gpu_size
from .errors import InputError
from .flow import Wizard, region_title
from .report import money
from .session import usable


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

    def secret(self, message: str) -> str:
        """A secret, typed without echo."""


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

    def secret(self, message: str) -> str:
        """Hidden input (shown as asterisks)."""
        import questionary

        return str(questionary.password(message, validate=lambda v: bool(v.strip()) or "it is empty",
                                        **self._kw).unsafe_ask())


def choose_subscription(prompter: Prompter, subs: list[dict[str, Any]], default: str | None) -> dict[str, Any]:
    """A person picks among the usable subscriptions of the sign-in."""
    choices = usable(subs)
    if not choices:
        raise InputError("no subscription of this sign-in is usable (all disabled or past due).",
                         "enable one in the Azure portal, or sign in with another account")
    picked = prompter.choose("Subscription", [Choice(f"{s['name']} ({s['id']}, {s['state']})", s["id"])
                                              for s in choices], default)
    return next(s for s in choices if s["id"] == picked)


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


def ask_answers(prompter: Prompter, wizard: Wizard, sub: dict[str, Any], say: Callable[[str], None]) -> Answers:
    """The wizard's questions (the TUI's, one at a time), each default taken from ``wizard.answers``; every answer
    is checked by :meth:`Wizard.answer`. Returns the validated answers for ``sub``."""
    wizard.choose_subscription(sub)  # the uniq_id, and the home region when the install exists
    where = wizard.answers.region
    say(f"reading GPU size prices in {where} ...")
    sizes = [Choice(f"{o.size.name:<26} {o.facts}, " + (f"{money(o.hourly, o.currency)}/h in {where}"
                                                        if o.hourly is not None else f"no price in {where}"),
                    o.size.name) for o in wizard.sizes()]
    sku = prompter.choose("GPU size of the pool", sizes, wizard.answers.gpu_sku)
    wizard.answer(gpu_sku=sku, runner_replicas=min(wizard.answers.runner_replicas, gpu_size(sku).gpus))
    wizard.answer(gpu_nodes=int(prompter.text("GPU nodes", str(wizard.answers.gpu_nodes),
                                              _checker(wizard.answers, "gpu_nodes"))))
    say(f"reading where {sku} is offered to this subscription, and the quota headroom there ...")
    found = wizard.regions()
    if not found:
        raise InputError(f"{sku} is offered to this subscription in no region.", "run again and pick another GPU size")
    if wizard.home:
        assert wizard.uniq is not None
        say(f"install {wizard.uniq.value} lives in {wizard.home}; another region gets its own cluster and VNet, "
            "peered with it")
    default = wizard.answers.region
    wizard.answer(region=prompter.choose(
        f"Region ({wizard.vcpus_needed()} vCPUs of {found[0]['family']} quota needed, one upgrade surge node "
        "included)", [Choice(region_title(r, wizard.home), r["region"]) for r in found],
        default if any(r["region"] == default for r in found) else None))
    gpus = wizard.answers.gpu_nodes * gpu_size(sku).gpus
    wizard.answer(runner_replicas=gpus)  # one runner per GPU unless the person says otherwise
    wizard.answer(runner_replicas=int(prompter.text(f"Runner replicas (one GPU each, {gpus} in the pool)", str(gpus),
                                                    _checker(wizard.answers, "runner_replicas"))))
    wizard.answer(pull_auth=prompter.choose("How the cluster pulls the runner image", [
        Choice("pull secret studioml-go-docker-key with the service principal (the seed's way)", "secret"),
        Choice("attach the registry (the kubelet identity may read the runner repository, no secret)", "attach")],
        wizard.answers.pull_auth))
    ask_image_source(prompter, wizard)
    return wizard.answer(admin_user=prompter.confirm(
        "Enable the registry's admin user? (a shared password; the service principal is safer)",
        wizard.answers.admin_user))


def ask_image_source(prompter: Prompter, wizard: Wizard) -> Answers:
    """Where the runner image is imported from; for a Docker Hub user, the Docker ID and its access token (hidden,
    straight to the keyring). Anonymous Docker Hub is offered last: its hourly limit is shared with other Azure
    customers' imports, so quay.io is the suggestion."""
    current = wizard.image_source()
    if current == "custom":  # an image of the admin's own, from an answers file: not this question's business
        return wizard.answers
    picked = prompter.choose("Where the runner image comes from", [Choice(o.title, o.key)
                                                                  for o in wizard.image_sources()],
                             "quay" if current == "hub-anonymous" else current)
    if not next(o for o in wizard.image_sources() if o.key == picked).needs_user:
        return wizard.choose_image_source(picked)
    user = prompter.text("Docker ID", wizard.answers.source_registry_user,
                         lambda v: None if v.strip() else "type your Docker ID")
    return wizard.choose_image_source(picked, user, prompter.secret(
        f"Access token of {user.strip()} (Docker Hub > Account settings > Personal access tokens; kept in the OS "
        "keyring)"))
