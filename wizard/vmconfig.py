"""The service VMs' cloud-init: a ``#cloud-config`` per role, built from ``assets/services`` and the keyring's
secrets, that installs, configures, starts and checks the service, and stops loudly at the first failure.

What each VM holds: root-only (0600) files under ``/etc/studioml`` with the service's configuration (RabbitMQ's
definitions carry salted password hashes, SeaweedFS's ``s3.json`` the S3 keys), its TLS key and certificate with the
install CA's certificate (``/etc/studioml/tls``) and ``check.json`` with the credentials its local protocol check logs
in with; the check tool (``assets/services/check.py``); the boot script (install, then configure), run once by
``runcmd`` and again through Run Command when a run failed; the configure script alone, run through Run Command after
:func:`delivery_script` wrote renewed files (a certificate, rotated credentials). Azure keeps customData with the VM,
readable by root on that VM (``/var/lib/waagent/ovf-env.xml``) and never returned by the API; nothing of it reaches
a command line or a log.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

import yaml

from .assets import asset_json, asset_text

ADMIN_USER = "studioml"
AMQP_PORT, S3_PORT = 5672, 8333  # the runners', inside the VNet
AMQPS_PORT, S3_HTTPS_PORT = 5671, 443  # the experimenters', over TLS
TLS_PORTS = {"rabbitmq": AMQPS_PORT, "files": S3_HTTPS_PORT}
CHECK_TOOL = "/usr/local/lib/studioml/check.py"
BOOT_SCRIPT = "/usr/local/sbin/studioml-boot"
CONFIGURE_SCRIPT = "/usr/local/sbin/studioml-configure"
TLS_DIR = "/etc/studioml/tls"
BOOT_STATUS = "/var/lib/studioml/boot-status"
BOOT_LOG = "/var/log/studioml-boot.log"
DATA_DEVICE = "/dev/disk/azure/scsi1/lun0"
SERVICE_UNITS = {"rabbitmq": "rabbitmq-server", "files": "seaweedfs"}


def versions() -> dict[str, Any]:
    """The pinned downloads and images (``assets/services/versions.json``)."""
    data: dict[str, Any] = asset_json("services", "versions.json")
    return data


def buckets() -> list[str]:
    """The buckets the file server is made with: the StudioML client's metadata and artifact stores."""
    return list(versions()["buckets"])


