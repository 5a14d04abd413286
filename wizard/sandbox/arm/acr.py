"""Microsoft.ContainerRegistry in the sandbox: registries, name checks, credentials, image import."""

from __future__ import annotations

import re
import secrets
from typing import Any

from aiohttp import web

from .base import ArmError, Sandbox, json_response, not_found, now_iso
from .provider import Call, Ref, ResourceType, base_body
from .upstream import pull

NAMESPACE = "Microsoft.ContainerRegistry"
NAME_RE = re.compile(r"^[a-zA-Z0-9]{5,50}$")
SKUS = ("Basic", "Standard", "Premium")
# Names held by other Azure customers: a sandbox registry cannot take them.
FOREIGN_NAMES = {"leafai", "studioml", "myregistry", "registry", "contoso", "leafaitaken", "leafaideadbeef"}
# Public images the sandbox can import: registry host -> repositories.
PUBLIC_IMAGES = {
    "docker.io": {"leafai/studio-go-runner", "library/rabbitmq", "minio/minio", "library/hello-world"},
    "registry.hub.docker.com": {"leafai/studio-go-runner", "library/rabbitmq", "minio/minio",
                                "library/hello-world"},
    "quay.io": {"leafai/studio-go-runner"},
    "nvcr.io": {"nvidia/k8s-device-plugin"},
    "mcr.microsoft.com": {"azuredocs/aks-helloworld"},
}
# Resources with a public FQDN may not use trademarked or reserved words (Learn, "Resolve errors for reserved
# resource names"): these as the whole name, MICROSOFT and WINDOWS anywhere in it, LOGIN at its start.
RESERVED_WHOLE = {"access", "azure", "bing", "bizspark", "biztalk", "cortana", "directx", "dotnet", "dynamics",
                  "excel", "exchange", "forefront", "groove", "hololens", "hyperv", "kinect", "lync", "msdn", "o365",
                  "office", "office365", "onedrive", "onenote", "outlook", "powerpoint", "sharepoint", "skype", "visio",
                  "visualstudio", "xbox"}
RESERVED_ANYWHERE, RESERVED_START = ("microsoft", "windows"), "login"
CREATE_SECONDS, UPDATE_SECONDS, DELETE_SECONDS, IMPORT_SECONDS = 30.0, 10.0, 20.0, 25.0
ROLE_MODES = ("LegacyRegistryPermissions", "AbacRepositoryPermissions")


def login_server(name: str) -> str:
    """The registry's login server host name."""
    return f"{name.lower()}.azurecr.io"


def name_taken(sbx: Sandbox, name: str, except_id: str | None = None) -> bool:
    """Registry names are global across all subscriptions (and other customers)."""
    if name.lower() in FOREIGN_NAMES:
        return True
    for key, rec in sbx.store.resources.items():
        if rec["type"].lower() == "microsoft.containerregistry/registries" and \
                rec["body"]["name"].lower() == name.lower() and key != (except_id or "").lower():
            return True
    return False


def reserved(name: str) -> bool:
    """Whether ``name`` is or holds a reserved word."""
    low = name.lower()
    return low in RESERVED_WHOLE or any(w in low for w in RESERVED_ANYWHERE) or low.startswith(RESERVED_START)


def reserved_message(name: str) -> str:
    """ARM's words for a reserved name."""
    return f"The resource name '{name}' or a part of the name is a trademarked or reserved word."


def check_name(call: Call) -> web.Response:
    """POST checkNameAvailability."""
    body = call.json_body()
    name, rtype = body.get("name"), body.get("type")
    if not isinstance(name, str) or rtype != "Microsoft.ContainerRegistry/registries":
        raise ArmError(400, "InvalidRequestContent",
                       "The request must carry 'name' and 'type' = 'Microsoft.ContainerRegistry/registries'.")
    if not NAME_RE.match(name):
        return json_response({"nameAvailable": False, "reason": "Invalid",
                              "message": "The specified resource name must be 5 to 50 alphanumeric characters."})
    if reserved(name):
        return json_response({"nameAvailable": False, "reason": "Invalid", "message": reserved_message(name)})
    if name_taken(call.sbx, name):
        return json_response({"nameAvailable": False, "reason": "AlreadyExists",
                              "message": f"The registry {name} is already in use."})
    # newer api-versions also name the login server the registry would get (RegistryNameStatus,
    # availableLoginServerName); older clients ignore the extra property
    return json_response({"nameAvailable": True, "availableLoginServerName": login_server(name)})


