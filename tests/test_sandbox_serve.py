"""``studioml-azure sandbox serve|reset`` as a person runs them: ready line, signals, persistence, faults."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.mgmt.containerregistry import ContainerRegistryManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient

from .conftest import ROOT, admin_credential, start_sandbox

KEYS = {"arm", "authority", "graph", "prices", "ca_bundle", "tenant_id", "subscriptions", "client_id", "client_secret"}


def _rm(info: dict[str, Any], **kw: Any) -> ResourceManagementClient:
    cred = admin_credential(info)
    return ResourceManagementClient(cred, info["subscriptions"][0], base_url=info["arm"],
                                    connection_verify=info["ca_bundle"], **kw)


def test_ready_line_sigterm_and_persistence(tmp_path: Path) -> None:
    started = time.monotonic()
    first = start_sandbox(tmp_path, "--speed", "100")
    assert time.monotonic() - started < 5
    assert set(first.info) >= KEYS and len(first.info["subscriptions"]) >= 2
    assert Path(first.info["ca_bundle"]).read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert (tmp_path / "pki" / "ca.key").stat().st_mode & 0o077 == 0
    _rm(first.info).resource_groups.create_or_update("kept", {"location": "eastus"})
    assert first.stop() == 0
    second = start_sandbox(tmp_path, "--speed", "100")
    try:
        assert second.info["subscriptions"] == first.info["subscriptions"]
        assert _rm(second.info).resource_groups.get("kept").location == "eastus"
    finally:
        assert second.stop() == 0


def test_sigint_and_reset(tmp_path: Path) -> None:
    import signal
    running = start_sandbox(tmp_path)
    running.proc.send_signal(signal.SIGINT)
    assert running.proc.wait(timeout=20) == 0
    out = subprocess.run([sys.executable, "-m", "wizard.cli", "sandbox", "reset", "--dir", str(tmp_path)],
                         capture_output=True, text=True, cwd=ROOT, check=True)
    assert "wiped" in out.stdout and not tmp_path.exists()


@pytest.mark.parametrize("args,needle", [(["--faults", "bogus=1"], "unknown fault kind"),
                                         (["--faults", "429=2"], "from 0 to 1"), (["--speed", "0"], "--speed")])
def test_bad_arguments_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    out = subprocess.run([sys.executable, "-m", "wizard.cli", "sandbox", "serve", "--dir", str(tmp_path), *args],
                         capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert out.returncode == 2 and needle in out.stderr


def test_reset_refuses_a_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    out = subprocess.run([sys.executable, "-m", "wizard.cli", "sandbox", "reset", "--dir", str(tmp_path)],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 2 and (tmp_path / "precious.txt").exists()


def test_injected_faults(tmp_path: Path) -> None:
    running = start_sandbox(tmp_path, "--speed", "200", "--faults", "429=0.3,500=0.1,503=0.1,reset=0.05,seed=7")
    try:
        info = running.info
        rm = _rm(info, retry_total=30, retry_status=30, retry_connect=30, retry_read=30, retry_backoff_factor=0.01)
        for i in range(8):  # the SDK's retry policy rides through 429/5xx/resets
            rm.resource_groups.create_or_update(f"rg{i}", {"location": "eastus"})
        for status in (500, 503):
            assert _first(info, status).json()["error"]["code"] in ("InternalServerError", "ServiceUnavailable")
        throttled = _first(info, 429)
        assert throttled.headers.get("Retry-After") or throttled.headers.get("retry-after-ms")
        assert throttled.json()["error"]["code"] == "TooManyRequests"
        requests.post(f"{info['arm']}/sandbox/faults", data={"spec": "lro_fail=1"}, verify=info["ca_bundle"],
                      timeout=10)
        acr = ContainerRegistryManagementClient(rm._config.credential, info["subscriptions"][0], base_url=info["arm"],
                                                connection_verify=info["ca_bundle"], polling_interval=0.05)
        with pytest.raises(HttpResponseError, match="injected lro_fail"):
            acr.registries.begin_create("rg0", "leafaifault1", {"location": "eastus",
                                                                "sku": {"name": "Basic"}}).result()
        assert acr.registries.get("rg0", "leafaifault1").provisioning_state == "Failed"
    finally:
        running.stop()


def _first(info: dict[str, Any], status: int) -> requests.Response:
    for _ in range(200):
        try:
            resp = requests.get(f"{info['arm']}/subscriptions?api-version=2016-06-01", verify=info["ca_bundle"],
                                timeout=10)
        except requests.ConnectionError:
            continue
        if resp.status_code == status:
            return resp
    raise AssertionError(f"no {status} in 200 requests")


def test_secret_material_is_sealed_at_rest(tmp_path: Path) -> None:
    """Kubernetes Secret data, registry admin passwords and cluster tokens never sit in state.json in clear."""
    import base64
    import json as _json

    from wizard.sandbox.store import SEALED, Store

    store = Store(tmp_path)
    hidden = base64.b64encode(b"hunter2").decode()
    store.data["kube"]["k"] = {"objects": {"s": {"kind": "Secret", "data": {"p": hidden}},
                                           "c": {"kind": "ConfigMap", "data": {"x": "plain"}}}}
    store.data["resources"]["r"] = {"admin_passwords": ["pw-one", "pw-two"], "kube": {"user_token": "tok", "key": "k"}}
    store.save()
    text = (tmp_path / "state.json").read_text()
    for clear in ("aHVudGVyMg==", "pw-one", "pw-two", '"tok"'):
        assert clear not in text
    assert text.count(SEALED) == 4 and '"plain"' in text and '"key":"k"' in text
    assert oct((tmp_path / "pki" / "state.key").stat().st_mode & 0o777) == "0o600"
    again = Store(tmp_path)
    assert again.data["kube"]["k"]["objects"]["s"]["data"]["p"] == "aHVudGVyMg=="
    assert again.data["resources"]["r"]["admin_passwords"] == ["pw-one", "pw-two"]
    assert _json.loads(text)["resources"]["r"]["kube"]["key"] == "k"


def test_stop_ends_a_background_serve(tmp_path: Path) -> None:
    running = start_sandbox(tmp_path / "sb", "--speed", "100")
    pid_file = tmp_path / "sb" / "serve.pid"
    assert pid_file.read_text().strip() == str(running.proc.pid)
    out = subprocess.run([sys.executable, "-m", "wizard.cli", "sandbox", "stop", "--dir", str(tmp_path / "sb")],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0 and "Sandbox stopped" in out.stdout
    assert running.proc.wait(timeout=10) == 0 and not pid_file.exists()
    for flags in (["sandbox", "stop", "--sandbox-dir", str(tmp_path / "sb")],  # apply's flag, after or before
                  ["--sandbox-dir", str(tmp_path / "sb"), "sandbox", "stop"]):
        again = subprocess.run([sys.executable, "-m", "wizard.cli", *flags], capture_output=True, text=True,
                               timeout=60, check=False)
        assert again.returncode == 0 and f"No sandbox is serving {tmp_path / 'sb'}." in again.stdout, again.stdout


def test_stop_never_signals_a_process_a_stale_pid_file_names(tmp_path: Path) -> None:
    """A server killed with -9 (or gone with a reboot) leaves serve.pid behind, and its pid may since belong to
    any process: ``sandbox stop`` asks the folder's server for its pid (over its CA) and leaves that one alone."""
    running = start_sandbox(tmp_path / "sb", "--speed", "100")
    running.proc.kill()
    running.proc.wait(timeout=10)
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        (tmp_path / "sb" / "serve.pid").write_text(str(bystander.pid))
        out = subprocess.run([sys.executable, "-m", "wizard.cli", "sandbox", "stop", "--dir", str(tmp_path / "sb")],
                             capture_output=True, text=True, timeout=60, check=False)
        assert out.returncode == 0 and "No sandbox is serving" in out.stdout, out.stdout + out.stderr
        assert bystander.poll() is None, "the bystander was signalled"
        assert not (tmp_path / "sb" / "serve.pid").exists()
    finally:
        bystander.kill()
        bystander.wait()


