"""Interrupted at any moment (Ctrl-C or kill -9), a run resumes to the same end state, with nothing duplicated."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.identity import ClientSecretCredential
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient

from tests.conftest import RunningSandbox, admin_credential, start_sandbox
from tests.engine.helpers import (
    ANSWERS,
    Home,
    endpoint_args,
    finish,
    interrupt,
    interrupt_at,
    kubectl_deployment,
    start,
    stored,
    wait_started,
)


def _graph(served: RunningSandbox, cred: ClientSecretCredential, path: str, **params: str) -> Any:
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
    apps = _graph(served, cred, "/applications", **{"$filter": f"displayName eq 'registry-acr-principal-{uid}'"})
    assert len(apps["value"]) == 1, apps["value"]
    app = apps["value"][0]
    assert len(app["passwordCredentials"]) == 1, app["passwordCredentials"]
    sps = _graph(served, cred, "/servicePrincipals", **{"$filter": f"appId eq '{app['appId']}'"})
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


# Moments in the run's progress: (a step the run has started, seconds after), or None for "while it starts up".
Moment = tuple[str, float] | None


@pytest.mark.parametrize(("sig", "moments"), [
    (signal.SIGKILL, [None, ("sp", 0.1), ("cluster", 0.3), ("k8s-secrets", 0.0), ("runner", 0.1)]),
    (signal.SIGINT, [("registry", 0.0), ("cluster", 0.3), ("runner", 0.0)]),
], ids=["sigkill", "sigint"])
def test_interrupted_runs_resume_to_the_same_end_state(tmp_path: Path, sig: signal.Signals,
                                                       moments: list[Moment]) -> None:
    served = start_sandbox(tmp_path / "sandbox", "--speed", "60")
    try:
        home = Home(tmp_path / "home")
        args, env = endpoint_args(served.info)
        cmd = [*args, "--answers", str(ANSWERS), "--yes", "--json"]
        codes = []
        for moment in moments:
            proc = start(home, "apply", *cmd, env=env)
            if moment is None:
                interrupt(proc, 0.4, sig)
            else:
                interrupt_at(proc, home, moment[0], sig, moment[1])
            code, doc, err = finish(proc)
            codes.append(code)
            if sig == signal.SIGINT and code != 0:
                assert code == 4, err[-3000:]
                assert "run the same command again" in err
        code, doc, err = finish(start(home, "apply", *cmd, env=env))
        assert code == 0, err[-4000:]
        assert 0 not in codes, f"a run was not interrupted: {codes}"
        assert "resuming: the last run stopped before finishing" in err
        assert_converged(served, doc)
        code, again, err = finish(start(home, "apply", *cmd, env=env))
        assert code == 0 and {s["action"] for s in again["steps"].values()} == {"none"}
    finally:
        served.stop()


def test_kill_storm_every_run_killed_a_little_later(tmp_path: Path) -> None:
    """kill -9 one run after another, each a little later than the last (the kills land in sign-in, directory
    objects, keyring writes, LROs, kubeconfig, cluster objects); then one run to the end converges to one of
    everything. The storm is bounded, not "until one finishes", so a slow machine only shifts where kills land."""
    served = start_sandbox(tmp_path / "sandbox", "--speed", "60")
    try:
        home = Home(tmp_path / "home")
        args, env = endpoint_args(served.info)
        cmd = [*args, "--answers", str(ANSWERS), "--yes", "--json"]
        killed, code, doc, err = 0, -1, {}, ""
        for i in range(14):
            proc = start(home, "apply", *cmd, env=env)
            interrupt(proc, 0.7 + 0.5 * i, signal.SIGKILL)
            code, doc, err = finish(proc)
            if code == 0:
                break
            assert code == -signal.SIGKILL, err[-3000:]
            killed += 1
        if code != 0:
            code, doc, err = finish(start(home, "apply", *cmd, env=env))
        assert code == 0 and killed >= 3, err[-3000:]
        assert_converged(served, doc)
    finally:
        served.stop()


def test_a_lost_network_is_bridged_or_resumed(tmp_path: Path) -> None:
    """The cloud goes away mid-run (the sandbox is killed) and comes back on the same address: the run retries
    through the gap, or ends as interrupted (4) and the next run finishes; nothing is duplicated."""
    directory = tmp_path / "sandbox"
    served = start_sandbox(directory, "--speed", "60")
    home = Home(tmp_path / "home")
    args, env = endpoint_args(served.info)
    cmd = [*args, "--answers", str(ANSWERS), "--yes", "--json"]
    proc = start(home, "apply", *cmd, env=env)
    time.sleep(2.5)
    served.proc.kill()
    served.proc.wait()
    time.sleep(3)
    served = start_sandbox(directory, "--speed", "60")
    try:
        assert endpoint_args(served.info)[0] == args  # same port, same CA: the same cloud
        code, doc, err = finish(proc)
        assert code in (0, 4), err[-3000:]
        if code == 4:
            code, doc, err = finish(start(home, "apply", *cmd, env=env))
        assert code == 0, err[-4000:]
        assert_converged(served, doc)
    finally:
        served.stop()


def test_a_second_apply_of_the_same_install_waits_its_turn(tmp_path: Path) -> None:
    """Two applies of one install at once on this host (another terminal, the TUI beside the CLI): the second is
    refused (3) naming the first, without touching anything; the first goes on to the end, undisturbed; run again
    afterwards, the second finds nothing to change."""
    served = start_sandbox(tmp_path / "sandbox", "--speed", "20")  # a cluster that takes a while to make
    home = Home(tmp_path / "home")
    args, env = endpoint_args(served.info)
    cmd = [*args, "--answers", str(ANSWERS), "--yes", "--json"]
    try:
        first = start(home, "apply", *cmd, env=env)
        wait_started(first, home, "cluster")
        assert first.poll() is None, "the first run ended before the second could start"
        code, doc, err = finish(start(home, "apply", *cmd, env=env))
        assert code == 3 and "another apply of install" in err and f"(pid {first.pid})" in err, err[-2000:]
        assert first.poll() is None, "the second run ended only after the first: the test proves nothing"
        code, doc, err = finish(first)
        assert code == 0 and "resuming" not in err, err[-3000:]
        assert_converged(served, doc)
        code, again, err = finish(start(home, "apply", *cmd, env=env))
        assert code == 0 and {s["action"] for s in again["steps"].values()} == {"none"}, err[-3000:]
    finally:
        served.stop()
