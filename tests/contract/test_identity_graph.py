"""Entra ID authority (azure-identity's credentials) and Microsoft Graph (through azure-core)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jsonschema
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.core.pipeline import Pipeline
from azure.core.pipeline.policies import BearerTokenCredentialPolicy, RetryPolicy
from azure.core.pipeline.transport import RequestsTransport
from azure.core.rest import HttpRequest
from azure.identity import ClientSecretCredential, DeviceCodeCredential

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
ARM_SCOPE = "https://management.azure.com/.default"
# Shapes from azure-specs/graph/README.md (recorded Graph traffic).
APPLICATION = {"type": "object", "required": ["@odata.context", "id", "appId", "displayName", "passwordCredentials"],
               "properties": {"id": {"type": "string"}, "appId": {"type": "string"},
                              "passwordCredentials": {"type": "array"}}}
PASSWORD = {"type": "object", "required": ["@odata.context", "keyId", "secretText", "hint", "endDateTime"],
            "properties": {"secretText": {"type": "string"}, "hint": {"type": "string", "maxLength": 3}}}
SERVICE_PRINCIPAL = {"type": "object", "required": ["@odata.context", "id", "appId", "servicePrincipalType",
                                                    "servicePrincipalNames", "accountEnabled"]}
COLLECTION = {"type": "object", "required": ["@odata.context", "value"],
              "properties": {"value": {"type": "array"}}}
ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["code", "message", "innerError"]}}}


class Graph:
    """Graph v1.0 over an azure-core pipeline, the way the wizard's adapter calls it."""

    def __init__(self, info: dict[str, Any], credential: Any) -> None:
        self.base = info["graph"] + "/v1.0"
        self.pipeline = Pipeline(RequestsTransport(connection_verify=info["ca_bundle"]), policies=[
            RetryPolicy(), BearerTokenCredentialPolicy(credential, GRAPH_SCOPE)])

    def call(self, method: str, path: str, json: Any = None, params: dict[str, str] | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
        req = HttpRequest(method, self.base + path, json=json, params=params, headers=headers)
        resp = self.pipeline.run(req).http_response
        body = resp.json() if resp.text() else None
        assert resp.headers.get("odata-version") == "4.0"
        return resp.status_code, body, dict(resp.headers)


def _cred(info: dict[str, Any], client_id: str, secret: str) -> ClientSecretCredential:
    return ClientSecretCredential(info["tenant_id"], client_id, secret, authority=info["authority"],
                                  disable_instance_discovery=True, connection_verify=info["ca_bundle"])


def test_client_secret_credential(sandbox: Any, credential: Any) -> None:
    token = credential.get_token(ARM_SCOPE)
    assert token.token.count(".") == 2 and token.expires_on > time.time() + 3000
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        _cred(sandbox.info, sandbox.info["client_id"], "wrong").get_token(ARM_SCOPE)


def test_device_code_credential(sandbox: Any) -> None:
    info = sandbox.info
    prompts: list[tuple[str, str]] = []
    cred = DeviceCodeCredential(tenant_id=info["tenant_id"], authority=info["authority"],
                                disable_instance_discovery=True, connection_verify=info["ca_bundle"],
                                prompt_callback=lambda uri, code, exp: prompts.append((uri, code)), timeout=60)
    token = cred.get_token(ARM_SCOPE)
    assert prompts and prompts[0][0] == f"{info['authority']}/devicelogin" and len(prompts[0][1]) == 9
    assert token.token
    # the refresh token serves another audience without a second sign-in
    assert cred.get_token(GRAPH_SCOPE).token != token.token
    assert len(prompts) == 1


def test_device_code_pending_until_approved(slow_sandbox: Any) -> None:
    import requests

    info = slow_sandbox.info
    base, ca = info["authority"] + "/" + info["tenant_id"], info["ca_bundle"]
    flow = requests.post(f"{base}/oauth2/v2.0/devicecode", data={"client_id": "c", "scope": ARM_SCOPE},
                         verify=ca, timeout=10).json()
    grant = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "client_id": "c",
             "device_code": flow["device_code"]}
    pending = requests.post(f"{base}/oauth2/v2.0/token", data=grant, verify=ca, timeout=10)
    assert pending.status_code == 400 and pending.json()["error"] == "authorization_pending"
    ok = requests.post(f"{info['authority']}/devicelogin", data={"code": flow["user_code"]}, verify=ca, timeout=10)
    assert ok.status_code == 200
    token = requests.post(f"{base}/oauth2/v2.0/token", data=grant, verify=ca, timeout=10).json()
    assert {"access_token", "refresh_token", "id_token", "client_info"} <= set(token)


