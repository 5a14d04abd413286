"""One error boundary: whatever an SDK call raises, wherever (the call, the first request of a long-running
operation, a poller, a pager), reaches the wizard classified, with AKS's own codes read as AKS means them."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError

from wizard.azure.errors import azure_call, classify
from wizard.azure.guard import guarded
from wizard.errors import RefusedError, TransientError, WizardError
from wizard.steps.base import Context


def _err(status: int, code: str, message: str) -> HttpResponseError:
    err = HttpResponseError(message=f"({code}) {message}")
    err.status_code = status
    err.error = SimpleNamespace(code=code, message=message)  # type: ignore[assignment]
    return err


FORBIDDEN = _err(403, "AuthorizationFailed", "The client does not have authorization to perform action.")
AKS_QUOTA = _err(400, "ErrCode_InsufficientVCPUQuota", "Insufficient regional vcpu quota left for location eastus. "
                 "left regional vcpu quota 4, requested quota 12.")
AKS_BUSY = _err(409, "OperationNotAllowed", "Operation is not allowed: Another operation (Updating) is in progress, "
                "please wait for it to finish before starting a new operation.")
VM_QUOTA = _err(409, "OperationNotAllowed", "Operation could not be completed as it results in exceeding approved "
                "standardNCASv3_T4Family Cores quota.")


class _Operations:
    def begin_create_or_update(self, *_a: Any) -> Any:
        raise FORBIDDEN

    def list(self) -> Any:
        class Paged:
            def by_page(self) -> Any:
                return iter(())

            def __iter__(self) -> Any:
                yield "first"
                raise AKS_BUSY
        return Paged()


class _Client:
    managed_clusters = _Operations()


def test_a_starter_that_raises_is_classified_at_the_boundary() -> None:
    client = guarded(_Client())
    with pytest.raises(RefusedError) as plain:
        client.managed_clusters.begin_create_or_update("rg", "name", {})
    assert plain.value.exit_code == 3 and "managed_clusters.begin_create_or_update" in plain.value.message
    ctx = Context(None, None, None, "", "", None, None, None, lambda _e: None,  # type: ignore[arg-type]
                  stop=threading.Event())
    with pytest.raises(RefusedError) as described:  # ctx.wait names what was being done
        ctx.wait("cluster", lambda: client.managed_clusters.begin_create_or_update("rg", "name", {}),
                 "creating AKS cluster x")
    assert described.value.message.startswith("creating AKS cluster x: AuthorizationFailed")
    items = []
    with pytest.raises(TransientError):  # a page fetched while iterating fails inside the boundary too
        for item in client.managed_clusters.list():
            items.append(item)
    assert items == ["first"]


@pytest.mark.parametrize(("err", "kind", "hint"), [
    (AKS_QUOTA, RefusedError, "raise the quota"),
    (VM_QUOTA, RefusedError, "raise the quota"),
    (AKS_BUSY, TransientError, "still busy"),
    (FORBIDDEN, RefusedError, "Owner"),
    (_err(400, "BadRequest", "A new agent pool was introduced."), RefusedError, "fix what it names"),
    (_err(503, "ServiceUnavailable", "later"), TransientError, "retry later"),
])
def test_azure_codes_are_read_as_azure_means_them(err: HttpResponseError, kind: type[WizardError],
                                                 hint: str) -> None:
    got = classify(err, "doing it")
    assert type(got) is kind and hint in got.hint, (got.message, got.hint)


def test_an_enclosing_description_wins_over_the_plain_one() -> None:
    client = guarded(_Client())
    with pytest.raises(RefusedError) as err, azure_call("reading the cluster"):
        client.managed_clusters.begin_create_or_update()
    assert err.value.message.startswith("reading the cluster: AuthorizationFailed")