def rabbit_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's ``rabbit_password_hashing_sha256``: base64 of a 4-byte salt and sha256(salt + password)."""
    salt = salt if salt is not None else os.urandom(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


@dataclass(frozen=True)
class S3Keys:
    """One S3 identity's access key and secret key."""

    access: str
    secret: str


@dataclass(frozen=True)
class Tls:
    """A service's TLS material as its VM receives it: the install CA's certificate, the service's certificate and
    key (PEM), and the DNS name its local check expects in the certificate."""

    ca: str
    cert: str
    key: str
    name: str


def _fill(text: str) -> str:
    sw = versions()["seaweedfs"]
    return (text.replace("@COMMON@\n", asset_text("services", "boot-common.sh"))
            .replace("@SEAWEEDFS_URL@", sw["url"]).replace("@SEAWEEDFS_VERSION@", sw["version"])
            .replace("@BUCKETS@", " ".join(buckets())))


def _configure_text(role: str) -> str:
    return _fill(asset_text("services", f"{role}-configure.sh"))


def _boot_text(role: str) -> str:
    """The install part, then the configure part (its own header and shared start left out)."""
    configure = asset_text("services", f"{role}-configure.sh").partition("@COMMON@\n")[2]
    return _fill(asset_text("services", f"{role}-install.sh")) + _fill(configure)


def boot_digest(role: str) -> str:
    """A short digest of everything a role's VM is made from except secrets: a VM tagged with another digest was made
    from other scripts or versions and is replaced."""
    parts = [role, _boot_text(role), _configure_text(role), asset_text("services", "check.py"),
             json.dumps(versions(), sort_keys=True)]
    parts += [asset_text("services", "rabbitmq.conf")] if role == "rabbitmq" else \
        [asset_text("services", "seaweedfs.service")]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


def _file(path: str, content: str, mode: str) -> dict[str, Any]:
    return {"path": path, "content": content, "permissions": mode, "owner": "root:root"}


def _tls_files(tls: Tls) -> dict[str, tuple[str, str]]:
    return {f"{TLS_DIR}/ca.pem": (tls.ca, "0644"), f"{TLS_DIR}/server.pem": (tls.cert, "0644"),
            f"{TLS_DIR}/server.key": (tls.key, "0600")}


def _common(public_key: str, role: str, settings: dict[str, tuple[str, str]]) -> dict[str, Any]:
    return {
        "users": ["default", {"name": ADMIN_USER, "lock_passwd": True, "shell": "/bin/bash",
                             "sudo": ["ALL=(ALL) NOPASSWD:ALL"], "ssh_authorized_keys": [public_key]}],
        "write_files": [_file(path, content, mode) for path, (content, mode) in settings.items()] + [
            _file(CHECK_TOOL, asset_text("services", "check.py"), "0755"),
            _file(CONFIGURE_SCRIPT, _configure_text(role), "0700"),
            _file(BOOT_SCRIPT, _boot_text(role), "0700"),
        ],
        "runcmd": [[BOOT_SCRIPT]],
    }


# Experimenters (the StudioML client) declare the StudioML.topic exchange, their rmq_ queues with their _response
# reporting queues, bind them, publish through the exchange and read their reports; nothing else.
MANAGEMENT_PORT = 15672
EXPERIMENTER_PERMISSIONS = {"configure": r"^(rmq_.*|StudioML\.topic)$",
                            "write": r"^(rmq_.*|StudioML\.topic|amq\.default)$",
                            "read": r"^(rmq_.*|StudioML\.topic)$"}


def rabbitmq_settings(runner_password: str, admin_password: str, experimenter_password: str,
                      tls: Tls, keda_password: str | None = None) -> dict[str, tuple[str, str]]:
    """The RabbitMQ VM's settings files, path -> (content, mode): users ``runner`` and ``admin`` (administrator) with
    full rights on ``/``, ``experimenter`` with :data:`EXPERIMENTER_PERMISSIONS`; TLS; the local check's settings.
    With ``keda_password`` (scale to zero): the management plugin on 15672 (KEDA's RabbitMQ scaler lists queues
    there, to match them as the runner does, by QUEUE_MATCH's expression) and user ``keda`` with the monitoring tag
    and no right on any queue or exchange."""
    def user(name: str, password: str, tags: list[str]) -> dict[str, Any]:
        return {"name": name, "password_hash": rabbit_hash(password),
                "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": tags}
    definitions = {
        "users": [user("runner", runner_password, []), user("admin", admin_password, ["administrator"]),
                  user("experimenter", experimenter_password, [])],
        "vhosts": [{"name": "/"}],
        "permissions": [{"user": u, "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"}
                        for u in ("runner", "admin")]
        + [{"user": "experimenter", "vhost": "/", **EXPERIMENTER_PERMISSIONS}]}
    conf = asset_text("services", "rabbitmq.conf")
    if keda_password:
        definitions["users"].append(user("keda", keda_password, ["monitoring"]))
        definitions["permissions"].append({"user": "keda", "vhost": "/", "configure": "^$", "write": "^$",
                                           "read": "^$"})
        conf += f"# scale_to_zero: KEDA reads queue lengths from the management API (the NSG admits the clusters)\n" \
                f"management.tcp.port = {MANAGEMENT_PORT}\n"
    check = {"amqp": {"host": "127.0.0.1", "port": AMQP_PORT, "user": "runner", "password": runner_password,
                      "vhost": "/"},
             "tls": {"host": "127.0.0.1", "port": AMQPS_PORT, "name": tls.name, "ca": f"{TLS_DIR}/ca.pem"}}
    return {"/etc/studioml/check.json": (json.dumps(check, indent=1), "0600"),
            "/etc/studioml/rabbitmq.conf": (conf, "0600"),
            # where rabbitmq-plugins keeps it, written directly: the configure script (and so the VM's boot digest,
            # whose change would re-make the VM) stays as it is
            "/etc/rabbitmq/enabled_plugins": ("[rabbitmq_management].\n" if keda_password else "[].\n", "0644"),
            "/etc/studioml/definitions.json": (json.dumps(definitions, indent=1), "0600"), **_tls_files(tls)}


def rabbitmq(public_key: str, settings: dict[str, tuple[str, str]]) -> str:
    """The RabbitMQ VM's cloud-config from its settings files (:func:`rabbitmq_settings`)."""
    return _render(_common(public_key, "rabbitmq", settings))


def s3_config(admin: S3Keys, runner: S3Keys, experimenter: S3Keys) -> dict[str, Any]:
    """SeaweedFS's ``s3.json``: an admin identity; the runner's and the experimenters', limited to the install's
    buckets."""
    scoped = [f"{action}:{bucket}" for bucket in buckets() for action in ("Read", "Write", "List", "Tagging")]
    return {"identities": [
        {"name": "admin", "credentials": [{"accessKey": admin.access, "secretKey": admin.secret}],
         "actions": ["Admin", "Read", "Write", "List", "Tagging"]},
        {"name": "runner", "credentials": [{"accessKey": runner.access, "secretKey": runner.secret}],
         "actions": scoped},
        {"name": "experimenter", "credentials": [{"accessKey": experimenter.access,
                                                  "secretKey": experimenter.secret}], "actions": scoped}]}


def files_settings(admin: S3Keys, runner: S3Keys, experimenter: S3Keys, tls: Tls) -> dict[str, tuple[str, str]]:
    """The file server VM's settings files, path -> (content, mode)."""
    endpoint = f"http://127.0.0.1:{S3_PORT}"
    check = {"s3": {"endpoint": endpoint, "access_key": runner.access, "secret_key": runner.secret},
             "s3_admin": {"endpoint": endpoint, "access_key": admin.access, "secret_key": admin.secret},
             "tls": {"host": "127.0.0.1", "port": S3_HTTPS_PORT, "name": tls.name, "ca": f"{TLS_DIR}/ca.pem"}}
    return {"/etc/studioml/check.json": (json.dumps(check, indent=1), "0600"),
            "/etc/studioml/s3.json": (json.dumps(s3_config(admin, runner, experimenter), indent=1), "0600"),
            **_tls_files(tls)}


def settings_digest(settings: dict[str, tuple[str, str]]) -> str:
    """A digest of a VM's settings files (a VM tag records what it was last given; of high-entropy secrets, so it
    tells nothing of them)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def delivery_script(settings: dict[str, tuple[str, str]]) -> list[str]:
    """RunShellScript lines that write the settings files (as base64, never echoed) and run the configure script."""
    lines = ["set -euo pipefail", "umask 077", f"mkdir -p {TLS_DIR}"]
    for path, (content, mode) in settings.items():
        blob = base64.b64encode(content.encode()).decode()
        lines += [f"echo {blob} | base64 -d > {path}.new", f"chmod {mode} {path}.new", f"mv {path}.new {path}"]
    return [*lines, f"{CONFIGURE_SCRIPT} || true"]


def files(public_key: str, settings: dict[str, tuple[str, str]]) -> str:
    """The file server VM's cloud-config: the data disk at /data, SeaweedFS with its S3 gateway on 8333 (and 443 over
    TLS)."""
    doc = _common(public_key, "files", settings)
    doc["write_files"] += [
        _file("/etc/systemd/system/seaweedfs.service", asset_text("services", "seaweedfs.service"), "0644")]
    doc["disk_setup"] = {DATA_DEVICE: {"table_type": "gpt", "layout": True, "overwrite": False}}
    doc["fs_setup"] = [{"label": "studioml_data", "filesystem": "ext4", "device": DATA_DEVICE, "partition": "auto"}]
    doc["mounts"] = [["LABEL=studioml_data", "/data", "auto", "defaults,nofail,nosuid,nodev", "0", "2"]]
    return _render(doc)


def _render(doc: dict[str, Any]) -> str:
    return "#cloud-config\n" + yaml.safe_dump(doc, sort_keys=False, width=1000)
