"""Validate recorded HTTP answers against the official Azure REST specs (swagger 2.0).

Every answer the SDK clients receive is matched to its operation by method, path template and
api-version, and its body is validated against that operation's response schema for the status
code (or ``default`` for errors). ``$ref``s across files resolve through a ``referencing`` registry.
Swagger's ``x-nullable`` is not JSON Schema, so nulls are dropped before validation (an absent
field and a null one read the same to the SDKs).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPECS = Path(__file__).parent / "specs" / "specification"
# api-versions the pinned SDKs send that have no spec file of their own: same shapes, older file.
FALLBACK = {"2026-08-01": "2024-02-01", "2026-04-01": "2024-03-01", "2026-03-01": "2024-01-01",
            "2023-07-01": "2025-11-01"}
ERROR_URI = (SPECS / "common-types" / "resource-management" / "v5" / "types.json").resolve().as_uri()
METHODS = ("get", "put", "post", "patch", "delete", "head")


@dataclass
class Operation:
    """One operation of one spec file."""

    op_id: str
    method: str
    pattern: re.Pattern[str]
    uri: str
    path: str
    api_version: str
    responses: dict[str, Any]


@cache
def _documents() -> dict[str, dict[str, Any]]:
    return {p.resolve().as_uri(): json.loads(p.read_text()) for p in SPECS.rglob("*.json")}


@cache
def registry() -> Registry:  # type: ignore[type-arg]
    """Every copied spec file as a Draft 4 resource under its file:// URI."""
    return Registry().with_resources(
        (uri, Resource.from_contents(doc, default_specification=DRAFT4)) for uri, doc in _documents().items())


def _pattern(path: str) -> re.Pattern[str]:
    out = ""
    for part in re.split(r"(\{[^}]+\})", path.split("?")[0]):
        if part == "{scope}" or part == "{resourceId}":
            out += ".+"
        elif part.startswith("{"):
            out += "[^/]+"
        else:
            out += re.escape(part)
    return re.compile(f"^{out}/?$", re.IGNORECASE)


@cache
def operations() -> list[Operation]:
    """Every operation of every copied file."""
    ops = []
    for uri, doc in _documents().items():
        version = doc.get("info", {}).get("version", "")
        for path, item in (doc.get("paths") or {}).items():
            for method in METHODS:
                if method in item:
                    op = item[method]
                    ops.append(Operation(op.get("operationId", ""), method.upper(), _pattern(path), uri, path,
                                         version, op.get("responses", {})))
    # literal segments beat templates: longest template first
    ops.sort(key=lambda o: -len(o.path.replace("{", "").split("/")))
    return ops


def find(method: str, url: str) -> Operation | None:
    """The spec operation a request was for, by method, path and api-version."""
    parts = urlsplit(url)
    version = (parse_qs(parts.query).get("api-version") or [""])[0]
    wanted = {version, FALLBACK.get(version, version)}
    candidates = [o for o in operations() if o.method == method and o.pattern.match(parts.path)]
    exact = [o for o in candidates if o.api_version in wanted]
    literal = sorted(exact or candidates, key=lambda o: o.path.count("{"))
    return literal[0] if literal else None


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def validate(op: Operation, status: int, body: Any) -> None:
    """Raise ``jsonschema.ValidationError`` or AssertionError when ``body`` breaks the spec."""
    response = op.responses.get(str(status)) or op.responses.get("default")
    if response is None and status >= 400:
        # old specs list no error answers; ARM's common error envelope applies
        _check(op.op_id, status, {"$ref": f"{ERROR_URI}#/definitions/ErrorResponse"}, body)
        return
    assert response is not None, f"{op.op_id}: status {status} is not among {sorted(op.responses)}"
    if "schema" not in response:
        assert body in (None, b"", ""), f"{op.op_id}: {status} has no schema but a body came: {body!r}"
        return
    code = str(status) if str(status) in op.responses else "default"
    pointer = "/".join(["", "paths", op.path.replace("~", "~0").replace("/", "~1"), op.method.lower(),
                        "responses", code, "schema"])
    _check(op.op_id, status, {"$ref": f"{op.uri}#{quote(pointer, safe='/~')}"}, body)


def _check(name: str, status: int, schema: dict[str, Any], body: Any) -> None:
    validator = jsonschema.Draft4Validator(schema, registry=registry())
    errors = sorted(validator.iter_errors(_drop_nulls(body)), key=lambda e: list(e.absolute_path))
    if errors:
        detail = "\n".join(f"  at {'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}"
                           for e in errors[:10])
        raise AssertionError(f"{name} {status} breaks the spec:\n{detail}")
