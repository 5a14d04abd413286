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
    gov = cloud_from_options("AzureUSGovernment")
    assert gov.arm_scope == "https://management.usgovcloudapi.net/.default" and not gov.custom


AZ_LOGIN = """
import os, sys, json
from azure.cli.core import get_default_cli
from azure.cli.core.cloud import Cloud, CloudEndpoints, CloudSuffixes, add_cloud, switch_active_cloud
from azure.cli.core._profile import Profile
info = json.loads(sys.stdin.read())
cli = get_default_cli()
add_cloud(cli, Cloud("StudioSandbox", endpoints=CloudEndpoints(
    resource_manager=info["arm"] + "/", active_directory=info["authority"],
    active_directory_resource_id="https://management.core.windows.net/",
    microsoft_graph_resource_id="https://graph.microsoft.com/", management="https://management.core.windows.net/"),
    suffixes=CloudSuffixes()))
switch_active_cloud(cli, "StudioSandbox")
cli.config.set_value("core", "instance_discovery", "false")
Profile(cli_ctx=get_default_cli()).login(False, info["client_id"], {"client_secret": info["client_secret"]}, True,
                                         info["tenant_id"], skip_subscription_discovery=True,
                                         subscription=info["subscriptions"][2])
"""


def az_login(sandbox: RunningSandbox, config_dir: Path) -> dict[str, str]:
    """What `az cloud register` + `az login --service-principal` leave behind, made by azure-cli-core itself;
    returns the environment that points at it (the sandbox CA for az's own HTTP stack)."""
    env = {**os.environ, "AZURE_CONFIG_DIR": str(config_dir), "REQUESTS_CA_BUNDLE": sandbox.info["ca_bundle"]}
    for name in ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID"):
        env.pop(name, None)
    proc = subprocess.run([sys.executable, "-c", AZ_LOGIN], input=json.dumps(sandbox.info), capture_output=True,
                          text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {"AZURE_CONFIG_DIR": env["AZURE_CONFIG_DIR"], "REQUESTS_CA_BUNDLE": env["REQUESTS_CA_BUNDLE"]}


def test_an_existing_az_login_is_reused(sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch,
                                        tmp_path: Path) -> None:
    _clear(monkeypatch)
    for key, value in az_login(sandbox, tmp_path / "azure").items():
        monkeypatch.setenv(key, value)
    signed_in = login(_cloud(sandbox), interactive=False)
    assert signed_in.how.startswith("your az CLI login") and signed_in.tenant_id == sandbox.info["tenant_id"]
    assert signed_in.default_subscription == sandbox.info["subscriptions"][2]  # `az account set`'s choice
    other = cloud_from_options("AzureCloud", arm="https://127.0.0.1:1", authority=sandbox.info["authority"],
                               ca_bundle=sandbox.info["ca_bundle"])
    with pytest.raises(LoginError):  # az is signed in to another cloud than this one: not reused
        login(other, interactive=False)
