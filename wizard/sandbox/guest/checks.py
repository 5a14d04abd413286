"""The install's check tool (``check.py``, shipped by the wizard to its VMs and probe pods) as a sandbox VM runs it.

The tool's contract, which this follows (its own words and exit codes): ``amqp`` logs in over AMQP 0-9-1 with the
credentials of ``/etc/studioml/check.json``; ``s3`` signs a ListBuckets (SigV4) with its keys; ``s3-buckets NAME...``
creates buckets with the admin keys; ``wait-port HOST PORT SECONDS`` waits for a listener. Each prints
``<what>: ok (...)`` and exits 0, or ``<what>: failed: <why>`` and exits 1. The outcome comes from the guest's
simulated services: what the broker's users and permissions are, what the S3 gateway's identities are, what
listens where.
"""

from __future__ import annotations

import json
from typing import Any

from . import services
from .shell import Result, Shell

MARKER = "studioml-azure check tool"
CONFIG = "/etc/studioml/check.json"
LOCAL = ("127.0.0.1", "localhost", "::1")


def _config(sh: Shell) -> dict[str, Any] | None:
    try:
        doc = json.loads(sh.machine.read(CONFIG) or "")
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _open(sh: Shell, host: str, port: int) -> bool:
    bind = services.listening(sh.machine).get(port)
    return bind is not None and (host in LOCAL or bind in ("0.0.0.0", host)) and (bind != "127.0.0.1" or host in LOCAL)


def _amqp(sh: Shell, cfg: dict[str, Any]) -> Result:
    host, port = str(cfg.get("host", "127.0.0.1")), int(cfg.get("port", 5672))
    user, vhost = str(cfg.get("user", "")), str(cfg.get("vhost", "/"))
    if not _open(sh, host, port):
        return Result(1, f"amqp: failed: connection refused ({host}:{port})\n")
    problem = services.amqp_login(sh.machine, user, str(cfg.get("password", "")), vhost, host in LOCAL)
    if problem:
        return Result(1, f"amqp: failed: {problem}\n")
    return Result(0, f"amqp: ok ({user}@{host}:{port}, vhost {vhost})\n")


def _s3(sh: Shell, cfg: dict[str, Any], create: list[str]) -> Result:
    endpoint = str(cfg.get("endpoint", "http://127.0.0.1:8333"))
    hostport = endpoint.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.partition(":")
    if not _open(sh, host, int(port or 80)):
        return Result(1, f"s3: failed: connection refused ({hostport})\n")
    ident, problem = services.s3_identity(sh.machine, str(cfg.get("access_key", "")), str(cfg.get("secret_key", "")))
    if ident is None:
        return Result(1, f"s3: failed: {problem}\n")
    actions = ident.get("actions") or []
    if create:
        if "Admin" not in actions:
            return Result(1, "s3: failed: AccessDenied (creating buckets needs the Admin action)\n")
        out = ""
        for name in create:
            sh.machine.record("bucket", name, True)
            out += f"s3: bucket {name} ready\n"
        return Result(0, out)
    if not any(a == "Admin" or a.split(":")[0] in ("List", "Read") for a in actions):
        return Result(1, "s3: failed: AccessDenied (ListBuckets)\n")
    names = sorted(sh.machine.buckets)
    return Result(0, f"s3: ok ({len(names)} buckets: {', '.join(names) or 'none'})\n")


def run(sh: Shell, args: list[str]) -> Result:
    """``check.py SUBCOMMAND ...`` on a VM."""
    sh.machine.advance(2)
    if args[:1] == ["wait-port"] and len(args) == 4:
        host, port, seconds = args[1], int(args[2]), float(args[3])
        if _open(sh, host, port):
            return Result(0, f"port {host}:{port}: open\n")
        sh.machine.advance(seconds)
        return Result(1, f"port: failed: nothing listens after {int(seconds)} s\n")
    cfg = _config(sh)
    if cfg is None:
        return Result(2, "", f"check: cannot read {CONFIG}\n")
    if args[:1] == ["amqp"] and "amqp" in cfg:
        return _amqp(sh, cfg["amqp"])
    if args[:1] == ["s3"] and "s3" in cfg:
        return _s3(sh, cfg["s3"], [])
    if args[:1] == ["s3-buckets"] and "s3_admin" in cfg and len(args) > 1:
        return _s3(sh, cfg["s3_admin"], args[1:])
    return Result(2, "", f"check: unknown command or missing settings: {' '.join(args)}\n")
