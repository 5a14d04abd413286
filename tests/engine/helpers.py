"""Run the real ``studioml-azure`` command against a sandbox and inspect what it left, independently of it."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import keyring
import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.identity import ClientSecretCredential
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient

from tests.conftest import ROOT, RunningSandbox, admin_credential, require_kubectl
from wizard.secrets import keyring_call

TOOL = ROOT / "assets" / "services" / "check.py"
ANSWERS = ROOT / "tests" / "data" / "answers.toml"
READ_ACTIONS = ("/listclusterusercredential", "/listclusteradmincredential", "/listcredentials",
                "/checknameavailability", "/oauth2/v2.0/token", "/oauth2/v2.0/devicecode")


@dataclass
class Home:
    """A private home for one wizard: state, data and log folders under ``root``."""

    root: Path

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The child's environment: no AZURE_* unless given, private XDG folders."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AZURE_")}
        env.update({"XDG_STATE_HOME": str(self.root / "state"), "XDG_DATA_HOME": str(self.root / "data"),
                    "XDG_CONFIG_HOME": str(self.root / "config"), "XDG_CACHE_HOME": str(self.root / "cache"),
                    "PYTHONUNBUFFERED": "1"})
        env.update(extra or {})
        return env


def answers_with(tmp_path: Path, **changes: Any) -> Path:
    """The acceptance answers with some keys changed, written to ``tmp_path/answers.toml``."""
    lines = [ln for ln in ANSWERS.read_text().splitlines() if ln.split(" = ")[0] not in changes]
    lines += [f"{k} = {json.dumps(v)}" for k, v in changes.items()]
    path = tmp_path / "answers.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def endpoint_args(info: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """The flags and AZURE_* variables that reach a ``sandbox serve`` from its ready line."""
    args = ["--arm-endpoint", info["arm"], "--authority", info["authority"], "--graph-endpoint", info["graph"],
            "--prices-endpoint", info["prices"], "--ca-bundle", info["ca_bundle"]]
    env = {"AZURE_CLIENT_ID": info["client_id"], "AZURE_CLIENT_SECRET": info["client_secret"],
           "AZURE_TENANT_ID": info["tenant_id"]}
    return args, env


def start(home: Home, command: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``studioml-azure <command> ...`` (JSON on stdout, progress on stderr)."""
    return subprocess.Popen([sys.executable, "-m", "wizard.cli", command, *args], cwd=ROOT, env=home.env(env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str], timeout: float = 240) -> tuple[int, dict[str, Any], str]:
    """Wait; returns (exit code, the stdout JSON document, stderr)."""
    out, err = proc.communicate(timeout=timeout)
    try:
        doc = json.loads(out) if out.strip() else {}
    except ValueError as exc:
        raise AssertionError(f"stdout is not one JSON document: {out[:500]!r}\n{err[-3000:]}") from exc
    return proc.returncode, doc, err


def run(home: Home, command: str, *args: str, env: dict[str, str] | None = None,
        timeout: float = 240) -> tuple[int, dict[str, Any], str]:
    """Run to the end."""
    return finish(start(home, command, *args, env=env), timeout)


def run_text(home: Home, command: str, *args: str, env: dict[str, str] | None = None,
             timeout: float = 240) -> tuple[int, str, str]:
    """Run to the end: (exit code, stdout as text, stderr)."""
    proc = start(home, command, *args, env=env)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def interrupt(proc: subprocess.Popen[str], after: float, sig: signal.Signals) -> None:
    """Send ``sig`` after ``after`` seconds (if still running)."""
    deadline = time.monotonic() + after
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    if proc.poll() is None:
        proc.send_signal(sig)


def _journal_starts(home: Home) -> list[str]:
    """The steps started so far, in order, across every journal under ``home`` (the wizard's own record)."""
    out: list[str] = []
    for path in sorted((home.root / "state").rglob("journal.jsonl")):
        for line in path.read_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line a kill tore
            if entry.get("event") == "started":
                out.append(entry["step"])
    return out


def interrupt_at(proc: subprocess.Popen[str], home: Home, step: str, sig: signal.Signals,
                 after: float = 0.0) -> None:
    """Send ``sig`` ``after`` seconds once this run has started ``step`` (read from the journal, so the moment is
    a point in the run's progress, the same on a fast or a slow machine); nothing if the run ends first."""
    wait_started(proc, home, step)
    interrupt(proc, after, sig)


def wait_started(proc: subprocess.Popen[str], home: Home, step: str) -> None:
    """Return once this run has started ``step`` (per the journal under ``home``), or has ended."""
    before = _journal_starts(home).count(step)
    while proc.poll() is None and _journal_starts(home).count(step) <= before:
        time.sleep(0.02)


def stored(service: str, user: str) -> str | None:
    """``keyring.get_password`` through the wizard's retry over gnome-keyring losing an item while other test
    processes write beside it (the race the wizard itself meets)."""
    return keyring_call(lambda: keyring.get_password(service, user))


