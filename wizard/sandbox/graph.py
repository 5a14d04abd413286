"""The sandbox's Microsoft Graph v1.0: applications, service principals and password credentials.

Shapes per ``azure-specs/graph/README.md``: OData envelopes, ``@odata.context``, Location headers,
the OData error envelope with ``innerError``. New objects become visible to ``$filter`` queries only
after a replication delay, as directory objects do; reads by id or by an alternate key do not lag.
Applications can be upserted by their ``uniqueName`` alternate key (Learn, "Upsert application":
``PATCH /applications(uniqueName='...')`` with ``Prefer: create-if-missing`` answers 201 with the new object,
204 when it existed and was updated, 404 when it is missing and the header was not sent).
"""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .arm.base import Sandbox
from .authority import secret_hash
from .store import iso

CT = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
META = "https://graph.microsoft.com/v1.0/$metadata"
REPLICATION_SECONDS = 8.0
GRAPH_AUDIENCES = ("https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000")


class GraphError(Exception):
    """A Graph OData error."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}

    def response(self) -> web.Response:
        """As an aiohttp response."""
        rid = str(uuid.uuid4())
        body = {"error": {"code": self.code, "message": self.message, "innerError": {
            "date": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()), "request-id": rid, "client-request-id": rid}}}
        return _json(body, self.status, self.headers)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    hdrs = {"request-id": str(uuid.uuid4()), "odata-version": "4.0", **(headers or {})}
    return web.Response(status=status, text=json.dumps(body), headers={**hdrs, "Content-Type": CT})


def _empty() -> web.Response:
    return web.Response(status=204, headers={"request-id": str(uuid.uuid4()), "odata-version": "4.0"})


def _public(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if not k.startswith("_")}


FILTERS: list[tuple[re.Pattern[str], Callable[[dict[str, Any], str], bool]]] = [
    (re.compile(r"^appId eq '([^']*)'$"), lambda o, v: o.get("appId") == v),
    (re.compile(r"^displayName eq '([^']*)'$"), lambda o, v: o.get("displayName") == v),
    (re.compile(r"^startswith\(displayName,\s*'([^']*)'\)$"), lambda o, v: o.get("displayName", "").startswith(v)),
    (re.compile(r"^servicePrincipalNames/any\(c:c eq '([^']*)'\)$"),
     lambda o, v: v in o.get("servicePrincipalNames", [])),
    (re.compile(r"^tags/any\(t:t eq '([^']*)'\)$"), lambda o, v: v in o.get("tags", [])),
]


def _filtered(sbx: Sandbox, objs: list[dict[str, Any]], flt: str) -> list[dict[str, Any]]:
    visible = [o for o in objs if sbx.now() >= o.get("_visible_at", 0)]
    if not flt:
        return visible
    for pattern, test in FILTERS:
        m = pattern.match(flt.strip())
        if m:
            return [o for o in visible if test(o, m.group(1))]
    raise GraphError(400, "Request_UnsupportedQuery", f"Unsupported or invalid query filter clause specified: {flt}")


async def handle(request: web.Request) -> web.StreamResponse:
    """Entry point for ``/graph/v1.0/...``."""
    sbx: Sandbox = request.app["sandbox"]
    try:
        header = request.headers.get("Authorization", "")
        claims = sbx.pki.verify_jwt(header.partition(" ")[2]) if header.lower().startswith("bearer ") else None
        if claims is None:
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty." if not header else
                             "Access token validation failure. Invalid audience.")
        aud = str(claims.get("aud", "")).rstrip("/")
        if not (aud.startswith(GRAPH_AUDIENCES) or aud.startswith(sbx.base_url + "/graph")):
            raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
        parts = [p for p in request.path.split("/") if p][1:]
        if not parts or parts[0] != "v1.0":
            raise GraphError(400, "BadRequest", "Invalid version: only v1.0 is served.")
        body = await request.json() if request.can_read_body else None
        keyed = UNIQUE_NAME.match(parts[1]) if len(parts) > 1 else None
        if keyed:
            return by_unique_name(sbx, request.method, keyed.group(1), body,
                                  "create-if-missing" in request.headers.get("Prefer", ""))
        sp_key = SP_APP_ID.match(parts[1]) if len(parts) == 2 else None
        if sp_key and request.method == "GET":
            return sp_by_app_id(sbx, sp_key.group(1))
        return route(sbx, request.method, parts[1:], body, dict(request.query))
    except GraphError as err:
        return err.response()
    except ValueError:
        return GraphError(400, "BadRequest", "Unable to read JSON request payload.").response()


UNIQUE_NAME = re.compile(r"^applications\(uniqueName='([^']+)'\)$")


SP_APP_ID = re.compile(r"^servicePrincipals\(appId='([^']+)'\)$")


def sp_by_app_id(sbx: Sandbox, app_id: str) -> web.Response:
    """``GET /servicePrincipals(appId='...')``: the appId alternate key."""
    sp = next((s for s in sbx.store.data["service_principals"].values() if s["appId"] == app_id), None)
    if sp is None:
        raise GraphError(404, "Request_ResourceNotFound", f"Resource with appId '{app_id}' does not exist or one "
                         "of its queried reference-property objects are not present.")
    return _json({"@odata.context": f"{META}#servicePrincipals/$entity", **_public(sp)})


def by_unique_name(sbx: Sandbox, method: str, name: str, body: Any, create: bool) -> web.Response:
    """``/applications(uniqueName='name')``: GET, and PATCH as an upsert when ``Prefer: create-if-missing``."""
    apps = sbx.store.data["applications"]
    app = next((a for a in apps.values() if a.get("uniqueName") == name), None)
    if method == "GET" and app is not None:
        return _json({"@odata.context": f"{META}#applications/$entity", **_public(app)})
    if method == "PATCH" and isinstance(body, dict):
        if app is None and create:
            return create_application(sbx, {**body, "uniqueName": name})
        if app is not None:
            return route(sbx, "PATCH", ["applications", app["id"]], body, {})
    if method not in ("GET", "PATCH"):
        raise GraphError(405, "Request_BadRequest", f"{method} is not supported with an alternate key.")
    raise GraphError(404, "Request_ResourceNotFound", f"Resource with uniqueName '{name}' does not exist or one of "
                     "its queried reference-property objects are not present.")


def route(sbx: Sandbox, method: str, parts: list[str], body: Any, query: dict[str, str]) -> web.Response:
    """Dispatch on the collection and id."""
    data = sbx.store.data
    if not parts or parts[0] not in ("applications", "servicePrincipals"):
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{parts[0] if parts else ''}'.")
    coll_name = parts[0]
    coll: dict[str, dict[str, Any]] = data["applications" if coll_name == "applications" else "service_principals"]
    if len(parts) == 1:
        if method == "GET":
            items = _filtered(sbx, list(coll.values()), query.get("$filter", ""))
            return _json({"@odata.context": f"{META}#{coll_name}", "value": [_public(o) for o in items]})
        if method == "POST":
            return create_application(sbx, body) if coll_name == "applications" else create_sp(sbx, body)
        raise GraphError(405, "Request_BadRequest", f"{method} is not supported on {coll_name}.")
    obj = coll.get(parts[1])
    if obj is None:
        raise GraphError(404, "Request_ResourceNotFound", f"Resource '{parts[1]}' does not exist or one of its "
                         "queried reference-property objects are not present.")
    if len(parts) == 2:
        if method == "GET":
            return _json({"@odata.context": f"{META}#{coll_name}/$entity", **_public(obj)})
        if method == "DELETE":
            del coll[parts[1]]
            if coll_name == "applications":
                for sp_id in [k for k, s in data["service_principals"].items() if s["appId"] == obj["appId"]]:
                    del data["service_principals"][sp_id]
                for kid in [k for k, s in data["app_secrets"].items() if s["appId"] == obj["appId"]]:
                    del data["app_secrets"][kid]
            sbx.store.save()
            return _empty()
        if method == "PATCH" and isinstance(body, dict):
            for key in ("displayName", "tags", "notes", "description"):
                if key in body:
                    obj[key] = body[key]
            sbx.store.save()
            return _empty()
    if len(parts) == 3 and coll_name == "applications" and method == "POST" and sbx.now() < obj.get("_visible_at", 0):
        # Right after it is made, an application is not yet on the replica an action reaches (recorded: addPassword
        # answers 404 for the first seconds)
        raise GraphError(404, "Request_ResourceNotFound", f"Resource '{parts[1]}' does not exist or one of its "
                         "queried reference-property objects are not present.")
    if len(parts) == 3 and coll_name == "applications" and method == "POST":
        if parts[2] == "addPassword":
            return add_password(sbx, obj, body or {})
        if parts[2] == "removePassword":
            return remove_password(sbx, obj, body or {})
    raise GraphError(400, "BadRequest", f"Unsupported request {method} /{'/'.join(parts)}.")


def create_application(sbx: Sandbox, body: Any) -> web.Response:
    """POST /applications."""
    if not isinstance(body, dict) or not body.get("displayName"):
        raise GraphError(400, "Request_BadRequest", "A value is required for property 'displayName' of resource "
                         "'Application'.")
    if body.get("uniqueName") and any(a.get("uniqueName") == body["uniqueName"]
                                       for a in sbx.store.data["applications"].values()):
        raise GraphError(409, "Request_MultipleObjectsWithSameKeyValue", "Another object with the same value for "
                         "property uniqueName already exists.")
    now = sbx.now()
    app = {"id": str(uuid.uuid4()), "appId": str(uuid.uuid4()), "displayName": body["displayName"],
           "uniqueName": body.get("uniqueName"), "createdDateTime": iso(now)[:19] + "Z",
           "signInAudience": body.get("signInAudience") or
           "AzureADandPersonalMicrosoftAccount", "publisherDomain": sbx.store.meta["tenant_domain"],
           "identifierUris": body.get("identifierUris") or [], "tags": body.get("tags") or [],
           "notes": body.get("notes"), "passwordCredentials": [], "keyCredentials": [],
           "api": {"requestedAccessTokenVersion": None, "oauth2PermissionScopes": []},
           "web": {"redirectUris": [], "homePageUrl": None}, "spa": {"redirectUris": []},
           "_visible_at": now + sbx.scaled(REPLICATION_SECONDS)}
    sbx.store.data["applications"][app["id"]] = app
    sbx.store.save()
    return _json({"@odata.context": f"{META}#applications/$entity", **_public(app)}, 201, {
        "Location": f"https://graph.microsoft.com/v2/{sbx.store.meta['tenant_id']}/directoryObjects/{app['id']}"
                    "/Microsoft.DirectoryServices.Application"})


def create_sp(sbx: Sandbox, body: Any) -> web.Response:
    """POST /servicePrincipals."""
    data = sbx.store.data
    app_id = body.get("appId") if isinstance(body, dict) else None
    app = next((a for a in data["applications"].values() if a["appId"] == app_id), None)
    if app is None or sbx.now() < app.get("_visible_at", 0):  # not replicated yet: Graph says it does not exist
        raise GraphError(400, "Request_BadRequest", f"The appId '{app_id}' of the service principal does not "
                         "reference a valid application object.")
    if any(s["appId"] == app_id for s in data["service_principals"].values()):
        raise GraphError(409, "Request_MultipleObjectsWithSameKeyValue", "Another object with the same value for "
                         "property servicePrincipalNames already exists.")
    now = sbx.now()
    sp = {"id": str(uuid.uuid4()), "appId": app_id, "appDisplayName": app["displayName"],
          "displayName": app["displayName"], "accountEnabled": body.get("accountEnabled", True),
          "servicePrincipalType": "Application", "servicePrincipalNames": [app_id],
          "appOwnerOrganizationId": sbx.store.meta["tenant_id"], "tags": body.get("tags") or [],
          "passwordCredentials": [], "keyCredentials": [], "_visible_at": now + sbx.scaled(REPLICATION_SECONDS)}
    data["service_principals"][sp["id"]] = sp
    sbx.store.save()
    return _json({"@odata.context": f"{META}#servicePrincipals/$entity", **_public(sp)}, 201, {
        "Location": f"https://graph.microsoft.com/v2/{sbx.store.meta['tenant_id']}/directoryObjects/{sp['id']}"
                    "/Microsoft.DirectoryServices.ServicePrincipal"})


def add_password(sbx: Sandbox, app: dict[str, Any], body: dict[str, Any]) -> web.Response:
    """POST /applications/{id}/addPassword: the secret text is returned here only."""
    cred = body.get("passwordCredential") or {}
    now = time.time()
    start = cred.get("startDateTime") or iso(now)[:19] + "Z"
    end = cred.get("endDateTime") or iso(now + 2 * 365 * 86400)[:19] + "Z"
    end_ts = time.mktime(time.strptime(end[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    secret = secrets.token_urlsafe(30).replace("-", "~")[:40]
    entry = {"customKeyIdentifier": None, "displayName": cred.get("displayName"), "endDateTime": end,
             "hint": secret[:3], "keyId": str(uuid.uuid4()), "secretText": None, "startDateTime": start}
    app["passwordCredentials"].append(entry)
    sbx.store.data["app_secrets"][entry["keyId"]] = {"appId": app["appId"], "hash": secret_hash(secret), "end": end_ts}
    sbx.store.save()
    return _json({"@odata.context": f"{META}#microsoft.graph.passwordCredential", **entry, "secretText": secret})


def remove_password(sbx: Sandbox, app: dict[str, Any], body: dict[str, Any]) -> web.Response:
    """POST /applications/{id}/removePassword."""
    key_id = body.get("keyId")
    before = len(app["passwordCredentials"])
    app["passwordCredentials"] = [c for c in app["passwordCredentials"] if c["keyId"] != key_id]
    if len(app["passwordCredentials"]) == before:
        raise GraphError(404, "Request_ResourceNotFound", f"No password credential found with keyId {key_id}.")
    sbx.store.data["app_secrets"].pop(key_id, None)
    sbx.store.save()
    return _empty()