class Registries(ResourceType):
    """Microsoft.ContainerRegistry/registries."""

    namespace = NAMESPACE
    types = ("registries",)
    create_seconds, update_seconds, delete_seconds = CREATE_SECONDS, UPDATE_SECONDS, DELETE_SECONDS

    def actions(self) -> dict[str, Any]:
        """listCredentials, regenerateCredential, importImage."""
        return {"listcredentials": self.list_credentials, "regeneratecredential": self.regenerate,
                "importimage": self.import_image}

    def build(self, call: Call, ref: Ref, body: dict[str, Any], existing: dict[str, Any] | None
              ) -> dict[str, Any]:
        """Validate name and SKU; fill the read-only properties the RP sets."""
        if not NAME_RE.match(ref.name):
            raise ArmError(400, "InvalidParameter", "Registry names may contain only alpha numeric "
                           "characters and must be between 5 and 50 characters.", target="registryName")
        if existing is None and reserved(ref.name):
            raise ArmError(400, "ReservedResourceName", reserved_message(ref.name), target="registryName")
        if existing is None and name_taken(call.sbx, ref.name, ref.id):
            raise ArmError(409, "AlreadyInUse", f"The registry {ref.name} is already in use.",
                           target="registryName")
        sku = (body.get("sku") or {}).get("name")
        if sku not in SKUS:
            raise ArmError(400, "InvalidSku", f"The SKU '{sku}' is not valid. Allowed: {', '.join(SKUS)}.",
                           target="sku.name")
        out = base_body(ref, body, existing)
        out["sku"] = {"name": sku, "tier": sku}
        props = out["properties"]
        old = (existing or {}).get("body", {}).get("properties", {})
        props["loginServer"] = login_server(ref.name)
        props["creationDate"] = old.get("creationDate") or now_iso()
        props.setdefault("adminUserEnabled", False)
        props.setdefault("networkRuleSet", {"defaultAction": "Allow", "ipRules": []})
        props.setdefault("policies", {
            "quarantinePolicy": {"status": "disabled"}, "trustPolicy": {"type": "Notary", "status": "disabled"},
            "retentionPolicy": {"days": 7, "status": "disabled"}, "exportPolicy": {"status": "enabled"}})
        props.setdefault("encryption", {"status": "disabled"})
        props.setdefault("dataEndpointEnabled", False)
        props["dataEndpointHostNames"] = []
        props["privateEndpointConnections"] = []
        props.setdefault("publicNetworkAccess", "Enabled")
        props.setdefault("networkRuleBypassOptions", "AzureServices")
        props.setdefault("zoneRedundancy", "Disabled")
        props.setdefault("anonymousPullEnabled", False)
        mode = props.get("roleAssignmentMode") or (old.get("roleAssignmentMode") or "LegacyRegistryPermissions")
        if mode not in ROLE_MODES:
            raise ArmError(400, "InvalidParameter", f"roleAssignmentMode '{mode}' is not one of "
                           f"{', '.join(ROLE_MODES)}.", target="properties.roleAssignmentMode")
        props["roleAssignmentMode"] = mode  # the spec's default: LegacyRegistryPermissions
        return out

    def after_put(self, call: Call, ref: Ref, rec: dict[str, Any], created: bool) -> None:
        """Keep the admin passwords across updates; make them on create."""
        rec.setdefault("admin_passwords", [secrets.token_urlsafe(32), secrets.token_urlsafe(32)])

    def before_delete(self, call: Call, ref: Ref, rec: dict[str, Any]) -> None:
        """Drop the registry's images with it."""
        call.sbx.store.data["registry_tags"].pop(login_server(ref.name), None)

    def _live(self, call: Call, ref: Ref) -> dict[str, Any]:
        rec = call.sbx.get_resource(ref.id)
        if rec is None:
            raise not_found(ref.type_name, ref.name, ref.rg)
        return rec

    def list_credentials(self, call: Call, ref: Ref, _: dict[str, Any]) -> web.Response:
        """POST listCredentials (the admin user's name and two passwords)."""
        rec = self._live(call, ref)
        pw = rec["admin_passwords"]
        return json_response({"username": rec["body"]["name"], "passwords": [
            {"name": "password", "value": pw[0]}, {"name": "password2", "value": pw[1]}]})

    def regenerate(self, call: Call, ref: Ref, _: dict[str, Any]) -> web.Response:
        """POST regenerateCredential."""
        rec = self._live(call, ref)
        which = call.json_body().get("name")
        if which not in ("password", "password2"):
            raise ArmError(400, "InvalidParameter", "name must be 'password' or 'password2'.", target="name")
        rec["admin_passwords"][0 if which == "password" else 1] = secrets.token_urlsafe(32)
        call.sbx.store.save()
        return self.list_credentials(call, ref, _)

    def import_image(self, call: Call, ref: Ref, _: dict[str, Any]) -> web.Response:
        """POST importImage: a server-side copy, 202 + Location until done."""
        sbx = call.sbx
        rec = self._live(call, ref)
        body = call.json_body()
        source = body.get("source") or {}
        image = source.get("sourceImage")
        if not isinstance(image, str) or not image:
            raise ArmError(400, "InvalidParameter", "source.sourceImage is required.", target="source.sourceImage")
        repo, _sep, tag = image.partition(":")
        tag = tag or "latest"
        host = (source.get("registryUri") or "").lower()
        if "credentials" in source and not (source["credentials"] or {}).get("password"):  # required by the spec
            raise ArmError(400, "InvalidParameter", "source.credentials.password is required.",
                           target="source.credentials.password")
        error = None
        if source.get("resourceId"):
            error = None if sbx.get_resource(source["resourceId"]) else {
                "code": "ResourceNotFound", "message": f"Source registry {source['resourceId']} not found."}
        elif host not in PUBLIC_IMAGES:
            raise ArmError(400, "InvalidParameter", f"Unknown source registry '{host}'.", target="source.registryUri")
        elif repo not in PUBLIC_IMAGES[host]:
            error = {"code": "ImageNotFound", "message": f"Image '{image}' was not found in registry '{host}'."}
        else:  # the source registry's own limits and sign-in (upstream.py)
            error = pull(sbx, host, source.get("credentials"))
        targets = body.get("targetTags") or [f"{repo}:{tag}"]
        op = sbx.start_operation(sub=ref.sub, namespace=NAMESPACE, location=rec["location"], seconds=IMPORT_SECONDS,
                                 resource_id=ref.id, kind="action", api_version=call.api_version, error=error)
        if op["error"] is None:
            repos = sbx.store.data["registry_tags"].setdefault(login_server(ref.name), {})
            for target in targets:
                t_repo, _s, t_tag = str(target).partition(":")
                tags = repos.setdefault(t_repo, {})
                tags[t_tag or "latest"] = {"available_at": op["done_at"], "source": f"{host}/{image}"}
        sbx.store.save()
        return json_response(None, status=202, headers=sbx.op_headers(op, async_header=False, location=True))
