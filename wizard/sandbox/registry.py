"""A minimal container-registry data plane: the tags of images imported into a sandbox registry.

Served under ``/_registry/{loginServer}/v2/...`` (the Docker Registry HTTP API v2 paths
``/v2/``, ``/v2/_catalog`` and ``/v2/{repository}/tags/list``). Credentials are checked as ACR checks
them: the admin user (only while enabled), a service principal with a pull role on the registry,
or an ARM bearer token of the tenant admin.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from aiohttp import web

from .arm.authz import effective
from .arm.base import Sandbox
from .authority import secret_hash

# Which roles let a principal pull depends on the registry's role assignment mode ("Azure ABAC repository
# permissions in Azure Container Registry", Learn): in the legacy mode AcrPull, AcrPush and the owner roles; in the
# ABAC-enabled mode only the repository roles (AcrPull and AcrPush are not honoured there), each limited to the
# repositories its condition names.
PULL_ROLES = {"7f951dda-4ed3-4680-a7ca-43fe172d538d", "8311e382-0749-4cb8-b61a-304f252e45ec",
              "b24988ac-6180-42a0-ab88-20f7382dd24c", "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"}
ABAC_PULL_ROLES = {"b93aa761-3e63-49ed-ac28-beffa264f7ac"}
REPO_CONDITION = re.compile(r"repositories:name\]\s+StringEqualsIgnoreCase\s+'([^']+)'", re.IGNORECASE)


def grants_pull(sbx: Sandbox, reg: dict[str, Any], assignment: dict[str, Any], repo: str | None) -> bool:
    """Whether an assignment lets its principal pull ``repo`` (None: any repository) from the registry now."""
    props = assignment["properties"]
    if not reg["id"].lower().startswith(props["scope"].lower()) or not effective(sbx, assignment):
        return False
    role = props["roleDefinitionId"].rsplit("/", 1)[-1]
    if reg["body"]["properties"].get("roleAssignmentMode") == "AbacRepositoryPermissions":
        if role not in ABAC_PULL_ROLES:
            return False
        allowed = REPO_CONDITION.findall(props.get("condition") or "")
        return not allowed or repo is None or repo.lower() in (a.lower() for a in allowed)
    return role in PULL_ROLES


def _registry(sbx: Sandbox, host: str) -> dict[str, Any] | None:
    for rec in list(sbx.store.resources.values()):
        if rec["type"] == "Microsoft.ContainerRegistry/registries" and \
                rec["body"]["properties"]["loginServer"] == host.lower():
            return sbx.get_resource(rec["id"])
    return None


def can_pull(sbx: Sandbox, host: str, username: str, password: str, repo: str | None = None) -> bool:
    """Whether these basic-auth credentials may pull ``repo`` (any, when None) from the registry at ``host``."""
    reg = _registry(sbx, host)
    if reg is None:
        return False
    if username == reg["body"]["name"]:
        return bool(reg["body"]["properties"].get("adminUserEnabled")) and password in reg.get("admin_passwords", [])
    data = sbx.store.data
    if not any(s["appId"] == username and s["hash"] == secret_hash(password) for s in data["app_secrets"].values()):
        return False
    sp = next((s for s in data["service_principals"].values() if s["appId"] == username), None)
    if sp is None:
        return False
    return any(a["properties"]["principalId"] == sp["id"] and grants_pull(sbx, reg, a, repo)
               for a in data.get("role_assignments", {}).values())


def _authorized(sbx: Sandbox, host: str, header: str, repo: str | None) -> bool:
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            user, _, pw = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return False
        return can_pull(sbx, host, user, pw, repo)
    if scheme.lower() == "bearer":
        claims = sbx.pki.verify_jwt(value)
        return claims is not None and claims.get("oid") == sbx.store.meta["admin_object_id"]
    return False


def _error(status: int, code: str, message: str, host: str) -> web.Response:
    headers = {"Docker-Distribution-Api-Version": "registry/2.0"}
    if status == 401:
        headers["WWW-Authenticate"] = f'Basic realm="{host}"'
    return web.json_response({"errors": [{"code": code, "message": message, "detail": None}]}, status=status,
                             headers=headers)


async def handle(request: web.Request) -> web.Response:
    """Dispatch ``/_registry/{host}/v2/...``."""
    sbx: Sandbox = request.app["sandbox"]
    host = request.match_info["host"].lower()
    tail = request.match_info["tail"].strip("/")
    if _registry(sbx, host) is None:
        return _error(404, "NAME_UNKNOWN", f"registry {host} does not exist", host)
    repo = tail[3:-len("/tags/list")] if tail.startswith("v2/") and tail.endswith("/tags/list") else None
    if not _authorized(sbx, host, request.headers.get("Authorization", ""), repo):
        return _error(401, "UNAUTHORIZED", "authentication required", host)
    repos = {r: {t: v for t, v in tags.items() if v["available_at"] <= sbx.now()}
             for r, tags in sbx.store.data["registry_tags"].get(host, {}).items()}
    repos = {r: t for r, t in repos.items() if t}
    headers = {"Docker-Distribution-Api-Version": "registry/2.0"}
    if tail == "v2":
        return web.json_response({}, headers=headers)
    if tail == "v2/_catalog":
        return web.json_response({"repositories": sorted(repos)}, headers=headers)
    if tail.startswith("v2/") and tail.endswith("/tags/list"):
        repo = tail[3:-len("/tags/list")]
        if repo not in repos:
            return _error(404, "NAME_UNKNOWN", f"repository name not known to registry: {repo}", host)
        return web.json_response({"name": repo, "tags": sorted(repos[repo])}, headers=headers)
    return _error(404, "NOT_FOUND", "not found", host)
