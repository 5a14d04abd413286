"""The public registries an ACR import reads from, as they answer a registry that pulls from them.

Docker Hub limits pulls per hour: unauthenticated 10 per IPv4 address (or IPv6 /64), a Personal account 100
(Docker docs, "Docker Hub usage and limits", 2025-04 table). ACR's import pulls from addresses Azure shares between
customers, so for an import the anonymous budget is as good as spent by others: the sandbox counts every anonymous
Docker Hub import of the whole sandbox against one budget per rolling hour (scaled by ``--speed``), default 10,
settable through ``POST /sandbox/upstream``. Past it the import fails with Docker Hub's own wording
(``toomanyrequests: You have reached your unauthenticated pull rate limit``), passed through as ACI passes it
(``RegistryErrorResponse``, Azure/azure-cli#29300). Credentials lift the anonymous limit: Docker Hub accepts a
user with a personal or organization access token (``dckr_pat_``/``dckr_oat_``...), refuses others
(``unauthorized: incorrect username or password``), and counts that user's pulls against 100 an hour.
quay.io has no published anonymous hourly limit; the other hosts are not limited here.
"""

from __future__ import annotations

from typing import Any

from .base import Sandbox

DOCKER_HUB = ("docker.io", "registry-1.docker.io", "index.docker.io", "registry.hub.docker.com")
ANONYMOUS_PER_HOUR, USER_PER_HOUR = 10, 100
TOKEN_PREFIXES = ("dckr_pat_", "dckr_oat_")
LIMITED = ("toomanyrequests: You have reached your unauthenticated pull rate limit. "
           "https://www.docker.com/increase-rate-limit")
USER_LIMITED = "toomanyrequests: You have reached your pull rate limit as '{user}'. https://www.docker.com/increase-rate-limit"
UNAUTHORIZED = "unauthorized: incorrect username or password"


def _state(sbx: Sandbox) -> dict[str, Any]:
    state: dict[str, Any] = sbx.store.data.setdefault("upstream", {"anonymous_per_hour": ANONYMOUS_PER_HOUR,
                                                                   "pulls": []})
    return state


def configure(sbx: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /sandbox/upstream``: ``{"anonymous_per_hour": n}`` and/or ``{"forget": true}`` (the pulls so far)."""
    state = _state(sbx)
    if "anonymous_per_hour" in body:
        state["anonymous_per_hour"] = int(body["anonymous_per_hour"])
    if body.get("forget"):
        state["pulls"] = []
    sbx.store.save()
    return {k: v for k, v in state.items() if k != "pulls"} | {"pulls_this_hour": len(_recent(sbx))}


def _recent(sbx: Sandbox) -> list[dict[str, Any]]:
    state = _state(sbx)
    since = sbx.now() - sbx.scaled(3600)
    state["pulls"] = [p for p in state["pulls"] if p["at"] >= since]
    return list(state["pulls"])


def pull(sbx: Sandbox, host: str, credentials: dict[str, Any] | None) -> dict[str, str] | None:
    """Count one pull of an import from ``host``; the error the import ends with, or ``None``."""
    if host not in DOCKER_HUB:
        return None
    user = str((credentials or {}).get("username") or "")
    token = str((credentials or {}).get("password") or "")
    if credentials and not (user and token.startswith(TOKEN_PREFIXES) and len(token) >= 24):
        return {"code": "RegistryErrorResponse", "message": "An error response is received from the docker "
                f"registry 'registry-1.docker.io': {UNAUTHORIZED}"}
    recent = _recent(sbx)
    mine = [p for p in recent if p["user"] == user]
    limit = USER_PER_HOUR if user else int(_state(sbx)["anonymous_per_hour"])
    if len(mine) >= limit:
        words = USER_LIMITED.format(user=user) if user else LIMITED
        return {"code": "RegistryErrorResponse", "message": "An error response is received from the docker "
                f"registry 'registry-1.docker.io': {words}"}
    _state(sbx)["pulls"].append({"at": sbx.now(), "user": user})
    return None
