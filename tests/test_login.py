"""The sign-in chain against the sandbox authority: service principal from AZURE_*, device code, and the
messages when neither works."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import RunningSandbox
from tests.engine.helpers import az_login
from wizard.azure.cloud import cloud_from_options, login
from wizard.errors import InputError, LoginError


def _cloud(sandbox: RunningSandbox):  # type: ignore[no-untyped-def]
    info = sandbox.info
    return cloud_from_options("AzureCloud", arm=info["arm"], authority=info["authority"], graph=info["graph"],
                              prices=info["prices"], ca_bundle=info["ca_bundle"])


def _clear(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID"):
        monkeypatch.delenv(name, raising=False)


def test_service_principal_from_the_environment(sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    _clear(monkeypatch)
    info = sandbox.info
    monkeypatch.setenv("AZURE_CLIENT_ID", info["client_id"])
    monkeypatch.setenv("AZURE_CLIENT_SECRET", info["client_secret"])
    monkeypatch.setenv("AZURE_TENANT_ID", info["tenant_id"])
    signed_in = login(_cloud(sandbox), interactive=False)
    assert signed_in.tenant_id == info["tenant_id"] and "service principal" in signed_in.how
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "wrong")
    with pytest.raises(LoginError, match="could not sign in"):
        login(_cloud(sandbox), interactive=False)


def test_device_code_shows_the_code_and_signs_in(sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    _clear(monkeypatch)
    monkeypatch.setenv("AZURE_TENANT_ID", sandbox.info["tenant_id"])
    shown: list[tuple[str, str]] = []
    signed_in = login(_cloud(sandbox), interactive=True, on_device_code=lambda url, code: shown.append((url, code)))
    assert signed_in.how == "device code sign-in" and signed_in.tenant_id == sandbox.info["tenant_id"]
    assert len(shown) == 1 and shown[0][0].startswith("https://") and shown[0][1]


def test_no_way_to_sign_in_says_what_to_do(sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    _clear(monkeypatch)
    with pytest.raises(LoginError) as err:
        login(_cloud(sandbox), interactive=False)
    assert "az login" in err.value.hint and "AZURE_CLIENT_ID" in err.value.hint


def test_endpoint_options_are_checked() -> None:
    with pytest.raises(InputError, match="https://"):
        cloud_from_options("AzureCloud", arm="http://127.0.0.1:1")
    with pytest.raises(InputError, match="not a file"):
        cloud_from_options("AzureCloud", ca_bundle="/no/such/ca.pem")
    with pytest.raises(InputError, match="must be an https:// URL"):  # the principal's password would go out as
        cloud_from_options("AzureCloud", registry="http://127.0.0.1:1/{host}")  # Basic auth in the clear
    gov = cloud_from_options("AzureUSGovernment")
    assert gov.arm_scope == "https://management.usgovcloudapi.net/.default" and not gov.custom


REUSE = """
import json, sys
from wizard.azure.cloud import cloud_from_options, login
from wizard.errors import LoginError
info, arm = json.loads(sys.stdin.read()), sys.argv[1]
cloud = cloud_from_options("AzureCloud", arm=arm, authority=info["authority"], graph=info["graph"],
                           prices=info["prices"], ca_bundle=info["ca_bundle"])
try:
    signed_in = login(cloud, interactive=False)
except LoginError as err:
    print(json.dumps({"error": err.message}))
else:
    print(json.dumps({"how": signed_in.how, "tenant": signed_in.tenant_id, "default": signed_in.default_subscription}))
"""


def test_an_existing_az_login_is_reused(sandbox: RunningSandbox, tmp_path: Path) -> None:
    """In a process of its own, as the wizard runs (azure-cli-core fixes its folder when first imported)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AZURE_")}
    env.update(az_login(sandbox, tmp_path / "azure"))

    def reuse(arm: str) -> dict[str, str]:
        proc = subprocess.run([sys.executable, "-c", REUSE, arm], input=json.dumps(sandbox.info), capture_output=True,
                              text=True, env=env, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return dict(json.loads(proc.stdout.strip().splitlines()[-1]))

    found = reuse(sandbox.info["arm"])
    assert found["how"].startswith("your az CLI login") and found["tenant"] == sandbox.info["tenant_id"]
    assert found["default"] == sandbox.info["subscriptions"][2]  # `az account set`'s choice
    assert "error" in reuse("https://127.0.0.1:1")  # az is signed in to another cloud than this one: not reused


def test_a_registry_token_exchange_goes_only_to_https_on_the_registry(sandbox: RunningSandbox) -> None:
    """A 401 challenge whose realm is plain http or another host is refused before the password is sent."""
    from wizard.errors import RefusedError
    from wizard.steps.identity import token_exchange

    url = "https://leafai1.azurecr.io/v2/leafai1/studio-go-runner/tags/list"
    ok = token_exchange('Bearer realm="https://leafai1.azurecr.io/oauth2/token",service="leafai1.azurecr.io"', url)
    assert ok["service"] == "leafai1.azurecr.io"
    for realm in ("http://leafai1.azurecr.io/oauth2/token", "https://collector.example/oauth2/token"):
        with pytest.raises(RefusedError, match="not sent"):
            token_exchange(f'Bearer realm="{realm}",service="leafai1.azurecr.io"', url)
    # and the CLI refuses a plain-http registry endpoint before any request (exit 2)
    info = sandbox.info
    proc = subprocess.run([sys.executable, "-m", "wizard.cli", "status", "--arm-endpoint", info["arm"],
                           "--registry-endpoint", "http://127.0.0.1:1/{host}"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 2 and "must be an https:// URL" in proc.stderr, proc.stderr
