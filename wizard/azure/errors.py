"""Turn Azure SDK exceptions into the wizard's exception tree: transient (retried), refused (final), other."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from ..errors import LimitReached, LoginError, RefusedError, TransientError, WizardError

TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}
TRANSIENT_CODES = {"PrincipalNotFound", "RetryableError", "TooManyRequests", "InternalServerError",
                   "ServiceUnavailable", "OperationPreempted", "AnotherOperationInProgress",
                   "OperationNotAllowed_InProgress"}
QUOTA_CODES = {"QuotaExceeded", "ErrCode_InsufficientVCPUQuota", "InsufficientVCPUQuota",
               "ErrCode_InsufficientVCPUQuotaForSpot"}
# OperationNotAllowed is a quota refusal from Compute ("exceeding approved ... Cores quota"), and from AKS a write
# while another operation runs on the cluster: that one is waited out, not a reason to raise a quota.
BUSY_WORDS = ("in progress", "another operation", "is not allowed while", "being created", "being deleted",
              "being updated", "please wait")
# Azure's words for "no capacity for that size there now" (Azure/AKS#1272: "Allocation failed. We do not have
# sufficient capacity for the requested VM size in this region ... AllocationFailed"; AKS's AKSCapacityError)
CAPACITY_CODES = {"AllocationFailed", "ZonalAllocationFailed", "OverconstrainedAllocationRequest",
                  "OverconstrainedZonalAllocationRequest", "AKSCapacityError"}
REFUSED_CODES = {*CAPACITY_CODES, "AuthorizationFailed", "RequestDisallowedByPolicy", "NotAvailableForSubscription",
                 "SkuNotAvailable", "MissingSubscriptionRegistration", "AlreadyInUse", "Authorization_RequestDenied",
                 "LinkedAuthorizationFailed", "SubscriptionNotFound", "ReadOnlyDisabledSubscription",
                 "K8sVersionNotSupported", "ImageNotFound", *QUOTA_CODES}


def error_code(err: HttpResponseError) -> str:
    """ARM's or Graph's error code of an SDK error."""
    code = getattr(getattr(err, "error", None), "code", None)
    if code:
        return str(code)
    try:
        response: Any = err.response
        body = response.json() if response is not None else {}
    except Exception:  # a non-JSON body
        return ""
    inner = body.get("error", body) if isinstance(body, dict) else {}
    return str(inner.get("code", "")) if isinstance(inner, dict) else ""


def _message(err: HttpResponseError) -> str:
    msg = getattr(getattr(err, "error", None), "message", None) or err.message or str(err)
    return str(msg).split("\n")[0].removeprefix("(").strip()


def retry_after(err: HttpResponseError) -> float | None:
    """The server's Retry-After (seconds) or retry-after-ms, if it sent one."""
    response: Any = err.response
    headers = response.headers if response is not None else {}
    for name, scale in (("retry-after-ms", 0.001), ("x-ms-retry-after-ms", 0.001), ("Retry-After", 1.0)):
        value = headers.get(name)
        if value:
            try:
                return float(value) * scale
            except ValueError:
                continue
    return None


def classify(err: Exception, what: str) -> WizardError:
    """The wizard error for an SDK exception raised while doing ``what``."""
    if isinstance(err, WizardError):
        return err
    if isinstance(err, ClientAuthenticationError):
        return LoginError(f"{what}: the sign-in was refused ({str(err.message).splitlines()[0]})",
                          "sign in again (az login, or a valid AZURE_CLIENT_SECRET for a service principal: a revoked "
                          "or expired secret is replaced with `az ad app credential reset`), then run the same "
                          "command: finished steps are kept")
    if isinstance(err, (ServiceRequestError, ServiceResponseError)):
        return TransientError(f"{what}: the connection failed ({type(err).__name__}).",
                              "check the network; the run resumes where it stopped")
    if isinstance(err, HttpResponseError):
        code, status = error_code(err), err.status_code or 0
        text = f"{what}: {code or status}: {_message(err)}"
        if "toomanyrequests:" in _message(err).lower():  # a source registry's pull limit (Docker's words), hourly
            return LimitReached(text, "the image's source registry limits pulls; run again later, or with "
                                "credentials for it", retry_after(err))
        busy = code in ("OperationNotAllowed", "Conflict", "AnotherOperationInProgress") and any(
            w in _message(err).lower() for w in BUSY_WORDS)
        if status in TRANSIENT_STATUS or code in TRANSIENT_CODES or busy:
            return TransientError(text, "Azure asked to retry later: run the same command again to resume"
                                  if not busy else "Azure is still busy with it: the run waits and tries again",
                                  retry_after(err))
        if code in QUOTA_CODES or code == "OperationNotAllowed" and "quota" in _message(err).lower():
            return RefusedError(text, "raise the quota (portal: Quotas > Compute) or choose a smaller size", code)
        if status == 403 or code in REFUSED_CODES:
            return RefusedError(text, "ask a subscription Owner for the permission, or change the answer", code)
        if 400 <= status < 500:  # any other refusal: Azure said no to this request
            return RefusedError(text, "see Azure's message above; fix what it names, then run again", code)
        return WizardError(text, "see the message; run with --debug for details")
    return WizardError(f"{what}: {type(err).__name__}: {err}", "run with --debug for details")


@contextmanager
def azure_call(what: str) -> Iterator[None]:
    """Re-raise SDK exceptions inside the block as wizard errors described as ``what`` (one the client guard
    classified with a plain description is described again)."""
    try:
        yield
    except WizardError as err:
        cause = err.__cause__
        if getattr(err, "generic", False) and isinstance(cause, Exception):
            raise classify(cause, what) from cause
        raise
    except Exception as err:  # every SDK failure becomes a classified wizard error
        raise classify(err, what) from err
