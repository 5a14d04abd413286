"""The install's check tool (``check.py``, shipped by the wizard to its VMs and probe pods) as a sandbox VM runs it.

The tool's contract, which this follows (its own words and exit codes): ``amqp`` logs in over AMQP 0-9-1 with the
credentials of ``/etc/studioml/check.json``; ``s3`` signs a ListBuckets (SigV4) with its keys; ``s3-buckets NAME...``
creates buckets with the admin keys; ``tls`` makes a TLS handshake with check.json's listener trusting only its CA
file and expecting its name; ``wait-port HOST PORT SECONDS`` waits for a listener. Each prints
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


def verify_chain(cert_pem: str, ca_pem: str, name: str) -> str:
    """'' when ``cert_pem`` is signed by ``ca_pem``, valid now and names ``name`` (a DNS name or an address), else
    what a TLS client reports."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    try:
        cert, ca = x509.load_pem_x509_certificate(cert_pem.encode()), x509.load_pem_x509_certificate(ca_pem.encode())
    except ValueError:
        return "certificate not trusted: unable to get local issuer certificate"
    key, algo = ca.public_key(), cert.signature_hash_algorithm
    try:
        if cert.issuer != ca.subject or algo is None:
            raise InvalidSignature
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(algo))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), algo)
        else:
            raise InvalidSignature
    except InvalidSignature:
        return "certificate not trusted: unable to get local issuer certificate"
    if cert.not_valid_after_utc < datetime.datetime.now(datetime.UTC):
        return "certificate not trusted: certificate has expired"
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return f"certificate not trusted: Hostname mismatch, certificate is not valid for '{name}'."
    try:
        ok = ipaddress.ip_address(name) in san.get_values_for_type(x509.IPAddress)
    except ValueError:
        ok = name in san.get_values_for_type(x509.DNSName)
    return "" if ok else f"certificate not trusted: Hostname mismatch, certificate is not valid for '{name}'."


def _tls(sh: Shell, cfg: dict[str, Any]) -> Result:
    from cryptography import x509

    host, port, name = str(cfg.get("host", "127.0.0.1")), int(cfg.get("port", 0)), str(cfg.get("name", ""))
    served = services.tls_served(sh.machine).get(port)
    if served is None or not _open(sh, host, port):
        return Result(1, f"tls: failed: connection refused ({host}:{port})\n")
    cert_pem, ca_pem = sh.machine.read(served) or "", sh.machine.read(str(cfg.get("ca", ""))) or ""
    problem = verify_chain(cert_pem, ca_pem, name)
    if problem:
        return Result(1, f"tls: failed: {problem}\n")
    until = x509.load_pem_x509_certificate(cert_pem.encode()).not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    return Result(0, f"tls: ok ({name} at {host}:{port}, TLSv1.3, certificate valid until {until})\n")


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
    if args[:1] == ["tls"] and "tls" in cfg:
        return _tls(sh, cfg["tls"])
    if args[:1] == ["s3"] and "s3" in cfg:
        return _s3(sh, cfg["s3"], [])
    if args[:1] == ["s3-buckets"] and "s3_admin" in cfg and len(args) > 1:
        return _s3(sh, cfg["s3_admin"], args[1:])
    return Result(2, "", f"check: unknown command or missing settings: {' '.join(args)}\n")
