"""The sign-in chain against the sandbox authority: service principal from AZURE_*, device code, and the
messages when neither works."""

from __future__ import annotations

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