def keyring_values(doc: dict[str, Any]) -> dict[str, str]:
    """The secrets the run names in its JSON, read from the keyring (the test shares its Secret Service)."""
    out = {}
    for ref in doc["regions"][0]["secrets"]["keyring"]:
        service, _, user = ref.removeprefix("keyring:").partition("/")
        value = stored(service, user)
        assert value, f"{ref} is not in the keyring"
        out[user.rsplit("/", 1)[-1]] = value
    return out


def files_containing(roots: list[Path], needles: dict[str, str]) -> list[str]:
    """``file: secret name`` for every file under ``roots`` that holds a secret value, its base64 (as a Secret's
    data holds it), or a line of a PEM."""
    probes: dict[str, list[bytes]] = {}
    for name, value in needles.items():
        lines = [ln for ln in value.splitlines() if len(ln) > 40 and "-----" not in ln]
        probes[name] = [value.encode(), base64.b64encode(value.encode())] + [ln.encode() for ln in lines[1:3]]
    hits = []
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                hits += [f"{path}: {n}" for n, ps in probes.items() if any(p in data for p in ps)]
    return hits


def requests_logged(sandbox: RunningSandbox) -> list[list[Any]]:
    """Every request the sandbox logged: [method, path, status]."""
    return list(requests.get(f"{sandbox.info['arm']}/sandbox/requests", verify=sandbox.info["ca_bundle"],
                             timeout=10).json()["requests"])


def sandbox_writes(sandbox: RunningSandbox) -> list[list[Any]]:
    """Requests the sandbox logged that create, change or delete something."""
    return [r for r in requests_logged(sandbox) if r[0] in ("PUT", "PATCH", "DELETE")
            or r[0] == "POST" and not r[1].lower().endswith(READ_ACTIONS)]


def clear_request_log(sandbox: RunningSandbox) -> None:
    """Forget what the sandbox logged so far."""
    requests.delete(f"{sandbox.info['arm']}/sandbox/requests", verify=sandbox.info["ca_bundle"], timeout=10)


