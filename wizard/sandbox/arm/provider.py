"""Generic ARM resource semantics that every sandbox resource type builds on.

A type declares its namespace, type path, how long real Azure takes to create, update and delete
it, and how to turn a request body into the stored resource (validating as the RP does). This module
supplies PUT/GET/PATCH/DELETE/list and POST actions with ARM's status codes and LRO headers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .base import ArmError, Sandbox, json_response, not_found


@dataclass
class Ref:
    """A resource reference parsed from a request path, in canonical casing."""

    sub: str
    rg: str
    namespace: str
    types: list[str]
    names: list[str]

    @property
    def id(self) -> str:
        """The ARM resource id."""
        tail = "/".join(f"{t}/{n}" for t, n in zip(self.types, self.names, strict=True))
        return f"/subscriptions/{self.sub}/resourceGroups/{self.rg}/providers/{self.namespace}/{tail}"

    @property
    def type_name(self) -> str:
        """The ARM type, e.g. ``Microsoft.ContainerService/managedClusters/agentPools``."""
        return f"{self.namespace}/" + "/".join(self.types)

    @property
    def name(self) -> str:
        """The leaf name."""
        return self.names[-1]

    @property
    def parent_id(self) -> str | None:
        """The parent resource's id for a nested type."""
        if len(self.names) < 2:
            return None
        return Ref(self.sub, self.rg, self.namespace, self.types[:-1], self.names[:-1]).id

    @property
    def rg_id(self) -> str:
        """The resource group's id."""
        return f"/subscriptions/{self.sub}/resourceGroups/{self.rg}"


@dataclass
class Call:
    """One ARM request as the handlers see it."""

    sbx: Sandbox
    method: str
    body: Any
    api_version: str
    query: dict[str, str]
    caller: dict[str, Any] = field(default_factory=dict)

    def json_body(self) -> dict[str, Any]:
        """The request body as an object, or a 400 like ARM's."""
        if not isinstance(self.body, dict):
            raise ArmError(400, "InvalidRequestContent",
                           "The request content was invalid and could not be deserialized.")
        return self.body


Action = Callable[[Call, Ref, dict[str, Any]], web.Response]


