"""Every SDK call through one boundary: a client handed out by :class:`~wizard.azure.clients.Clients` is wrapped so
that whatever it raises, in a call, the first request of a long-running operation, a poller's wait or a pager's
iteration, reaches the wizard already classified (:func:`~wizard.azure.errors.classify`).

A call made inside :func:`~wizard.azure.errors.azure_call` gets that block's description (``reading cluster x``);
one made without gets a plain one (``Azure: managed_clusters.get``), so nothing can surface as an unexpected SDK
exception, and nothing SDK-specific leaks past the adapters.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .errors import classify


def _is_poller(value: Any) -> bool:
    return all(hasattr(value, name) for name in ("result", "done", "wait", "status"))


def _is_pager(value: Any) -> bool:
    return hasattr(value, "by_page") and hasattr(value, "__iter__")


def _classified(err: Exception, what: str) -> Exception:
    out = classify(err, f"Azure: {what}")
    out.generic = True  # type: ignore[attr-defined]  # an enclosing azure_call may describe it better
    out.__cause__ = err
    return out


class Guarded:
    """An SDK client, operation group, poller or pager whose every call raises only wizard errors."""

    def __init__(self, target: Any, what: str) -> None:
        self._target, self._what = target, what

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        what = f"{self._what}.{name}" if self._what else name
        if not callable(attr):
            return Guarded(attr, what) if not isinstance(attr, (str, int, float, bool, type(None))) else attr

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                out = attr(*args, **kwargs)
            except Exception as err:  # the boundary: every SDK failure becomes a classified wizard error
                raise _classified(err, what) from err
            if _is_poller(out):
                return Guarded(out, what)
            if _is_pager(out):
                return Pager(out, what)
            return out

        return call

    def __repr__(self) -> str:
        return f"Guarded({self._target!r})"


class Pager:
    """A paged listing whose iteration (each page is a request) raises only wizard errors."""

    def __init__(self, pager: Any, what: str) -> None:
        self._pager, self._what = pager, what

    def __iter__(self) -> Iterator[Any]:
        it = iter(self._pager)
        while True:
            try:
                item = next(it)
            except StopIteration:
                return
            except Exception as err:
                raise _classified(err, self._what) from err
            yield item


def guarded(client: Any, what: str = "") -> Any:
    """``client`` behind the boundary."""
    return Guarded(client, what)
