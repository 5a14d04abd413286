"""The one exception tree of the wizard.

Every error the core raises is a :class:`WizardError`: a message that says what is wrong and a ``hint`` that
says what to do next. The UI and the CLI show both, never a traceback (``--debug`` shows one). The
subclass decides the exit code of the headless commands.
"""

from __future__ import annotations


class WizardError(Exception):
    """Base of every error the wizard reports to a person."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  next: {self.hint}" if self.hint else self.message


class InputError(WizardError):
    """A bad answer, answers file or command-line value (exit code 2)."""

    exit_code = 2


class RefusedError(WizardError):
    """Azure refused for a final reason: quota, permission, policy, invalid name (exit code 3)."""

    exit_code = 3

    def __init__(self, message: str, hint: str = "", code: str = "") -> None:
        super().__init__(message, hint)
        self.code = code


class TransientError(WizardError):
    """Azure said try again (throttling, 5xx, replication delay, lost connection); the engine retries it, and when
    the retries run out the run ends as interrupted: running it again resumes (exit code 4)."""

    exit_code = 4

    def __init__(self, message: str, hint: str = "", retry_after: float | None = None) -> None:
        super().__init__(message, hint)
        self.retry_after = retry_after


class LimitReached(TransientError):
    """A limit that lasts longer than a run waits (Docker Hub's pulls an hour): not retried now; running again
    later, or after the fix the hint names, resumes (exit code 4)."""


class InterruptedRun(WizardError):
    """The run was stopped (Ctrl-C, lost network); it resumes when run again (exit code 4)."""

    exit_code = 4


class LoginError(WizardError):
    """The sign-in was refused or no credential could be obtained (exit code 3: signing in again is the fix). Raised
    mid-run (a client secret revoked, an account disabled) it stops the other steps at their next safe point: they
    would only go on with a token that is about to be refused too."""

    exit_code = 3


class SecretStoreError(WizardError):
    """The OS keyring could not store or return a secret (the host's setup: exit code 2)."""

    exit_code = 2


class LocalError(WizardError):
    """This host refused a file the wizard writes: a full disk, a folder that is not writable (exit code 2)."""

    exit_code = 2
