"""``studioml-azure client-config``: what an experimenter puts in their StudioML client configuration.

StudioML's client reads a YAML ``config.yaml`` whose ``database`` and ``storage`` sections are each an S3 endpoint
and bucket with ``credentials: {aws: {access_key, secret_access_key}}``, and whose ``cloud.queue.rmq`` is the AMQP
URL of the queue server (studioml/studio: ``credentials.py``, ``s3_storage_handler.py``; the runner's docs). The
install adds what those sections cannot say: its CA certificate (both services speak TLS with a certificate it
signed; point the client at it with ``AWS_CA_BUNDLE`` and ``SSL_CERT_FILE``) and the runners' public key, with which
the client encrypts requests (``docs/message_privacy.md``). Both are public and are written beside the file as well.

The experimenters' credentials (RabbitMQ user ``experimenter``, an S3 key limited to the experiment buckets) go only
into a file written 0600 at a path the person names; stdout and ``--json`` carry no secret.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from . import secrets as keys
from . import tls, vmconfig
from .answers import Answers
from .errors import InputError
from .session import Session, make_context
from .steps.base import Context, get_or_none, lookup, rest
from .steps.network import STATIC_IPS
from .steps.services import where

MASK = "********"


def endpoints(ctx: Context) -> dict[str, dict[str, Any]]:
    """Per service: the host experimenters use (the public IP's DNS name, else the private address inside the VNet),
    its TLS port and whether it is reachable from outside."""
    net = ctx.clients.network(ctx.subscription_id)
    out = {}
    def read(role: str) -> dict[str, Any] | None:
        name = ctx.names.service_ip(role)
        return rest(get_or_none(lambda: net.public_ip_addresses.get(ctx.names.registry_rg, name),
                                f"reading public IP {name}"))
    for role in ("rabbitmq", "files"):
        ip = read(role)
        dns = str(lookup(ip, "properties.dnsSettings.fqdn", "") or "") if ip else ""
        out[role] = {"host": dns or STATIC_IPS[role], "port": vmconfig.TLS_PORTS[role], "public": bool(dns),
                     "public_ip": lookup(ip, "properties.ipAddress") if ip else None,
                     "dns": dns or where(ctx.names, role, None, ctx.login_server.partition(".")[2]).dns}
    return out


def _secret(ctx: Context, key: str) -> str:
    value = ctx.secrets.get(key)
    if value is None:
        raise InputError(f"the keyring holds no {keys.PURPOSES.get(key, key)} for install {ctx.names.uniq_id}.",
                         "run apply first (it makes the experimenters' credentials), or restore the keyring")
    return value


def build(ctx: Context, *, masked: bool) -> tuple[dict[str, Any], str, str, dict[str, Any]]:
    """(the client configuration, CA certificate PEM, runner public key PEM, a summary without secrets)."""
    where_ = endpoints(ctx)
    ca = tls.ca_certificate(ctx.secrets)
    public_key = ctx.secrets.get(keys.RUNNER_PUBLIC_KEY)
    if ca is None or public_key is None:
        raise InputError(f"install {ctx.names.uniq_id} has no CA certificate or runner key in the keyring yet.",
                         "run apply first")
    password = MASK if masked else _secret(ctx, keys.RABBITMQ_EXPERIMENTER)
    access = MASK if masked else _secret(ctx, keys.S3_EXPERIMENTER_KEY)
    secret = MASK if masked else _secret(ctx, keys.S3_EXPERIMENTER_SECRET)
    rmq, files = where_["rabbitmq"], where_["files"]
    shown = password if masked else quote(password, safe="")
    url = f"amqps://experimenter:{shown}@{rmq['host']}:{rmq['port']}/%2f"
    endpoint = f"https://{files['host']}" + ("" if files["port"] == 443 else f":{files['port']}")
    meta, artifacts = vmconfig.buckets()
    creds = {"aws": {"access_key": access, "secret_access_key": secret}}
    config = {
        "database": {"type": "s3", "endpoint": endpoint, "bucket": meta, "credentials": creds},
        "storage": {"type": "s3", "endpoint": endpoint, "bucket": artifacts, "credentials": creds},
        "cloud": {"queue": {"rmq": url}},
        "studioml_azure": {"install": ctx.names.uniq_id, "queue_prefix": "rmq_",
                           "ca_certificate": ca, "runner_public_key": public_key}}
    reach = list(ctx.answers.client_cidrs) if rmq["public"] and files["public"] else []
    summary = {"install": ctx.names.uniq_id, "amqp_url": url.replace(shown, MASK),
               "storage_endpoint": endpoint, "buckets": [meta, artifacts], "reachable_from": reach or "the VNet only",
               "ca_valid_until": tls.not_after(ca).strftime("%Y-%m-%d"),
               "certificates": {r: _cert_until(ctx, r) for r in ("rabbitmq", "files")}}
    return config, ca, public_key, summary


def _cert_until(ctx: Context, role: str) -> str | None:
    cert = ctx.secrets.get(keys.tls_cert(role))
    return tls.not_after(cert).strftime("%Y-%m-%d") if cert else None


class _Dumper(yaml.SafeDumper):
    """PEM blocks as YAML literal blocks (``|``), as a person pastes them."""


_Dumper.add_representer(str, lambda d, v: d.represent_scalar(
    "tag:yaml.org,2002:str", v, style="|" if "\n" in v else None))


def _header(summary: dict[str, Any], path: Path | None) -> str:
    where_ = ("from " + ", ".join(summary["reachable_from"]) if isinstance(summary["reachable_from"], list)
              else "inside the install's VNet only (client_cidrs is empty): peer your network or use a VPN")
    ca = f"{path}.ca.pem" if path else "<this file>.ca.pem"
    return (f"# StudioML client configuration for studioml-azure install {summary['install']}; reachable {where_}.\n"
            "# The services speak TLS with certificates of the install's own CA: trust it in the client's shell,\n"
            f"#   export AWS_CA_BUNDLE={ca} SSL_CERT_FILE={ca}\n"
            "# Requests are encrypted with studioml_azure.runner_public_key (the runners' key); queues start rmq_.\n")


def _write(path: Path, text: str, mode: int) -> None:
    """Write ``text`` to ``path`` with ``mode`` from the first byte (a temp file beside it, then renamed)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            os.write(fd, text.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise InputError(f"cannot write {path}: {err.strerror}.", "pick a path in a folder you can write") from None


def _dump(config: dict[str, Any]) -> str:
    return yaml.dump(config, Dumper=_Dumper, sort_keys=False, width=1000)


def write_files(ctx: Context, output: Path) -> dict[str, Any]:
    """The configuration with its secrets into ``output`` (0600), the CA and the runners' public key beside it;
    returns the summary (no secret) with the files written."""
    if output.is_dir():
        raise InputError(f"{output} is a folder.", "name the file to write, such as ~/studioml/config.yaml")
    config, ca, public_key, summary = build(ctx, masked=False)
    _write(output, _header(summary, output) + _dump(config), 0o600)
    _write(Path(f"{output}.ca.pem"), ca, 0o644)
    _write(Path(f"{output}.runner-public-key.pem"), public_key, 0o644)
    summary["files"] = {"config": str(output), "ca": f"{output}.ca.pem",
                        "runner_public_key": f"{output}.runner-public-key.pem"}
    return summary


def client_config_command(session: Session, answers: Answers, *, output: Path | None, as_json: bool) -> int:
    """Write the configuration with its secrets to ``output`` (0600), or print it masked; exit 0."""
    ctx, _sub, _uid = make_context(session, answers, lambda e: None, any_region=True)
    if output is not None:
        summary = write_files(ctx, output)
        print(f"wrote {output} (0600: it holds the experimenters' password and S3 keys), {output}.ca.pem and "
              f"{output}.runner-public-key.pem", file=sys.stderr)
    else:
        config, _ca, _key, summary = build(ctx, masked=True)
        text = _dump(config)
    if as_json:
        print(json.dumps(summary, indent=2))
    elif output is None:
        print(_header(summary, None) + text, end="")
        print("# secrets masked: write the whole configuration with --output PATH (0600)", file=sys.stderr)
    return 0