class ResourceType:
    """Base of every sandbox resource type."""

    namespace = ""
    types: tuple[str, ...] = ()
    create_seconds = 0.0
    update_seconds = 0.0
    delete_seconds = 0.0
    put_async = True
    delete_async_header = False
    creating_state = "Creating"
    parent_required = True
    # (code, message) of a write refused while the resource is busy; AKS words it its own way
    busy = ("AnotherOperationInProgress", "Another operation is in progress on {type} '{name}' (state {state}). Retry "
            "when it completes.")

    def actions(self) -> dict[str, Action]:
        """POST actions on one resource, keyed by lower-case action name."""
        return {}

    def build(self, call: Call, ref: Ref, body: dict[str, Any], existing: dict[str, Any] | None
              ) -> dict[str, Any]:
        """Validate ``body`` and return the stored resource (without provisioningState)."""
        return base_body(ref, body, existing)

    def after_put(self, call: Call, ref: Ref, rec: dict[str, Any], created: bool) -> None:
        """Side effects of a create or update (e.g. child resources)."""

    def view(self, call: Call, rec: dict[str, Any]) -> dict[str, Any]:
        """The resource as GET, list and PUT answer it (a parent may show its children inline)."""
        return call.sbx.rendered(rec)

    def before_delete(self, call: Call, ref: Ref, rec: dict[str, Any]) -> None:
        """Refuse or prepare a delete (raise ArmError to refuse)."""

    # --- verbs --------------------------------------------------------------------------------

    def get(self, call: Call, ref: Ref) -> web.Response:
        """GET one resource."""
        rec = call.sbx.get_resource(ref.id)
        if rec is None:
            raise not_found(ref.type_name, ref.name, ref.rg)
        return json_response(self.view(call, rec))

    def list(self, call: Call, records: list[dict[str, Any]]) -> web.Response:
        """A list answer."""
        return json_response({"value": [self.view(call, r) for r in records]})

    def operation_error(self, call: Call, ref: Ref, stored: dict[str, Any], existing: dict[str, Any] | None
                        ) -> dict[str, Any] | None:
        """The error a PUT's long-running operation ends with (None: it succeeds)."""
        return None

    def put(self, call: Call, ref: Ref) -> web.Response:
        """Create or update; long-running when the type takes time."""
        sbx = call.sbx
        body = call.json_body()
        existing = sbx.get_resource(ref.id)
        if existing is not None:
            state = sbx.provisioning_state(existing)
            if state in ("Creating", "Updating", "Deleting"):
                raise ArmError(409, self.busy[0], self.busy[1].format(type=ref.type_name, name=ref.name, state=state))
            ref = Ref(ref.sub, ref.rg, ref.namespace, ref.types,
                      ref.names[:-1] + [existing["body"].get("name", ref.name)])
        stored = self.build(call, ref, body, existing)
        changed = existing is None or _strip(existing["body"]) != _strip(stored) or bool(existing.get("failed"))
        seconds = self.create_seconds if existing is None else (self.update_seconds if changed else 0.0)
        rec: dict[str, Any] = {"id": ref.id, "type": ref.type_name, "body": stored,
                               "location": stored.get("location", ""), "failed": False}
        if existing is not None:
            rec = {**existing, "body": stored, "failed": False}
        headers: dict[str, str] = {}
        if seconds > 0:
            op = sbx.start_operation(sub=ref.sub, namespace=ref.namespace, location=rec["location"] or "global",
                                     seconds=seconds, resource_id=ref.id, api_version=call.api_version,
                                     error=self.operation_error(call, ref, stored, existing))
            rec["transition"] = self.creating_state if existing is None else "Updating"
            rec["busy_until"] = op["done_at"]
            rec["failed"] = op["error"] is not None
            if self.put_async:
                headers = sbx.op_headers(op, async_header=True, location=False)
        else:
            rec["transition"], rec["busy_until"] = None, 0
        sbx.store.resources[ref.id.lower()] = rec
        self.after_put(call, ref, rec, existing is None)
        sbx.store.save()
        return json_response(self.view(call, rec), status=201 if existing is None else 200, headers=headers)

    def patch(self, call: Call, ref: Ref) -> web.Response:
        """PATCH: merge tags and properties, then behave as an update."""
        existing = call.sbx.get_resource(ref.id)
        if existing is None:
            raise not_found(ref.type_name, ref.name, ref.rg)
        merged = json.loads(json.dumps(existing["body"]))
        patch = call.json_body()
        if "tags" in patch:
            merged["tags"] = patch["tags"]
        if "sku" in patch:
            merged["sku"] = patch["sku"]
        if "identity" in patch:
            merged["identity"] = patch["identity"]
        merged.setdefault("properties", {}).update(patch.get("properties") or {})
        call.body = merged
        return self.put(call, ref)

    def delete(self, call: Call, ref: Ref) -> web.Response:
        """DELETE: 202 + Location while it runs, 204 when there was nothing."""
        sbx = call.sbx
        rec = sbx.get_resource(ref.id)
        if rec is None:
            return json_response(None, status=204)
        self.before_delete(call, ref, rec)
        if self.delete_seconds <= 0:
            sbx.remove_resource(ref.id)
            sbx.store.save()
            return json_response(None, status=200)
        op = sbx.start_operation(sub=ref.sub, namespace=ref.namespace, location=rec["location"] or "global",
                                 seconds=self.delete_seconds, resource_id=ref.id, kind="delete",
                                 api_version=call.api_version, can_fail=False)
        mark_deleting(sbx, ref.id, op["done_at"])
        sbx.store.save()
        return json_response(None, status=202, headers=sbx.op_headers(
            op, async_header=self.delete_async_header, location=True))


def mark_deleting(sbx: Sandbox, rid: str, until: float) -> None:
    """Mark a resource and its nested resources as being deleted until ``until``."""
    prefix = rid.lower() + "/"
    for key, rec in sbx.store.resources.items():
        if key == rid.lower() or key.startswith(prefix):
            rec["transition"], rec["busy_until"], rec["failed"] = "Deleting", until, False


def base_body(ref: Ref, body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
    """id/name/type/location/tags/properties as every tracked resource has them."""
    out: dict[str, Any] = {"id": ref.id, "name": ref.name, "type": ref.type_name}
    location = body.get("location") or (existing or {}).get("location")
    if len(ref.types) == 1:
        if not location:
            raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
        out["location"] = normalize_location(str(location))
        if existing and existing["body"].get("location") and existing["body"]["location"] != out["location"]:
            raise ArmError(400, "InvalidResourceLocation",
                           f"The resource '{ref.name}' already exists in location "
                           f"'{existing['body']['location']}' in resource group '{ref.rg}'. A resource "
                           "with the same name cannot be created in location "
                           f"'{out['location']}'. Please select a new resource name.")
        out["tags"] = body.get("tags") or {}
    props = body.get("properties")
    if props is not None and not isinstance(props, dict):
        raise ArmError(400, "InvalidRequestContent", "The 'properties' member must be an object.")
    out["properties"] = json.loads(json.dumps(props or {}))
    out["properties"].pop("provisioningState", None)
    return out


def normalize_location(location: str) -> str:
    """ARM stores locations lower-case without spaces ("East US" -> "eastus")."""
    return location.replace(" ", "").lower()


def _strip(body: dict[str, Any]) -> str:
    clean = json.loads(json.dumps(body))
    clean.get("properties", {}).pop("provisioningState", None)
    return json.dumps(clean, sort_keys=True)
