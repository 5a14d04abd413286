"""The service VMs' cloud-init: a ``#cloud-config`` per role, built from ``assets/services`` and the keyring's
secrets, that installs, configures, starts and checks the service, and stops loudly at the first failure.

What each VM holds: root-only (0600) files under ``/etc/studioml`` with the service's configuration (RabbitMQ's
definitions carry salted password hashes, SeaweedFS's ``s3.json`` the S3 keys) and ``check.json`` with the
credentials its local protocol check logs in with; the check tool (``assets/services/check.py``); the boot script,
run once by ``runcmd`` and again through Run Command when a run failed. Azure keeps customData with the VM,
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
AMQP_PORT, S3_PORT = 5672, 8333
CHECK_TOOL = "/usr/local/lib/studioml/check.py"
BOOT_SCRIPT = "/usr/local/sbin/studioml-boot"
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


def _boot_text(role: str) -> str:
    text = asset_text("services", f"{role}-boot.sh").replace("@COMMON@\n", asset_text("services", "boot-common.sh"))
    sw = versions()["seaweedfs"]
    return (text.replace("@SEAWEEDFS_URL@", sw["url"]).replace("@SEAWEEDFS_VERSION@", sw["version"])
            .replace("@BUCKETS@", " ".join(buckets())))


def boot_digest(role: str) -> str:
    """A short digest of everything a role's VM is made from except secrets: a VM tagged with another digest was made
    from other scripts or versions and is replaced."""
    parts = [role, _boot_text(role), asset_text("services", "check.py"), json.dumps(versions(), sort_keys=True)]
    parts += [asset_text("services", "rabbitmq.conf")] if role == "rabbitmq" else \
        [asset_text("services", "seaweedfs.service")]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


def _file(path: str, content: str, mode: str) -> dict[str, Any]:
    return {"path": path, "content": content, "permissions": mode, "owner": "root:root"}


def _common(public_key: str, role: str, check: dict[str, Any]) -> dict[str, Any]:
    return {
        "users": ["default", {"name": ADMIN_USER, "lock_passwd": True, "shell": "/bin/bash",
                             "sudo": ["ALL=(ALL) NOPASSWD:ALL"], "ssh_authorized_keys": [public_key]}],
        "write_files": [
            _file("/etc/studioml/check.json", json.dumps(check, indent=1), "0600"),
            _file(CHECK_TOOL, asset_text("services", "check.py"), "0755"),
            _file(BOOT_SCRIPT, _boot_text(role), "0700"),
        ],
        "runcmd": [[BOOT_SCRIPT]],
    }


def rabbitmq(public_key: str, runner_password: str, admin_password: str) -> str:
    """The RabbitMQ VM's cloud-config: users ``runner`` and ``admin`` (administrator) with full rights on ``/``."""
    definitions = {
        "users": [{"name": "runner", "password_hash": rabbit_hash(runner_password),
                   "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": []},
                  {"name": "admin", "password_hash": rabbit_hash(admin_password),
                   "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": ["administrator"]}],
        "vhosts": [{"name": "/"}],
        "permissions": [{"user": u, "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"}
                        for u in ("runner", "admin")]}
    check = {"amqp": {"host": "127.0.0.1", "port": AMQP_PORT, "user": "runner", "password": runner_password,
                      "vhost": "/"}}
    doc = _common(public_key, "rabbitmq", check)
    doc["write_files"] += [_file("/etc/studioml/rabbitmq.conf", asset_text("services", "rabbitmq.conf"), "0600"),
                           _file("/etc/studioml/definitions.json", json.dumps(definitions, indent=1), "0600")]
    return _render(doc)


def s3_config(admin: S3Keys, runner: S3Keys) -> dict[str, Any]:
    """SeaweedFS's ``s3.json``: an admin identity, and the runner's, limited to the install's buckets."""
    scoped = [f"{action}:{bucket}" for bucket in buckets() for action in ("Read", "Write", "List", "Tagging")]
    return {"identities": [
        {"name": "admin", "credentials": [{"accessKey": admin.access, "secretKey": admin.secret}],
         "actions": ["Admin", "Read", "Write", "List", "Tagging"]},
        {"name": "runner", "credentials": [{"accessKey": runner.access, "secretKey": runner.secret}],
         "actions": scoped}]}


def files(public_key: str, admin: S3Keys, runner: S3Keys) -> str:
    """The file server VM's cloud-config: the data disk at /data, SeaweedFS with its S3 gateway on 8333."""
    endpoint = f"http://127.0.0.1:{S3_PORT}"
    check = {"s3": {"endpoint": endpoint, "access_key": runner.access, "secret_key": runner.secret},
             "s3_admin": {"endpoint": endpoint, "access_key": admin.access, "secret_key": admin.secret}}
    doc = _common(public_key, "files", check)
    doc["write_files"] += [
        _file("/etc/studioml/s3.json", json.dumps(s3_config(admin, runner), indent=1), "0600"),
        _file("/etc/systemd/system/seaweedfs.service", asset_text("services", "seaweedfs.service"), "0644")]
    doc["disk_setup"] = {DATA_DEVICE: {"table_type": "gpt", "layout": True, "overwrite": False}}
    doc["fs_setup"] = [{"label": "studioml_data", "filesystem": "ext4", "device": DATA_DEVICE, "partition": "auto"}]
    doc["mounts"] = [["LABEL=studioml_data", "/data", "auto", "defaults,nofail,nosuid,nodev", "0", "2"]]
    return _render(doc)


def _render(doc: dict[str, Any]) -> str:
    return "#cloud-config\n" + yaml.safe_dump(doc, sort_keys=False, width=1000)
