"""The check tool the service VMs and probe pods run (``assets/services/check.py``), tested as it runs: the real
script in a real interpreter, against real sockets, and its S3 signature against AWS's published examples."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path

from tests.conftest import ROOT
from tests.engine.helpers import check_tool

TOOL = ROOT / "assets" / "services" / "check.py"


def test_sigv4_matches_the_aws_documentation_examples() -> None:
    """"Signature Calculations for the Authorization Header", Amazon S3 API reference: GET Bucket Lifecycle and
    GET Bucket (List Objects), example keys, 2013-05-24."""
    tool = check_tool()
    key, secret = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    host, when = "examplebucket.s3.amazonaws.com", "20130524T000000Z"
    lifecycle = tool.authorization("GET", host, "/", {"lifecycle": ""}, when, key, secret)
    assert lifecycle.endswith("Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
    listing = tool.authorization("GET", host, "/", {"prefix": "J", "max-keys": "2"}, when, key, secret)
    assert listing.endswith("Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    assert "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request" in listing


def test_wait_port_and_probe_over_real_sockets(tmp_path: Path) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    threading.Thread(target=lambda: [server.accept() for _ in range(3)], daemon=True).start()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead = closed.getsockname()[1]
    closed.close()  # nothing listens there any more
    ok = subprocess.run([sys.executable, str(TOOL), "wait-port", "127.0.0.1", str(port), "5"], capture_output=True,
                        text=True, check=False)
    assert ok.returncode == 0 and ok.stdout.strip() == f"port 127.0.0.1:{port}: open"
    probe = subprocess.run([sys.executable, str(TOOL), "probe", "--tcp", f"127.0.0.1:{port}", "--tcp",
                            f"127.0.0.1:{dead}"], capture_output=True, text=True, check=False)
    assert probe.returncode == 1, probe.stdout
    lines = probe.stdout.splitlines()
    assert lines[0] == f"tcp 127.0.0.1:{port}: ok (open)" and lines[1].startswith(f"tcp 127.0.0.1:{dead}: failed:")
    server.close()


def test_boot_scripts_are_valid_bash(tmp_path: Path) -> None:
    """The scripts as the VMs get them (their shared start and pinned values filled in) parse in bash."""
    from wizard.vmconfig import _boot_text

    for role in ("rabbitmq", "files"):
        text = _boot_text(role)
        assert "@" not in text.replace("$@", "") and text.startswith("#!/bin/bash\n"), text[:300]
        (tmp_path / role).write_text(text)
        checked = subprocess.run(["bash", "-n", str(tmp_path / role)], capture_output=True, text=True, check=False)
        assert checked.returncode == 0, f"{role}: {checked.stderr}"
