"""Which cloud to talk to and how to sign in to it.

A :class:`Cloud` is endpoints plus an optional CA bundle: one of Azure's national clouds, or any other cloud
reached through ``--arm-endpoint/--authority/--graph-endpoint/--prices-endpoint/--ca-bundle`` (a ``sandbox
serve`` among them). Nothing above the adapters knows which it is.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from azure.core.credentials import TokenCredential
from azure.core.exceptions import ClientAuthenticationError

from ..errors import InputError, LoginError

AZURE_CLI_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"  # the public client az itself signs in with


@dataclass(frozen=True)
class Cloud:
    """Endpoints of one cloud."""

    name: str
    arm: str
    authority: str
    graph: str
    prices: str
    ca_bundle: str | None = None
    registry: str | None = "https://{host}"  # data-plane base of a registry; None: not reachable from here
    arm_audience: str = "https://management.azure.com"
    graph_audience: str = "https://graph.microsoft.com"
    custom: bool = False
    portal: str = "https://portal.azure.com"
    acr_suffix: str = "azurecr.io"  # registries' login server is <name>.<suffix> (azurecr.cn, azurecr.us elsewhere)

    @property
    def arm_scope(self) -> str:
        """The token scope for ARM."""
        return self.arm_audience.rstrip("/") + "/.default"

    @property
    def graph_scope(self) -> str:
        """The token scope for Microsoft Graph."""
        return self.graph_audience.rstrip("/") + "/.default"

    def verify(self) -> str | bool:
        """``connection_verify`` for the SDK transports."""
        return self.ca_bundle or True


CLOUDS = {
    "AzureCloud": Cloud("AzureCloud", "https://management.azure.com", "https://login.microsoftonline.com",
                        "https://graph.microsoft.com", "https://prices.azure.com/api/retail/prices"),
    "AzureChinaCloud": Cloud("AzureChinaCloud", "https://management.chinacloudapi.cn", "https://login.chinacloudapi.cn",
                             "https://microsoftgraph.chinacloudapi.cn", "https://prices.azure.com/api/retail/prices",
                             arm_audience="https://management.chinacloudapi.cn",
                             graph_audience="https://microsoftgraph.chinacloudapi.cn", acr_suffix="azurecr.cn",
                             portal="https://portal.azure.cn"),
    "AzureUSGovernment": Cloud("AzureUSGovernment", "https://management.usgovcloudapi.net",
                               "https://login.microsoftonline.us", "https://graph.microsoft.us",
                               "https://prices.azure.com/api/retail/prices", arm_audience="https://management.usgovcloudapi.net",
                               graph_audience="https://graph.microsoft.us", acr_suffix="azurecr.us",
                               portal="https://portal.azure.us"),
}


def _check_pem(path: str) -> None:
    """A CA bundle must load as PEM certificates (else every request would fail later, blamed on the sign-in)."""
    import ssl

    try:
        ssl.create_default_context(cafile=path)
    except (ssl.SSLError, ValueError, UnicodeDecodeError) as err:
        raise InputError(f"--ca-bundle {path} holds no PEM CA certificate that loads ({type(err).__name__}: "
                         f"{getattr(err, 'reason', None) or err}).",
                         "point it at a PEM file of CA certificates (-----BEGIN CERTIFICATE----- blocks)") from None
    except OSError as err:
        raise InputError(f"--ca-bundle {path} cannot be read: {err.strerror}.", "check the file's permissions") \
            from None


def cloud_from_options(name: str, *, arm: str | None = None, authority: str | None = None, graph: str | None = None,
                       prices: str | None = None, ca_bundle: str | None = None,
                       registry: str | None = None) -> Cloud:
    """A named cloud, with any endpoint overridden (then it is a custom cloud)."""
    if name not in CLOUDS:
        raise InputError(f"--cloud {name!r} is not a cloud the wizard knows.", "use " + ", ".join(CLOUDS))
    base = CLOUDS[name]
    overrides = {k: v.rstrip("/") for k, v in (("arm", arm), ("authority", authority), ("graph", graph),
                                                ("prices", prices)) if v}
    for key, value in overrides.items():
        if not value.startswith("https://"):
            raise InputError(f"--{key}-endpoint {value!r} must be an https:// URL.", "give the full https:// URL")
    if registry is not None and not registry.startswith("https://"):  # the principal's password goes there
        raise InputError(f"--registry-endpoint {registry!r} must be an https:// URL (the service principal's "
                         "password is sent to it).", "give the full https:// URL, such as https://{host}")
    if ca_bundle and not os.path.isfile(ca_bundle):
        raise InputError(f"--ca-bundle {ca_bundle!r} is not a file.", "point it at a PEM file of CA certificates")
    if ca_bundle:
        _check_pem(ca_bundle)
    if not overrides and not ca_bundle and registry is None:
        return base
    return replace(base, name=f"{name} (custom endpoints)" if overrides else name, ca_bundle=ca_bundle,
                   registry=registry or (None if overrides else base.registry), custom=bool(overrides), **overrides)


@dataclass
class Login:
    """A signed-in credential and what it is."""

    credential: TokenCredential
    how: str
    tenant_id: str
    default_subscription: str | None = None  # az's default (``az account set``), when the login is az's


def _az_profile(cloud: Cloud) -> Login | None:
    """The login ``az login`` left in ``AZURE_CONFIG_DIR`` (``~/.azure``), read with azure-cli-core, when az's
    active cloud is this one; no ``az`` executable needed."""
    config = Path(os.environ.get("AZURE_CONFIG_DIR") or Path.home() / ".azure")
    if not (config / "azureProfile.json").exists():
        return None
    from azure.cli.core import get_default_cli
    from azure.cli.core._profile import Profile

    cli = get_default_cli()
    if str(cli.cloud.endpoints.resource_manager).rstrip("/") != cloud.arm.rstrip("/"):
        return None  # signed in to another cloud
    try:
        profile = Profile(cli_ctx=cli)
        credential, subscription, tenant = profile.get_login_credentials()
        user = profile.get_current_account_user()
    except Exception:  # azure-cli-core's CLIError and friends: not signed in, expired, ...
        return None
    return Login(credential, f"your az CLI login ({user})", str(tenant), str(subscription))


def _tenant_of(credential: TokenCredential, cloud: Cloud) -> str:
    token = credential.get_token(cloud.arm_scope).token
    try:
        payload = token.split(".")[1]
        claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return str(claims["tid"])
    except (IndexError, KeyError, ValueError):
        raise LoginError("the token from the sign-in names no tenant.", "sign in again") from None


def _common(cloud: Cloud) -> dict[str, Any]:
    kw: dict[str, Any] = {"authority": cloud.authority}
    if cloud.ca_bundle:
        kw["connection_verify"] = cloud.ca_bundle
    if cloud.custom:
        kw["disable_instance_discovery"] = True
    return kw


def login(cloud: Cloud, *, interactive: bool, on_device_code: Callable[[str, str], None] | None = None) -> Login:
    """Sign in: an existing az CLI login, else a service principal from ``AZURE_CLIENT_ID``/``AZURE_CLIENT_SECRET``
    /``AZURE_TENANT_ID``, else (when a person is there) the device code flow."""
    from azure.identity import AzureCliCredential, ClientSecretCredential, DeviceCodeCredential

    tried: list[str] = []
    reused = _az_profile(cloud)
    if reused is not None:
        return reused
    if not cloud.custom and shutil.which("az"):
        cli = AzureCliCredential(process_timeout=30)
        try:
            return Login(cli, "your az CLI login", _tenant_of(cli, cloud))
        except ClientAuthenticationError:
            tried.append("az CLI (not signed in)")
    env = {k: os.environ.get(k, "") for k in ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID")}
    if all(env.values()):
        sp = ClientSecretCredential(env["AZURE_TENANT_ID"], env["AZURE_CLIENT_ID"], env["AZURE_CLIENT_SECRET"],
                                    **_common(cloud))
        try:
            return Login(sp, f"service principal {env['AZURE_CLIENT_ID']}", _tenant_of(sp, cloud))
        except ClientAuthenticationError as err:
            raise LoginError(f"the service principal in AZURE_CLIENT_ID could not sign in: {err.message}",
                             "check AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and AZURE_TENANT_ID") from None
    tried.append("AZURE_CLIENT_ID/AZURE_CLIENT_SECRET/AZURE_TENANT_ID (not set)")
    if interactive:
        def prompt(uri: str, code: str, _expires: Any) -> None:
            (on_device_code or (lambda u, c: print(f"To sign in, open {u} and enter the code {c}",
                                                   file=sys.stderr)))(uri, code)
        dc = DeviceCodeCredential(client_id=AZURE_CLI_CLIENT_ID, tenant_id=os.environ.get("AZURE_TENANT_ID") or
                                  "organizations", prompt_callback=prompt, **_common(cloud))
        try:
            return Login(dc, "device code sign-in", _tenant_of(dc, cloud))
        except ClientAuthenticationError as err:
            raise LoginError(f"device code sign-in failed: {err.message}", "run again and enter the code") from None
    tried.append("device code (no person at a terminal)")
    raise LoginError("no way to sign in: tried " + "; ".join(tried) + ".",
                     "run `az login`, or set AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and AZURE_TENANT_ID, or run in a "
                     "terminal for the device code flow")


def sandbox_login(cloud: Cloud, tenant_id: str, client_id: str, client_secret: str) -> Login:
    """The embedded sandbox's administrator (the secret stays in this process's memory)."""
    from azure.identity import ClientSecretCredential

    cred = ClientSecretCredential(tenant_id, client_id, client_secret, **_common(cloud))
    return Login(cred, "the sandbox administrator", tenant_id)
