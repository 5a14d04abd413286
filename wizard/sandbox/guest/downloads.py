"""What the internet serves to a sandbox VM that has outbound access: a table of URLs, as the real hosts answer them.

The bytes of a release are stand-ins (the sandbox has no copy of any binary), but they are real bytes: their MD5 is
what the release's own ``.md5`` file holds, so a checksum a VM computes agrees with the published one exactly when
the bytes are the release's. Tests change what a URL serves through ``POST /sandbox/downloads`` (a host that stops
serving, a tampered mirror).

Sources for the table:
- MinIO's community downloads are gone: every binary on dl.min.io answers ``410 Gone`` since 2026-09-11, after the
  repository was archived in 2026-02 (``shared/runner/SOURCES.md``).
- SeaweedFS publishes each release at ``github.com/seaweedfs/seaweedfs/releases/download/<version>/<asset>`` with an
  ``<asset>.md5`` beside it holding the bare hex digest (its release workflows use go-release-action, whose
  ``md5sum: true`` default writes ``md5sum <asset> | cut -d ' ' -f 1``). Tags are the bare version ("4.44").
- Ubuntu's archive answers apt over http from every Azure region (``azure.archive.ubuntu.com``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

GONE_HOSTS = {"dl.min.io": "410 Gone"}  # whole hosts that no longer serve anything
SEAWEEDFS = "https://github.com/seaweedfs/seaweedfs/releases/download"
SEAWEEDFS_RELEASES = ("4.40", "4.41", "4.42", "4.43", "4.44")  # releases of 2026-07-20 .. 2026-08-22
SEAWEEDFS_ASSETS = ("linux_amd64.tar.gz", "linux_amd64_large_disk.tar.gz", "linux_arm64.tar.gz")
APT_HOSTS = ("azure.archive.ubuntu.com", "archive.ubuntu.com", "security.ubuntu.com")


@dataclass(frozen=True)
class Answer:
    """What a GET of a URL gets: a status and, for 200, the bytes."""

    status: int
    body: bytes = b""
    reason: str = "OK"


def _seaweedfs_tarball(version: str, asset: str) -> bytes:
    # A gzip magic number first, so a tool that looks at the format sees a tarball.
    return b"\x1f\x8b" + f"sandbox stand-in of SeaweedFS {version} {asset}: contains weed".encode()


def _table() -> dict[str, Answer]:
    out: dict[str, Answer] = {}
    for version in SEAWEEDFS_RELEASES:
        for asset in SEAWEEDFS_ASSETS:
            body = _seaweedfs_tarball(version, asset)
            url = f"{SEAWEEDFS}/{version}/{asset}"
            out[url] = Answer(200, body)
            out[url + ".md5"] = Answer(200, (hashlib.md5(body).hexdigest() + "\n").encode())
    out["https://raw.githubusercontent.com/minio/minio-service/master/linux-systemd/minio.service"] = Answer(
        200, b"[Unit]\nDescription=MinIO\n[Service]\nExecStart=/usr/local/bin/minio server $MINIO_VOLUMES\n")
    return out


TABLE = _table()


def answer(url: str, overrides: dict[str, Any]) -> Answer:
    """What ``url`` answers now (a test's override first)."""
    if url in overrides:
        o = overrides[url]
        status = int(o.get("status", 200))
        body = str(o.get("content", "")).encode() if status == 200 else b""
        return Answer(status, body, "OK" if status == 200 else str(o.get("reason") or REASONS.get(status, "")))
    host = urlsplit(url).hostname or ""
    if host in GONE_HOSTS:
        return Answer(410, b"", "Gone")
    found = TABLE.get(url)
    if found is not None:
        return found
    return Answer(404, b"", "Not Found")


def tarball_members(body: bytes) -> list[str]:
    """The files a stand-in tarball holds (a tampered one is not a tarball at all)."""
    text = body[2:].decode(errors="replace") if body.startswith(b"\x1f\x8b") else ""
    return [text.rsplit("contains ", 1)[1]] if "contains " in text else []


REASONS = {404: "Not Found", 403: "Forbidden", 410: "Gone", 500: "Internal Server Error", 503: "Service Unavailable"}
