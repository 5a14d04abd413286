"""Kubernetes' protobuf encoding of built-in objects, decoded to the JSON form the rest of the API server handles.

kubectl (client-go) sends built-in types as ``application/vnd.kubernetes.protobuf``, which every real API server
accepts: the 4-byte magic ``k8s\\x00``, then a ``runtime.Unknown`` holding the object's ``apiVersion``/``kind`` and
its message. The field table (``proto_schema.json``) is distilled from Kubernetes' own ``generated.proto`` files by
``scripts/k8s_proto_schema.py``; field names there are the JSON names. The types Kubernetes maps specially to JSON
are mapped as its own JSON marshalling does: ``Time``/``MicroTime`` to RFC 3339 (Go's zero time to null),
``Duration`` to Go's duration text, ``Quantity`` to its string, ``IntOrString`` to a number or a string,
``RawExtension``/``FieldsV1`` to the JSON they carry, ``bytes`` to base64.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import struct
from functools import cache
from pathlib import Path
from typing import Any

MAGIC = b"k8s\x00"
META = "k8s.io.apimachinery.pkg.apis.meta.v1"
GO_ZERO = -62135596800  # Go's zero time.Time in Unix seconds: marshalled to JSON as null
PACKAGES = {"v1": "k8s.io.api.core.v1", "apps/v1": "k8s.io.api.apps.v1", "rbac.authorization.k8s.io/v1":
            "k8s.io.api.rbac.v1", "autoscaling/v1": "k8s.io.api.autoscaling.v1",
            "authorization.k8s.io/v1": "k8s.io.api.authorization.v1", "batch/v1": "k8s.io.api.batch.v1"}


class ProtobufError(ValueError):
    """The body is not a Kubernetes protobuf object this server knows."""


@cache
def schema() -> dict[str, dict[str, list[str]]]:
    """The field table."""
    data: dict[str, dict[str, list[str]]] = json.loads((Path(__file__).parent / "proto_schema.json").read_text())
    return data


def _varint(buf: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(buf):
            raise ProtobufError("truncated varint")
        byte = buf[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """(number, wire type, raw value) of every field, in order."""
    out: list[tuple[int, int, Any]] = []
    at = 0
    while at < len(buf):
        key, at = _varint(buf, at)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, at = _varint(buf, at)
        elif wire == 1:
            value, at = buf[at:at + 8], at + 8
        elif wire == 2:
            size, at = _varint(buf, at)
            value, at = buf[at:at + size], at + size
        elif wire == 5:
            value, at = buf[at:at + 4], at + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        out.append((number, wire, value))
    return out


def _scalar(kind: str, wire: int, value: Any) -> Any:
    if kind == "string":
        return bytes(value).decode()
    if kind == "bytes":
        return base64.b64encode(bytes(value)).decode()
    if kind == "bool":
        return bool(value)
    if kind in ("int32", "int64"):
        return value - (1 << 64) if value >= 1 << 63 else value
    if kind in ("uint32", "uint64"):
        return value
    if kind in ("double", "fixed64"):
        return struct.unpack("<d" if kind == "double" else "<Q", value)[0]
    if kind in ("float", "fixed32"):
        return struct.unpack("<f" if kind == "float" else "<I", value)[0]
    raise ProtobufError(f"unknown scalar {kind}")


def _packed(kind: str, value: bytes) -> list[Any]:
    out, at = [], 0
    while at < len(value):
        if kind in ("double", "fixed64"):
            out.append(_scalar(kind, 1, value[at:at + 8]))
            at += 8
        elif kind in ("float", "fixed32"):
            out.append(_scalar(kind, 5, value[at:at + 4]))
            at += 4
        else:
            raw, at = _varint(value, at)
            out.append(_scalar(kind, 0, raw))
    return out


def _special(name: str, buf: bytes) -> tuple[bool, Any]:
    """(handled, value) for the types with a JSON form of their own."""
    short = name.rsplit(".", 1)[-1]
    if name in (f"{META}.Time", f"{META}.MicroTime"):
        got = {n: v for n, _w, v in _fields(buf)}
        seconds = _scalar("int64", 0, got.get(1, 0))
        if seconds <= GO_ZERO:
            return True, None
        when = dt.datetime.fromtimestamp(seconds, dt.UTC)
        if short == "MicroTime":
            micros = int(got.get(2, 0)) // 1000
            return True, when.replace(microsecond=micros).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return True, when.strftime("%Y-%m-%dT%H:%M:%SZ")
    if name == f"{META}.Duration":
        nanos = _scalar("int64", 0, {n: v for n, _w, v in _fields(buf)}.get(1, 0))
        return True, f"{nanos / 1e9:g}s"
    if name == "k8s.io.apimachinery.pkg.api.resource.Quantity":
        return True, {n: v for n, _w, v in _fields(buf)}.get(1, b"").decode()
    if name == "k8s.io.apimachinery.pkg.util.intstr.IntOrString":
        got = {n: v for n, _w, v in _fields(buf)}
        return True, (got.get(3, b"").decode() if got.get(1, 0) == 1 else _scalar("int32", 0, got.get(2, 0)))
    if name in ("k8s.io.apimachinery.pkg.runtime.RawExtension", f"{META}.FieldsV1"):
        raw = {n: v for n, _w, v in _fields(buf)}.get(1, b"")
        return True, json.loads(raw) if raw else None
    return False, None


def message(name: str, buf: bytes) -> Any:
    """One message, as JSON data."""
    handled, value = _special(name, buf)
    if handled:
        return value
    table = schema().get(name)
    if table is None:
        raise ProtobufError(f"no schema for {name}")
    out: dict[str, Any] = {}
    for number, wire, raw in _fields(buf):
        spec = table.get(str(number))
        if spec is None:
            continue  # a field newer than this server: ignored, as an older API server would
        field, kind, label = spec
        if label == "map":
            key_kind, value_kind = kind.split(",")
            entry = {n: (w, v) for n, w, v in _fields(raw)}
            key = _decode(key_kind, *entry.get(1, (2, b"")))
            out.setdefault(field, {})[key] = _decode(value_kind, *entry.get(2, (2, b"")))
        elif label == "rep":
            items = out.setdefault(field, [])
            if wire == 2 and kind not in ("string", "bytes") and "." not in kind:
                items.extend(_packed(kind, raw))
            else:
                items.append(_decode(kind, wire, raw))
        else:
            out[field] = _decode(kind, wire, raw)
    return {k: v for k, v in out.items() if v is not None}


def _decode(kind: str, wire: int, raw: Any) -> Any:
    return message(kind, bytes(raw)) if "." in kind else _scalar(kind, wire, raw)


def decode(body: bytes) -> dict[str, Any]:
    """A ``k8s\\x00``-framed object as JSON data, ``apiVersion`` and ``kind`` included."""
    if not body.startswith(MAGIC):
        raise ProtobufError("the body does not start with the Kubernetes protobuf magic number")
    unknown = message("k8s.io.apimachinery.pkg.runtime.Unknown", body[len(MAGIC):])
    meta = unknown.get("typeMeta") or {}
    api_version, kind = meta.get("apiVersion", ""), meta.get("kind", "")
    package = PACKAGES.get(api_version) or (META if kind in ("DeleteOptions",) else None)
    if package is None:
        raise ProtobufError(f"no kind {kind!r} is registered for version {api_version!r}")
    obj = message(f"{package}.{kind}", base64.b64decode(unknown.get("raw", "")))
    return {"apiVersion": api_version, "kind": kind, **obj}
