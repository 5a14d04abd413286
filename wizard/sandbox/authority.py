"""The sandbox's Microsoft Entra ID authority: OIDC discovery, client credentials, device code.

Shapes follow the Microsoft identity platform v2.0 endpoints that MSAL (under azure-identity)
calls: ``/{tenant}/v2.0/.well-known/openid-configuration``, ``/{tenant}/oauth2/v2.0/token`` and
``/{tenant}/oauth2/v2.0/devicecode``. Device codes approve themselves after a delay (the
simulated person signing in), or at once through ``POST /devicelogin``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from typing import Any

from aiohttp import web

from .arm.base import Sandbox
from .crypto import b64url
from .store import admin_secret

DEVICE_CODE_LIFETIME = 900
TOKEN_LIFETIME = 3599


def secret_hash(secret: str) -> str:
    """How the sandbox keeps client secrets: only a hash."""
    return hashlib.sha256(("studioml-sandbox:" + secret).encode()).hexdigest()


def _sbx(request: web.Request) -> Sandbox:
    return request.app["sandbox"]  # type: ignore[no-any-return]


def _tenant_ok(sbx: Sandbox, tenant: str) -> bool:
    meta = sbx.store.meta
    return tenant.lower() in (meta["tenant_id"], meta["tenant_domain"], "organizations", "common")


def _aad_error(status: int, error: str, code: int, description: str) -> web.Response:
    body = {"error": error, "error_description": f"AADSTS{code}: {description}", "error_codes": [code],
            "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()), "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4())}
    return web.json_response(body, status=status)


async def openid_configuration(request: web.Request) -> web.Response:
    """GET /{tenant}/v2.0/.well-known/openid-configuration."""
    sbx = _sbx(request)
    tenant = request.match_info["tenant"]
    if not _tenant_ok(sbx, tenant):
        return _aad_error(400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found.")
    tid = sbx.store.meta["tenant_id"]
    base = f"{sbx.base_url}/{tenant}"
    return web.json_response({
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"{base}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{sbx.base_url}/{tid}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{sbx.base_url}/oidc/userinfo",
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "tid", "oid", "name",
                             "preferred_username"],
        "tenant_region_scope": "NA",
        "cloud_instance_name": "sandbox.local",
    })


async def keys(request: web.Request) -> web.Response:
    """GET /{tenant}/discovery/v2.0/keys."""
    return web.json_response(_sbx(request).pki.jwks())


def _resource_of(scope: str) -> str:
    first = next((s for s in scope.split() if s not in ("openid", "profile", "offline_access")), "")
    return first.removesuffix("/.default").removesuffix("/user_impersonation") or first


def _access_token(sbx: Sandbox, *, resource: str, oid: str, appid: str, extra: dict[str, Any] | None = None
                  ) -> dict[str, Any]:
    now = int(time.time())
    tid = sbx.store.meta["tenant_id"]
    lifetime = int(sbx.store.meta.get("token_lifetime") or TOKEN_LIFETIME)  # set through /sandbox/identity
    claims = {"aud": resource, "iss": f"{sbx.base_url}/{tid}/v2.0", "iat": now, "nbf": now,
              "exp": now + lifetime, "tid": tid, "oid": oid, "sub": oid, "appid": appid,
              "ver": "1.0", "uti": b64url(secrets.token_bytes(12)), **(extra or {})}
    return {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
            "access_token": sbx.pki.sign_jwt(claims)}


def _client_credentials(sbx: Sandbox, form: dict[str, str]) -> web.Response:
    client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    data = sbx.store.data
    sp = next((s for s in data["service_principals"].values() if s["appId"] == client_id), None)
    tid = data["meta"]["tenant_id"]
    if sp is None or sbx.now() < sp.get("_visible_at", 0):
        return _aad_error(400, "unauthorized_client", 700016, f"Application with identifier '{client_id}' was not "
                          f"found in the directory '{tid}'. This can happen if the application has not been "
                          "installed by the administrator of the tenant or consented to by any user in the tenant.")
    valid = False
    if client_id in data["meta"].get("revoked_apps", []):
        valid = False
    elif client_id == data["meta"]["admin_client_id"]:
        valid = secrets.compare_digest(secret, admin_secret(sbx.store.directory))
    else:
        h = secret_hash(secret)
        valid = any(s["hash"] == h and s["appId"] == client_id and s["end"] > time.time()
                    for s in data["app_secrets"].values())
    if not valid:
        return _aad_error(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being "
                          f"sent in the request is the client secret value, not the client secret ID, for a secret "
                          f"added to app '{client_id}'.")
    resource = _resource_of(form.get("scope", ""))
    return web.json_response(_access_token(sbx, resource=resource, oid=sp["id"], appid=client_id,
                                           extra={"idtyp": "app"}))


def _user_tokens(sbx: Sandbox, client_id: str, scope: str) -> dict[str, Any]:
    meta = sbx.store.meta
    oid, tid = meta["admin_object_id"], meta["tenant_id"]
    body = _access_token(sbx, resource=_resource_of(scope), oid=oid, appid=client_id,
                         extra={"upn": meta["admin_user"], "name": "Sandbox Admin"})
    refresh = "rt." + secrets.token_urlsafe(48)
    sbx.store.data["refresh_tokens"][hashlib.sha256(refresh.encode()).hexdigest()] = {
        "client_id": client_id, "exp": time.time() + 90 * 86400}
    now = int(time.time())
    id_token = sbx.pki.sign_jwt({"aud": client_id, "iss": f"{sbx.base_url}/{tid}/v2.0", "iat": now, "nbf": now,
                                 "exp": now + TOKEN_LIFETIME, "tid": tid, "oid": oid, "sub": oid,
                                 "preferred_username": meta["admin_user"], "name": "Sandbox Admin", "ver": "2.0"})
    body.update({"scope": scope, "refresh_token": refresh, "id_token": id_token,
                 "client_info": b64url(json.dumps({"uid": oid, "utid": tid}).encode())})
    sbx.store.save()
    return body


async def token(request: web.Request) -> web.Response:
    """POST /{tenant}/oauth2/v2.0/token: client_credentials, device_code and refresh_token grants."""
    sbx = _sbx(request)
    if not _tenant_ok(sbx, request.match_info["tenant"]):
        return _aad_error(400, "invalid_tenant", 90002, "Tenant not found.")
    form = {k: str(v) for k, v in (await request.post()).items()}
    grant = form.get("grant_type", "")
    if grant == "client_credentials":
        return _client_credentials(sbx, form)
    if grant in ("urn:ietf:params:oauth:grant-type:device_code", "device_code"):
        code = sbx.store.data["device_codes"].get(hashlib.sha256(form.get("device_code", "").encode()).hexdigest())
        if code is None or time.time() > code["expires"]:
            return _aad_error(400, "expired_token", 70020, "The provided value for the input parameter "
                              "'device_code' is not valid or has expired.")
        if time.time() < code["approve_at"] and not code.get("approved"):
            return _aad_error(400, "authorization_pending", 70016, "OAuth 2.0 device flow error. Authorization "
                              "is pending. Continue polling.")
        del sbx.store.data["device_codes"][hashlib.sha256(form["device_code"].encode()).hexdigest()]
        return web.json_response(_user_tokens(sbx, form.get("client_id", ""), code["scope"]))
    if grant == "refresh_token":
        key = hashlib.sha256(form.get("refresh_token", "").encode()).hexdigest()
        entry = sbx.store.data["refresh_tokens"].pop(key, None)
        if entry is None or entry["exp"] < time.time():
            return _aad_error(400, "invalid_grant", 700082, "The refresh token has expired or is invalid.")
        return web.json_response(_user_tokens(sbx, form.get("client_id", entry["client_id"]), form.get("scope", "")))
    return _aad_error(400, "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant}'.")


async def device_code(request: web.Request) -> web.Response:
    """POST /{tenant}/oauth2/v2.0/devicecode."""
    sbx = _sbx(request)
    form = {k: str(v) for k, v in (await request.post()).items()}
    code = "dc." + secrets.token_urlsafe(40)
    user_code = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(9))
    sbx.store.data["device_codes"][hashlib.sha256(code.encode()).hexdigest()] = {
        "user_code": user_code, "scope": form.get("scope", ""), "client_id": form.get("client_id", ""),
        "approve_at": time.time() + sbx.device_approve_seconds, "expires": time.time() + DEVICE_CODE_LIFETIME}
    sbx.store.save()
    uri = f"{sbx.base_url}/devicelogin"
    return web.json_response({
        "user_code": user_code, "device_code": code, "verification_uri": uri, "expires_in": DEVICE_CODE_LIFETIME,
        "interval": 1, "message": f"To sign in, use a web browser to open the page {uri} and enter the code "
                                  f"{user_code} to authenticate."})


async def device_login(request: web.Request) -> web.Response:
    """GET shows the sign-in page; POST ``code=XXXX`` approves that device code at once."""
    sbx = _sbx(request)
    if request.method == "POST":
        user_code = str((await request.post()).get("code", "")).strip().upper()
        for entry in sbx.store.data["device_codes"].values():
            if entry["user_code"] == user_code:
                entry["approved"] = True
                sbx.store.save()
                return web.Response(text="Signed in to the studioml-azure sandbox. You can close this page.\n")
        return web.Response(status=400, text="That code is not valid or has expired.\n")
    return web.Response(content_type="text/html", text=(
        "<html><body><h1>studioml-azure sandbox sign-in</h1><form method='post'>"
        "<input name='code' placeholder='code'/><button>Sign in</button></form></body></html>"))
