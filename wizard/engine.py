"""Run a plan: steps start as soon as what they need is done, so independent work overlaps (registry, identity,
network, VMs and the AKS cluster); each step observes, applies only what differs, and verifies. Transient
failures are retried (honouring Retry-After), final ones stop the step and what depends on it. Every start
and finish is journaled, and Ctrl-C stops cleanly; a re-run resumes, because observe decides."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from .actions import Action, Status
from .errors import InterruptedRun, LimitReached, LoginError, TransientError, WizardError
from .events import Event, StepDone, StepFailed, StepRetrying, StepSkipped, StepStarted
from .steps.base import NONE, Context, Step

MAX_ATTEMPTS = 6


@dataclass
class Outcome:
    """How one step ended."""

    status: Status
    action: Action | str = ""
    detail: str = ""
    error: WizardError | None = None


@dataclass
class RunResult:
    """How a run ended."""

    outcomes: dict[str, Outcome] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 done, 2 bad input, 3 refused by Azure, 4 interrupted, 1 anything else."""
        codes = [o.error.exit_code for o in self.outcomes.values() if o.error is not None]
        if not codes and all(o.status == Status.DONE for o in self.outcomes.values()):
            return 0
        for code in (3, 2, 4):  # a refusal needs a person; an interruption only a re-run
            if code in codes:
                return code
        return 1 if codes else 4

    @property
    def changed(self) -> list[str]:
        """Steps that created or updated something."""
        return [k for k, o in self.outcomes.items() if o.status == Status.DONE and o.action != NONE]


class Engine:
    """Runs steps concurrently along their dependencies."""

    def __init__(self, steps: list[Step], ctx: Context, *, backoff: Callable[[int], float] | None = None) -> None:
        self.steps = {s.key: s for s in steps}
        self.ctx = ctx
        self.backoff = backoff or (lambda attempt: min(30.0, 2.0 ** attempt) * (0.5 + random.random() / 2))
        self.lock = threading.Lock()
        for step in steps:
            missing = [n for n in step.needs if n not in self.steps]
            if missing:
                raise ValueError(f"step {step.key} needs unknown steps {missing}")

    def _emit(self, event: Event) -> None:
        with self.lock:
            self.ctx.emit(event)

    async def run(self) -> RunResult:
        """Run every step; returns when all have ended."""
        result = RunResult({k: Outcome(Status.NOT_RUN) for k in self.steps})
        done: dict[str, asyncio.Event] = {k: asyncio.Event() for k in self.steps}

        async def one(key: str) -> None:
            step = self.steps[key]
            try:
                for need in step.needs:
                    await done[need].wait()
                failed = [n for n in step.needs if result.outcomes[n].status != Status.DONE]
                if failed:
                    result.outcomes[key] = Outcome(Status.SKIPPED, detail=f"needs {', '.join(failed)}")
                    self._emit(StepSkipped(key, f"waiting on {', '.join(failed)}, which did not finish"))
                    return
                result.outcomes[key] = await self._attempts(step)
            finally:
                done[key].set()

        await asyncio.gather(*(one(k) for k in self.steps))
        return result

    async def _attempts(self, step: Step) -> Outcome:
        ctx = self.ctx
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                ctx.check_stop()
                self._emit(StepStarted(step.key, step.title))
                ctx.journal.record(step.key, "started", attempt=attempt)
                obs = await asyncio.to_thread(step.observe, ctx)
                if obs.action != NONE:
                    await asyncio.to_thread(step.apply, ctx, obs)
                await asyncio.to_thread(step.verify, ctx)
                ctx.facts.done.add(step.key)
                ctx.journal.record(step.key, "done", action=obs.action)
                self._emit(StepDone(step.key, obs.action, obs.detail))
                return Outcome(Status.DONE, obs.action, obs.detail)
            except TransientError as err:
                if attempt == MAX_ATTEMPTS or ctx.stop.is_set() or isinstance(err, LimitReached):
                    return self._failed(step, err if not ctx.stop.is_set() else InterruptedRun(
                        "stopped while retrying.", "run the same command again to resume"))
                delay = err.retry_after if err.retry_after is not None else self.backoff(attempt)
                self._emit(StepRetrying(step.key, err.message, delay, attempt))
                try:
                    await asyncio.to_thread(ctx.sleep, delay)
                except InterruptedRun as stop:
                    return self._failed(step, stop)
            except LoginError as err:  # the sign-in is gone: every other step stops at its next safe point
                ctx.stop.set()
                return self._failed(step, err)
            except WizardError as err:
                return self._failed(step, err)
            except Exception as err:  # a bug: report it like any failure, the CLI shows it with --debug
                wrapped = WizardError(f"{step.title}: unexpected {type(err).__name__}: {err}",
                                      "run again with --debug and report it")
                wrapped.__cause__ = err
                return self._failed(step, wrapped)
        raise AssertionError("unreachable")

    def _failed(self, step: Step, err: WizardError) -> Outcome:
        self.ctx.journal.record(step.key, "failed", message=err.message, code=err.exit_code)
        self._emit(StepFailed(step.key, err.message, err.hint, err.exit_code))
        return Outcome(Status.FAILED, error=err)