def test_graph_application_lifecycle(slow_sandbox: Any) -> None:
    info = slow_sandbox.info
    graph = Graph(info, _cred(info, info["client_id"], info["client_secret"]))
    name = f"registry-acr-principal-{uuid.uuid4().hex[:8]}"
    status, app, headers = graph.call("POST", "/applications", {"displayName": name, "tags": ["studioml"]})
    assert status == 201 and "Location" in headers
    jsonschema.validate(app, APPLICATION)
    # directory replication: a filter does not see the new object yet, a GET by id does
    status, found, _ = graph.call("GET", "/applications", params={"$filter": f"appId eq '{app['appId']}'"})
    jsonschema.validate(found, COLLECTION)
    assert found["value"] == []
    assert graph.call("GET", f"/applications/{app['id']}")[1]["appId"] == app["appId"]
    # nor does the principal endpoint: a service principal for it is refused until it replicates
    status, early, _ = graph.call("POST", "/servicePrincipals", {"appId": app["appId"], "accountEnabled": True})
    assert status == 400 and early["error"]["code"] == "Request_BadRequest"
    jsonschema.validate(early, ERROR)
    deadline = time.time() + 30
    new_sp = {"appId": app["appId"], "accountEnabled": True}
    while (answer := graph.call("POST", "/servicePrincipals", new_sp))[0] == 400:
        assert time.time() < deadline
        time.sleep(0.5)
    status, sp, _ = answer
    assert status == 201
    jsonschema.validate(sp, SERVICE_PRINCIPAL)
    status, dup, _ = graph.call("POST", "/servicePrincipals", {"appId": app["appId"]})
    assert status == 409
    jsonschema.validate(dup, ERROR)
    status, pw, _ = graph.call("POST", f"/applications/{app['id']}/addPassword",
                               {"passwordCredential": {"displayName": "studioml"}})
    assert status == 200
    jsonschema.validate(pw, PASSWORD)
    assert pw["hint"] == pw["secretText"][:3]
    listed = graph.call("GET", f"/applications/{app['id']}")[1]["passwordCredentials"]
    assert listed[0]["keyId"] == pw["keyId"] and listed[0]["secretText"] is None
    # the new principal cannot sign in before it replicates, then can
    with pytest.raises(ClientAuthenticationError, match="AADSTS700016"):
        _cred(info, app["appId"], pw["secretText"]).get_token(ARM_SCOPE)
    deadline = time.time() + 30
    while not graph.call("GET", "/servicePrincipals", params={"$filter": f"appId eq '{app['appId']}'"})[1]["value"]:
        assert time.time() < deadline
        time.sleep(0.5)
    assert _cred(info, app["appId"], pw["secretText"]).get_token(ARM_SCOPE).token
    assert graph.call("POST", f"/applications/{app['id']}/removePassword", {"keyId": pw["keyId"]})[0] == 204
    with pytest.raises(ClientAuthenticationError):
        _cred(info, app["appId"], pw["secretText"]).get_token("https://graph.microsoft.com/.default")
    assert graph.call("DELETE", f"/applications/{app['id']}")[0] == 204
    status, gone, _ = graph.call("GET", f"/applications/{app['id']}")
    assert status == 404 and gone["error"]["code"] == "Request_ResourceNotFound"
    jsonschema.validate(gone, ERROR)
    status, anon, _ = Graph(info, _NoCred()).call("GET", "/applications")
    assert status == 401


class _NoCred:
    def get_token(self, *scopes: str, **kw: Any) -> Any:
        from azure.core.credentials import AccessToken
        return AccessToken("x.y.z", int(time.time()) + 3600)


def test_graph_upsert_and_alternate_keys(slow_sandbox: Any) -> None:
    """Learn, "Upsert application": PATCH by uniqueName makes the application once (201), updates it after (204),
    and without ``Prefer: create-if-missing`` is an update that finds nothing (404). Reads by an alternate key see
    a new object at once, where a $filter does not."""
    info = slow_sandbox.info
    graph = Graph(info, _cred(info, info["client_id"], info["client_secret"]))
    key = f"/applications(uniqueName='studioml-{uuid.uuid4().hex[:8]}')"
    upsert = {"Prefer": "create-if-missing"}
    status, missing, _ = graph.call("PATCH", key, {"displayName": "x"})
    assert status == 404 and missing["error"]["code"] == "Request_ResourceNotFound"
    status, app, _ = graph.call("PATCH", key, {"displayName": "first"}, headers=upsert)
    assert status == 201
    jsonschema.validate(app, APPLICATION)
    assert graph.call("PATCH", key, {"displayName": "second"}, headers=upsert)[0] == 204
    status, read, _ = graph.call("GET", key)
    assert status == 200 and read["id"] == app["id"] and read["displayName"] == "second"
    listed = graph.call("GET", "/applications", params={"$filter": "displayName eq 'second'"})[1]["value"]
    assert listed == []  # not replicated yet
    while graph.call("POST", "/servicePrincipals", {"appId": app["appId"]})[0] == 400:
        time.sleep(0.5)
    status, sp, _ = graph.call("GET", f"/servicePrincipals(appId='{app['appId']}')")
    assert status == 200 and sp["appId"] == app["appId"]
    jsonschema.validate(sp, SERVICE_PRINCIPAL)
    assert graph.call("DELETE", f"/applications/{app['id']}")[0] == 204
    assert graph.call("GET", key)[0] == 404
    assert graph.call("GET", f"/servicePrincipals(appId='{app['appId']}')")[0] == 404
