"""Typed events the engine emits; the TUI, the plain CLI and ``--json`` all follow the same stream."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    """Base of every engine event."""

    step: str


@dataclass(frozen=True)
class StepStarted(Event):
    """A step began observing."""

    title: str


@dataclass(frozen=True)
class StepProgress(Event):
    """Something a person may want to watch (an LRO's elapsed time, replicas ready)."""

    message: str


@dataclass(frozen=True)
class StepDone(Event):
    """A step finished: ``action`` is what it did (create, update or none)."""

    action: str
    detail: str


@dataclass(frozen=True)
class StepRetrying(Event):
    """A transient failure; the step runs again after ``delay`` seconds."""

    message: str
    delay: float
    attempt: int


@dataclass(frozen=True)
class StepFailed(Event):
    """A step failed for good (or was interrupted)."""

    message: str
    hint: str
    exit_code: int


@dataclass(frozen=True)
class StepSkipped(Event):
    """A step did not run because something it needs failed."""

    reason: str


@dataclass(frozen=True)
class Warning(Event):  # noqa: A001 - a domain name, scoped to this module
    """Something a person should know that does not stop the run."""

    message: str


def describe(event: Event) -> str:
    """The event in a few words, as the CLI and the TUI show it (events carry no secret)."""
    if isinstance(event, StepStarted):
        return f"{event.title} ..."
    if isinstance(event, StepProgress):
        return f"  {event.message}"
    if isinstance(event, StepDone):
        return ("unchanged" if event.action == "none" else event.action + "d") + (
            f" ({event.detail})" if event.detail else "")
    if isinstance(event, StepRetrying):
        return f"retrying in {event.delay:.1f}s (attempt {event.attempt}): {event.message}"
    if isinstance(event, StepFailed):
        return (f"{'not finished' if event.exit_code == 4 else 'FAILED'}: {event.message}"
                + (f"\n    next: {event.hint}" if event.hint else ""))
    if isinstance(event, StepSkipped):
        return f"skipped: {event.reason}"
    if isinstance(event, Warning):
        return f"warning: {event.message}"
    return type(event).__name__