def test_a_busy_servers_command_line_is_matched_by_its_folder(tmp_path: Path) -> None:
    """When the server is too busy to answer its health check, its pid file counts only if that process is
    ``sandbox serve`` of this very folder (relative --dir resolved from its working directory)."""
    from wizard.sandbox.control import _serves

    serve = [sys.executable, "-m", "wizard.cli", "sandbox", "serve", "--dir", "sb", "--speed", "5"]
    assert _serves(serve, tmp_path, tmp_path / "sb")
    assert _serves([*serve[:6], f"--dir={tmp_path / 'sb'}"], Path("/"), tmp_path / "sb")
    assert _serves([*serve[:6], "--sandbox-dir", "sb"], tmp_path, tmp_path / "sb")
    assert not _serves(serve, tmp_path, tmp_path / "other")
    assert not _serves(["sleep", "--dir", "sb"], tmp_path, tmp_path / "sb")
    assert not _serves(serve[:6], tmp_path, tmp_path / "sb")  # no --dir: not provably this folder


def test_the_ca_vouches_for_the_sandbox_only_and_for_a_year(tmp_path: Path) -> None:
    """The CA a person trusts is name-constrained (critical) to loopback names and addresses, valid a year at most;
    an earlier version's ten-year unconstrained CA is replaced on the next start, and the SDKs still connect."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pki = tmp_path / "pki"
    pki.mkdir(mode=0o700)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "old sandbox CA")])
    now = dt.datetime.now(dt.UTC)
    old = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
           .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=3650))
           .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    (pki / "ca.pem").write_bytes(old.public_bytes(serialization.Encoding.PEM))
    (pki / "ca.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
    served = start_sandbox(tmp_path, "--speed", "100")
    try:
        ca = x509.load_pem_x509_certificate(Path(served.info["ca_bundle"]).read_bytes())
        assert ca.subject != name
        constraints = ca.extensions.get_extension_for_class(x509.NameConstraints)
        assert constraints.critical
        permitted = constraints.value.permitted_subtrees or []
        assert x509.IPAddress(ipaddress.ip_network("127.0.0.0/8")) in permitted
        assert x509.DNSName("localhost") in permitted and len(permitted) == 3
        assert ca.not_valid_after_utc - ca.not_valid_before_utc <= dt.timedelta(days=366)
        leaf = x509.load_pem_x509_certificate((pki / "server.pem").read_bytes())
        assert leaf.not_valid_after_utc <= ca.not_valid_after_utc
        assert _rm(served.info).resource_groups.create_or_update("rg", {"location": "eastus"}).name == "rg"
    finally:
        served.stop()
