"""What a step can do and how it can end: the words plans, runs, events and adapters share."""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    """What a step's observation says its apply would do."""

    CREATE = "create"
    UPDATE = "update"
    NONE = "none"


class Status(StrEnum):
    """How a step ended in a run."""

    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"  # a step it needs did not finish
    NOT_RUN = "not-run"  # the run stopped before it