def kubectl_deployment(kubeconfig: str) -> dict[str, Any]:
    """``kubectl get deploy -n gpu-resources -o json`` with the wizard's kubeconfig."""
    proc = subprocess.run([require_kubectl(), "--kubeconfig", kubeconfig, "get", "deploy", "-n", "gpu-resources", "-o",
                           "json"], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    items = json.loads(proc.stdout)["items"]
    return next(d for d in items if d["metadata"]["name"] == "studioml-go-runner-deployment")


def vm_shell(info: dict[str, Any], sub: str, rg: str, vm: str, *lines: str) -> tuple[bool, str, str]:
    """Run a script in a sandbox VM through the official compute client's Run Command (RunShellScript), as an admin
    would from the portal: (whether it exited 0, stdout, stderr)."""
    from azure.mgmt.compute import ComputeManagementClient

    from tests.conftest import admin_credential

    compute = ComputeManagementClient(admin_credential(info), sub, base_url=info["arm"],
                                      connection_verify=info["ca_bundle"], polling_interval=0.05)
    result = compute.virtual_machines.begin_run_command(rg, vm, {"commandId": "RunShellScript",
                                                                 "script": list(lines)}).result()
    message = result.value[0].message
    out, _, err = message.partition("\n[stdout]\n")[2].partition("\n[stderr]\n")
    return message.startswith("Enable succeeded"), out, err


def service_vms(info: dict[str, Any], sub: str, rg: str) -> list[str]:
    """The names of the VMs in a resource group (the install's service VMs live in its registry group)."""
    from azure.mgmt.compute import ComputeManagementClient

    from tests.conftest import admin_credential

    compute = ComputeManagementClient(admin_credential(info), sub, base_url=info["arm"],
                                      connection_verify=info["ca_bundle"])
    return sorted(str(vm.name) for vm in compute.virtual_machines.list(rg))


def serve_download(sandbox: RunningSandbox, url: str, **what: Any) -> None:
    """Change what the sandbox's internet serves at ``url`` (``status=410``, ``content="..."``, ``reset=True``)."""
    requests.post(f"{sandbox.info['arm']}/sandbox/downloads", json={"url": url, **what},
                  verify=sandbox.info["ca_bundle"], timeout=10).raise_for_status()


def seaweedfs_url() -> str:
    """The file server download the wizard pins."""
    from wizard.vmconfig import versions

    return str(versions()["seaweedfs"]["url"])


def check_tool() -> ModuleType:
    """The check tool (assets/services/check.py) loaded as a module, as the VMs and probe pods run it."""
    spec = importlib.util.spec_from_file_location("check_tool", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def graph_get(served: RunningSandbox, cred: ClientSecretCredential, path: str, **params: str) -> Any:
    """GET a Microsoft Graph path of the sandbox as its admin."""
    token = cred.get_token("https://graph.microsoft.com/.default").token
    resp = requests.get(f"{served.info['graph']}/v1.0{path}", params=params, timeout=10,
                        headers={"Authorization": f"Bearer {token}"}, verify=served.info["ca_bundle"])
    resp.raise_for_status()
    return resp.json()


def assert_converged(served: RunningSandbox, doc: dict[str, Any], added_regions: tuple[str, ...] = ()) -> None:
    """One of everything (one cluster group per added region), and the keyring's password is the live one."""
    info = served.info
    cred = admin_credential(info)
    sub, uid = doc["subscription"]["id"], doc["uniq_id"]["value"]
    kw = {"base_url": info["arm"], "connection_verify": info["ca_bundle"]}
    time.sleep(0.5)  # let the directory's $filter catch up (replication, scaled)
    apps = graph_get(served, cred, "/applications", **{"$filter": f"displayName eq 'registry-acr-principal-{uid}'"})
    assert len(apps["value"]) == 1, apps["value"]
    app = apps["value"][0]
    assert len(app["passwordCredentials"]) == 1, app["passwordCredentials"]
    sps = graph_get(served, cred, "/servicePrincipals", **{"$filter": f"appId eq '{app['appId']}'"})
    assert len(sps["value"]) == 1
    region = doc["regions"][0]
    registry_id = region["resource_ids"]["registry"]
    assignments = list(AuthorizationManagementClient(cred, sub, **kw).role_assignments.list_for_scope(
        registry_id, filter=f"principalId eq '{sps['value'][0]['id']}'"))
    assert len(assignments) == 1
    groups = ResourceManagementClient(cred, sub, **kw).resource_groups.list(filter="tagName eq 'studioml-uniq-id'")
    assert sorted(g.name for g in groups) == sorted([f"leafai-{uid}", f"studioml-{uid}",
                                                     *(f"leafai-{uid}-{r}" for r in added_regions)])
    vms = list(ComputeManagementClient(cred, sub, **kw).virtual_machines.list(f"studioml-{uid}"))
    assert sorted(v.name for v in vms) == [f"studioml-files-{uid}", f"studioml-rabbitmq-{uid}"]
    assert len(list(NetworkManagementClient(cred, sub, **kw).network_interfaces.list(f"studioml-{uid}"))) == 2
    assert len(list(ContainerServiceClient(cred, sub, **kw).managed_clusters.list_by_resource_group(
        f"leafai-{uid}"))) == 1
    password = stored("studioml-azure", f"{doc['tenant']}/{uid}/sp-password")
    assert password
    catalog = requests.get(f"{info['registry']}/{region['registry_login_server']}/v2/_catalog", timeout=10,
                           auth=(app["appId"], password), verify=info["ca_bundle"])
    assert catalog.status_code == 200 and catalog.json()["repositories"] == [f"leafai{uid}/studio-go-runner"]
    dep = kubectl_deployment(region["kubeconfig"])
    assert dep["status"].get("readyReplicas") == 2


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


CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"


def demote_to_contributor(info: dict[str, Any]) -> str:
    """Through ARM itself, as the sandbox's admin service principal: give it Contributor on the answers' subscription
    and take its Owner away (Contributor's NotActions hold Microsoft.Authorization/*/Write); returns the
    subscription."""
    from azure.mgmt.authorization import AuthorizationManagementClient
    from azure.mgmt.subscription import SubscriptionClient

    cred = admin_credential(info)
    kw: dict[str, Any] = {"base_url": info["arm"], "connection_verify": info["ca_bundle"]}
    sub = next(str(s.subscription_id) for s in SubscriptionClient(cred, **kw).subscriptions.list()
               if s.display_name == "Visual Studio Ultimate with MSDN")
    authz = AuthorizationManagementClient(cred, sub, **kw)
    scope = f"/subscriptions/{sub}"
    mine = [a for a in authz.role_assignments.list_for_subscription() if a.scope == scope and a.principal_type ==
            "ServicePrincipal"]
    oid = mine[0].principal_id
    authz.role_assignments.create(scope, str(uuid.uuid4()), {"properties": {
        "roleDefinitionId": f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}",
        "principalId": oid, "principalType": "ServicePrincipal"}})
    for a in mine:
        authz.role_assignments.delete_by_id(str(a.id))
    with pytest.raises(HttpResponseError) as refused:  # the sandbox now refuses it what Azure refuses Contributor
        authz.role_assignments.create(scope, str(uuid.uuid4()), {"properties": {
            "roleDefinitionId": f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}",
            "principalId": oid, "principalType": "ServicePrincipal"}})
    assert refused.value.status_code == 403 and refused.value.error.code == "AuthorizationFailed"
    assert "'Microsoft.Authorization/roleAssignments/write'" in str(refused.value.error.message)
    return sub
