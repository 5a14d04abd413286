"""The headless commands: ``plan``, ``apply``, ``status``, ``regions``, ``rotate``, ``client-config`` and
``destroy``.

Human output goes to stderr as the engine's events arrive; with ``--json`` stdout carries exactly one JSON
document. Exit codes: 0 done, 2 what the person gave or their host, 3 refused by Azure or the sign-in, 4 interrupted
(resumable), 1 only for a bug.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any, TextIO

from .actions import Action, Status
from .answers import Answers
from .catalog import gpu_size
from .engine import Engine, RunResult
from .errors import InputError, LoginError
from .events import Event, describe
from .flow import Wizard
from .logs import log, setup_log
from .plan import build_steps, observe_all, planned
from .pricing import PriceBook
from .prompts import Prompter, ask_answers, choose_subscription
from .report import costed_plan, estimate_text, money, plan_text, price_source, scale_to_zero_line
from .script import script
from .session import Session, UniqId, make_context, pick_subscription, subscription_warning
from .sizing import estimate, preflight_for
from .source import ensure_token, warnings
from .state import TenantState
from .status import region_doc, status_command
from .steps.base import Context
from .steps.facts import Facts


class Printer:
    """Shows events to a person (stderr) and logs them; events carry no secret."""

    def __init__(self, out: TextIO = sys.stderr) -> None:
        self.out = out
        self.started = time.monotonic()

    def __call__(self, event: Event) -> None:
        """Render one event."""
        t = f"[{time.monotonic() - self.started:6.1f}s]"
        text = describe(event)
        print(f"{t} {event.step:>20}: {text}", file=self.out, flush=True)
        log.info("%s %s %s", event.step, type(event).__name__, json.dumps(asdict(event)))


def _intro(ctx: Context, sub: dict[str, Any], uid: UniqId, session: Session, out: TextIO) -> None:
    print(f"cloud: {session.cloud.name} ({session.cloud.arm}), signed in as {session.login.how}", file=out)
    print(f"subscription: {sub['name']} ({sub['id']})", file=out)
    if subscription_warning(sub):
        print(f"warning: {subscription_warning(sub)}", file=out)
    print(f"uniq_id: {uid.value} ({uid.source})", file=out)
    if uid.hint:
        print(f"  {uid.hint}", file=out)
    if ctx.region != ctx.names.home_region:
        print(f"region {ctx.region} is added to install {uid.value}: its own cluster and VNet, peered with the home "
              f"VNet in {ctx.names.home_region} (registry, RabbitMQ and the file server stay there)", file=out)


def _header(ctx: Context, sub: dict[str, Any], uid: UniqId) -> dict[str, Any]:
    return {"subscription": {"id": sub["id"], "name": sub["name"]}, "tenant": ctx.tenant_id,
            "uniq_id": {"value": uid.value, "source": uid.source}, "answers": ctx.answers.as_dict()}


def plan_command(session: Session, answers: Answers, *, as_json: bool) -> int:
    """Observe everything and say what apply would do, what it costs, and the equivalent commands."""
    printer = Printer()
    ctx, sub, uid = make_context(session, answers, printer)
    if not as_json:
        _intro(ctx, sub, uid, session, sys.stderr)
    est = estimate(_book(session, answers), answers, home=ctx.names.home_region)
    preflight_for(ctx)
    plan = costed_plan(ctx, est)
    said = [w for w in [subscription_warning(sub)] if w] + warnings(answers, ctx.secrets)
    if as_json:
        doc = {**_header(ctx, sub, uid), "steps": [asdict(p) for p in plan],
               "changes": sum(p.action != Action.NONE for p in plan), "estimate": est.as_dict(), "warnings": said,
               "script": script(ctx, plan)}
        print(json.dumps(doc, indent=2))
        return 0
    print("\n".join(plan_text(plan)))
    for line in said:
        print(f"\nwarning: {line}")
    changes = [p for p in plan if p.action != Action.NONE]
    print(f"\n{len(changes)} step(s) to change, {len(plan) - len(changes)} unchanged.\n")
    print("\n".join(estimate_text(est)))
    print(scale_to_zero_line(est, answers.scale_to_zero))
    if changes:
        print("\n# The same as commands (bash; secrets come from the keyring through pipes, never the screen):")
        print("\n".join(script(ctx, plan)))
    return 0


@contextmanager
def _ctrl_c(ctx: Context) -> Iterator[None]:
    """First Ctrl-C (or SIGTERM) asks every step to stop at its next safe point; a second one aborts."""
    def stop(signum: int, _frame: Any) -> None:
        if ctx.stop.is_set():
            raise KeyboardInterrupt
        ctx.stop.set()
        print("\nstopping at the next safe point (Ctrl-C again to abort) ...", file=sys.stderr, flush=True)

    old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def apply_command(session: Session, answers: Answers, *, yes: bool, as_json: bool,
                  prompter: Prompter | None = None, debug: bool = False) -> int:
    """Converge Azure and the cluster to the answers."""
    printer = Printer()
    ctx, sub, uid = make_context(session, answers, printer)
    _intro(ctx, sub, uid, session, sys.stderr)
    with ctx.state.apply_lock(uid.value):  # one apply of an install at a time on this host
        notice = ctx.journal.resume_notice()
        if notice:
            print(f"resuming: {notice}", file=sys.stderr)
        ctx.secrets.check_usable()
        ensure_token(answers, ctx.secrets, prompter.secret if prompter else None)
        est = estimate(_book(session, answers), answers, home=ctx.names.home_region)
        preflight_for(ctx)
        hourly, monthly = est.total()
        print(f"estimated cost: {money(monthly, est.currency)} a month ({money(hourly, est.currency)} an hour); "
              f"{price_source(est)}", file=sys.stderr)
        steps = build_steps(ctx)
        if not yes:
            if prompter is None:
                raise InputError("apply needs a confirmation and no one is at the terminal.",
                                 "review `studioml-azure plan`, then run apply with --yes")
            plan = planned(observe_all(ctx, steps))
            changes = [p for p in plan if p.action != Action.NONE]
            for p in changes:
                print(f"{p.action:>7}  {p.title}" + (f": {p.detail}" if p.detail else ""), file=sys.stderr)
            if changes and not prompter.confirm(f"Apply {len(changes)} change(s)?"):
                print("nothing changed.", file=sys.stderr)
                return 0
            ctx.facts = Facts()
        with _ctrl_c(ctx):
            result = asyncio.run(Engine(steps, ctx).run())
    doc = {**_header(ctx, sub, uid), **_result_doc(ctx, result), "estimate": est.as_dict()}
    doc["regions"] = [region_doc(ctx)]
    if debug:  # the tracebacks behind failed steps
        for key, outcome in result.outcomes.items():
            if outcome.error is not None and outcome.error.__cause__ is not None:
                print(f"--- {key}:", file=sys.stderr)
                traceback.print_exception(outcome.error.__cause__, file=sys.stderr)
    print(f"\n{_summary(result)}", file=sys.stderr)
    if as_json:
        print(json.dumps(doc, indent=2))
    return result.exit_code


def _book(session: Session, answers: Answers) -> PriceBook:
    return PriceBook(session.cloud.prices, currency=answers.currency, verify=session.cloud.verify())


def _summary(result: RunResult) -> str:
    code = result.exit_code
    changed = result.changed
    if code == 0:
        return "done: " + (f"{len(changed)} step(s) changed ({', '.join(changed)})" if changed else
                           "every step unchanged")
    if code == 4:
        return "interrupted: run the same command again to resume where it stopped"
    failed = [k for k, o in result.outcomes.items() if o.status == Status.FAILED]
    lost = [k for k, o in result.outcomes.items() if isinstance(o.error, LoginError)]
    if lost:
        return (f"stopped: the sign-in was refused in {', '.join(lost)}, so every step stopped at a safe point; sign "
                "in again, then run the same command (finished steps are kept)")
    return f"failed in {', '.join(failed)}: fix the cause above and run again (finished steps are kept)"


def _result_doc(ctx: Context, result: RunResult) -> dict[str, Any]:
    return {"exit_code": result.exit_code, "steps": {
        k: {"status": o.status, "action": o.action, "detail": o.detail,
            **({"error": o.error.message, "hint": o.error.hint} if o.error else {})}
        for k, o in result.outcomes.items()}}


def regions_command(session: Session, answers: Answers, *, as_json: bool) -> int:
    """Regions where the answered GPU size is offered to the subscription: quota headroom for the pool, and what the
    install costs a month there; those that fit first, cheapest first."""
    from .ranking import ranked

    sub = pick_subscription(session, answers.subscription,
                            TenantState(session.login.tenant_id).remembered_subscriptions())
    size = gpu_size(answers.gpu_sku)
    needed = size.vcpus * (answers.gpu_nodes + 1)
    found = ranked(session.clients, _book(session, answers), sub["id"], answers)
    if as_json:
        print(json.dumps({"subscription": sub, "gpu_sku": size.name, "gpu_priority": answers.gpu_priority,
                          "vcpus_needed": needed, "regions": found}, indent=2))
        return 0
    kind = " Spot" if answers.spot else ""
    print(f"{size.name}{kind} ({size.gpus} x {size.gpu}) for {answers.gpu_nodes} node(s) + 1 upgrade surge node: "
          f"{needed} vCPUs of quota; the install's cost a month in each region, cheapest first")
    for r in found:
        print(f"  {r['region']:<16} headroom {r['headroom_vcpus']:>4} vCPUs  {money(r['monthly'], r['currency']):>16}"
              f"  {'fits' if r['fits'] else 'too little quota'}")
    if not found:
        print("  offered to this subscription in no region")
    return 0


def _ask(session: Session, answers: Answers, prompter: Prompter) -> Answers:
    """The plain prompt mode: the questions at the terminal, then the answers shown as a file to reuse."""
    sub = pick_subscription(session, answers.subscription,
                            TenantState(session.login.tenant_id).remembered_subscriptions())
    wizard = Wizard(lambda _show: session, answers=answers, session=session)
    answers = ask_answers(prompter, wizard, sub, lambda line: print(line, file=sys.stderr))
    print("# these answers as a file, for `--answers FILE` next time:\n" + answers.as_toml(), file=sys.stderr)
    return answers


def run(command: str, session_factory: Any, answers: Answers | None, *, yes: bool, as_json: bool,
        prompter: Prompter | None = None, debug: bool = False, output: Path | None = None,
        experimenters: bool = False, region: str | None = None) -> int:
    """Open the session and run ``command``. Without an answers file, a person at the terminal (``prompter``)
    answers the questions of ``plan`` and ``apply``; anyone else gets the defaults."""
    setup_log()
    session: Session = session_factory()
    if prompter is not None:
        session.choose_subscription = partial(choose_subscription, prompter)
    try:
        if answers is None:
            answers = _ask(session, Answers(), prompter) if prompter and command in ("plan", "apply") else Answers()
        if command == "plan":
            return plan_command(session, answers, as_json=as_json)
        if command == "apply":
            return apply_command(session, answers, yes=yes, as_json=as_json, prompter=prompter, debug=debug)
        if command == "regions":
            return regions_command(session, answers, as_json=as_json)
        if command == "rotate":
            from .rotate import rotate_command

            return rotate_command(session, answers, as_json=as_json, experimenters=experimenters)
        if command == "destroy":
            from .destroy import destroy_command

            return destroy_command(session, answers, region=region, yes=yes, as_json=as_json, prompter=prompter)
        if command == "client-config":
            from .clientconfig import client_config_command

            return client_config_command(session, answers, output=output, as_json=as_json)
        return status_command(session, answers, as_json=as_json)
    finally:
        if session.sandbox_dir is not None:
            print(f"the sandbox keeps serving from {session.sandbox_dir} in the background, so kubectl works with "
                  f"the kubeconfig; stop it with: studioml-azure sandbox stop --dir {session.sandbox_dir}",
                  file=sys.stderr)
