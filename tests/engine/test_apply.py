"""Acceptance of the provisioning engine: the real command against the sandbox, checked from outside."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

from azure.mgmt.resource.resources import ResourceManagementClient

from tests.conftest import RunningSandbox, admin_credential, require_kubectl
from tests.engine.helpers import (
    ANSWERS,
    Home,
    answers_with,
    clear_request_log,
    endpoint_args,
    files_containing,
    keyring_values,
    kubectl_deployment,
    requests_logged,
    run,
    sandbox_writes,
    start,
)
from wizard.naming import multicast_words, uniq_id_from
from wizard.sandbox import control

SECRETS = {"sp-password", "rabbitmq-admin-password", "rabbitmq-runner-password", "s3-admin-access-key",
           "s3-admin-secret-key", "s3-runner-access-key", "s3-runner-secret-key", "runner-private-key",
           "runner-public-key", "runner-passphrase", "rabbitmq-experimenter-password", "s3-experimenter-access-key",
           "s3-experimenter-secret-key", "tls-ca-key", "tls-ca-certificate", "tls-rabbitmq-key",
           "tls-rabbitmq-certificate", "tls-files-key", "tls-files-certificate"}


def _assert_ready(doc: dict[str, object], replicas: int = 2) -> Path:
    region = doc["regions"][0]  # type: ignore[index]
    kubeconfig = Path(region["kubeconfig"])
    assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600
    assert stat.S_IMODE(kubeconfig.parent.stat().st_mode) == 0o700
    dep = kubectl_deployment(str(kubeconfig))
    assert dep["spec"]["replicas"] == replicas
    assert dep["status"].get("readyReplicas") == replicas and dep["status"].get("availableReplicas") == replicas
    assert region["namespace"] == "gpu-resources"
    return kubeconfig


def test_embedded_sandbox_apply_then_rerun_writes_nothing(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    sandbox_dir = tmp_path / "sandbox"
    try:
        _embedded_then_rerun(home, sandbox_dir)
    finally:
        assert control.stop_command(sandbox_dir) == 0  # what --sandbox left serving in the background


def _embedded_then_rerun(home: Home, sandbox_dir: Path) -> None:
    code, doc, err = run(home, "apply", "--sandbox", "--sandbox-dir", str(sandbox_dir), "--speed", "200",
                         "--answers", str(ANSWERS), "--yes", "--json")
    assert code == 0, err[-4000:]
    assert f"stop it with: studioml-azure sandbox stop --dir {sandbox_dir}" in err
    assert all(s["status"] == "done" for s in doc["steps"].values())
    assert doc["steps"]["runner"]["action"] == "create"
    secrets = keyring_values(doc)
    assert SECRETS <= set(secrets) <= SECRETS | {"admin-ssh-private-key"}
    assert "BEGIN RSA PRIVATE KEY" in secrets["runner-private-key"] and "ENCRYPTED" in secrets["runner-private-key"]
    shown = err + json.dumps(doc)  # what reached the screen and stdout
    assert not [name for name, value in secrets.items() if name != "runner-public-key" and value in shown]
    # the sandbox keeps serving after the command: kubectl with the kubeconfig, right away
    _assert_ready(doc)
    leaks = files_containing([home.root / "state", home.root / "data", sandbox_dir], secrets)
    assert leaks == [], leaks
    endpoints = control.find_running(sandbox_dir)
    assert endpoints is not None
    served = RunningSandbox(None, endpoints.as_json(), sandbox_dir)  # type: ignore[arg-type]
    # again, through the endpoint flags: every step unchanged, and no request that creates or changes
    clear_request_log(served)
    args, env = endpoint_args(served.info)
    code, again, err = run(home, "apply", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
    assert code == 0, err[-4000:]
    assert {s["action"] for s in again["steps"].values()} == {"none"}, again["steps"]
    assert sandbox_writes(served) == []
    assert "every step unchanged" in err
    assert again["uniq_id"] == doc["uniq_id"] | {"source": again["uniq_id"]["source"]}
    assert "remembered" in again["uniq_id"]["source"]
    code, plan, err = run(home, "plan", "--sandbox", "--sandbox-dir", str(sandbox_dir), "--answers", str(ANSWERS),
                          "--json")  # --sandbox again: joins the one serving
    assert code == 0 and plan["changes"] == 0, err[-3000:]
    assert sandbox_writes(served) == []


def test_apply_against_a_separate_sandbox_serve(tmp_path: Path, served: RunningSandbox, home: Home) -> None:
    args, env = endpoint_args(served.info)
    code, doc, err = run(home, "apply", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
    assert code == 0, err[-4000:]
    _assert_ready(doc)
    secrets = keyring_values(doc)
    assert SECRETS <= set(secrets) <= SECRETS | {"admin-ssh-private-key"}
    assert files_containing([home.root], secrets) == []
    assert "service principal" in err  # signed in with the AZURE_* service principal
    code, status, err = run(home, "status", *args, "--json", env=env)  # no answers: found from what exists
    assert code == 0, err
    assert status["installed"] is True and status["uniq_id"]["value"] == doc["uniq_id"]["value"]
    region = status["regions"][0]
    assert region["runner"]["ready"] == 2 and region["kubeconfig_mode"] == "0o600"
    assert region["kubeconfig"] == doc["regions"][0]["kubeconfig"]
    assert {"name": "gpu", "size": "Standard_NC4as_T4_v3", "count": 2, "taints": ["sku=gpu:NoSchedule"],
            "spot": False, "autoscale": None} in region["pools"]
    assert "gpu-resources/studioml-go-docker-key" in region["runner"]["kubernetes_secrets"]
    assert len(status["home"]["keyring"]) == len(secrets)


def test_bad_answers_exit_2_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "answers.toml"
    bad.write_text('region = "eastus"\ngpu_nodes = 0\n')
    code, doc, err = run(Home(tmp_path), "plan", "--answers", str(bad), "--json")
    assert code == 2
    assert "gpu_nodes" in doc["error"] and "1 to 100" in doc["hint"]
    bad.write_text('colour = "blue"\n')
    code, doc, err = run(Home(tmp_path), "apply", "--answers", str(bad), "--yes")
    assert code == 2 and "unknown key 'colour'" in err
    assert not os.path.exists(tmp_path / "state")  # nothing was made


def test_attach_mode_and_admin_user_converge_both_ways(tmp_path: Path, served: RunningSandbox, home: Home) -> None:
    args, env = endpoint_args(served.info)
    answers = answers_with(tmp_path, pull_auth="attach", admin_user=True)
    code, doc, err = run(home, "apply", *args, "--answers", str(answers), "--yes", "--json", env=env)
    assert code == 0, err[-4000:]
    assert "admin user is on" in err and "acr-attach" in doc["steps"]
    kubeconfig = _assert_ready(doc)
    secrets = subprocess.run([require_kubectl(), "--kubeconfig", str(kubeconfig), "get", "secrets", "-n",
                              "gpu-resources", "-o", "name"], capture_output=True, text=True, check=False)
    assert secrets.returncode == 0, secrets.stderr
    assert "studioml-go-docker-key" not in secrets.stdout
    code, doc, err = run(home, "apply", *args, "--answers", str(answers_with(tmp_path, pull_auth="attach")),
                         "--yes", "--json", env=env)
    assert code == 0, err[-4000:]
    changed = {k for k, s in doc["steps"].items() if s["action"] != "none"}
    assert changed == {"registry"} and "admin user off" in doc["steps"]["registry"]["detail"]


def test_a_subscription_without_the_providers_registered(tmp_path: Path, served: RunningSandbox, home: Home) -> None:
    args, env = endpoint_args(served.info)
    answers = answers_with(tmp_path, subscription="Sentient AI Evaluation")  # ACR and AKS not registered
    code, plan, err = run(home, "plan", *args, "--answers", str(answers), "--json", env=env)
    assert code == 0, err[-3000:]
    steps = {s["key"]: s for s in plan["steps"]}
    assert steps["providers"]["action"] == "update"
    assert "Microsoft.ContainerRegistry" in steps["providers"]["detail"]
    code, doc, err = run(home, "apply", *args, "--answers", str(answers), "--yes", "--json", env=env)
    assert code == 0, err[-4000:]
    assert doc["steps"]["providers"]["action"] == "update"
    _assert_ready(doc)


def test_an_image_the_import_cannot_find_names_the_docker_way(tmp_path: Path, served: RunningSandbox,
                                                              home: Home) -> None:
    args, env = endpoint_args(served.info)
    answers = answers_with(tmp_path, runner_image="docker.io/leafai/no-such-runner:1.0")
    code, doc, err = run(home, "apply", *args, "--answers", str(answers), "--yes", "--json", env=env)
    assert code == 3, err[-3000:]
    image = doc["steps"]["image"]
    assert image["status"] == "failed" and "ImageNotFound" in image["error"]
    assert "docker pull docker.io/leafai/no-such-runner:1.0" in image["hint"]
    assert doc["steps"]["runner"]["status"] == "skipped"
    assert doc["steps"]["cluster"]["status"] == "done"  # what does not need the image went on


def test_growing_the_gpu_pool_converges_only_what_changed(tmp_path: Path, served: RunningSandbox, home: Home) -> None:
    """After creation the GPU pool changes only through the agentPools API (AKS refuses pool changes in a cluster
    PUT), so what an admin added to the cluster since stays; a pool of another size is refused with a hint that
    works: delete the pool, run again, and it is made again."""
    from azure.mgmt.containerservice import ContainerServiceClient

    info = served.info
    args, env = endpoint_args(info)
    code, doc, err = run(home, "apply", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
    assert code == 0, err[-4000:]
    sub, uid = doc["subscription"]["id"], doc["uniq_id"]["value"]
    aks = ContainerServiceClient(admin_credential(info), sub, base_url=info["arm"],
                                 connection_verify=info["ca_bundle"], polling_interval=0.05)
    rg, name = f"leafai-{uid}", f"leafai-cluster-{uid}"
    from azure.mgmt.containerservice.models import ManagedClusterAutoUpgradeProfile

    mc = aks.managed_clusters.get(rg, name)  # an admin turns on automatic upgrades meanwhile
    mc.auto_upgrade_profile = ManagedClusterAutoUpgradeProfile(upgrade_channel="patch")
    aks.managed_clusters.begin_create_or_update(rg, name, mc).result()
    assert aks.managed_clusters.get(rg, name).auto_upgrade_profile.upgrade_channel == "patch"
    bigger = answers_with(tmp_path, gpu_nodes=3, runner_replicas=3)
    clear_request_log(served)
    code, doc, err = run(home, "apply", *args, "--answers", str(bigger), "--yes", "--json", env=env)
    assert code == 0, err[-4000:]
    changed = {k for k, s in doc["steps"].items() if s["action"] != "none"}
    assert changed == {"cluster", "runner"}, doc["steps"]
    assert doc["steps"]["cluster"]["detail"] == "GPU pool 2 -> 3 node(s)"
    arm_writes = [r for r in sandbox_writes(served) if "/k8s/" not in r[1]]
    assert [(m, p.rsplit("/", 2)[-2:]) for m, p, _s in arm_writes] == [("PUT", ["agentPools", "gpu"])], arm_writes
    assert aks.managed_clusters.get(rg, name).auto_upgrade_profile.upgrade_channel == "patch"  # kept
    _assert_ready(doc, replicas=3)
    other_size = answers_with(tmp_path, gpu_nodes=2, runner_replicas=2, gpu_sku="Standard_NC8as_T4_v3")
    code, doc, err = run(home, "apply", *args, "--answers", str(other_size), "--yes", "--json", env=env)
    assert code == 3 and "fixed when it is made" in doc["steps"]["cluster"]["error"]
    hint = doc["steps"]["cluster"]["hint"]
    assert f"az aks nodepool delete -g {rg} --cluster-name {name} -n gpu" in hint
    aks.agent_pools.begin_delete(rg, name, "gpu").result()  # as the hint says
    code, doc, err = run(home, "apply", *args, "--answers", str(other_size), "--yes", "--json", env=env)
    assert code == 0, err[-4000:]
    assert doc["steps"]["cluster"]["detail"].startswith("make the GPU pool again")
    assert aks.agent_pools.get(rg, name, "gpu").vm_size == "Standard_NC8as_T4_v3"


def test_sandbox_flag_joins_a_running_serve_of_the_same_folder(served: RunningSandbox, home: Home) -> None:
    clear_request_log(served)
    proc = start(home, "plan", "--sandbox", "--sandbox-dir", str(served.directory), "--answers", str(ANSWERS))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    assert f"the local sandbox served from {served.directory}" in err
    assert any(r[1].startswith("/subscriptions") for r in requests_logged(served))  # it went to that server


def test_plan_signed_in_with_an_existing_az_login(tmp_path: Path, served: RunningSandbox, home: Home) -> None:
    from tests.engine.helpers import az_login

    env = az_login(served, tmp_path / "azure")
    args, _secrets = endpoint_args(served.info)  # the endpoints only: no AZURE_* service principal
    answers = tmp_path / "answers.toml"
    answers.write_text("\n".join(ln for ln in ANSWERS.read_text().splitlines()
                                 if not ln.startswith("subscription")) + "\n")
    proc = start(home, "plan", *args, "--answers", str(answers), "--json", env=env)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    assert json.loads(out)["subscription"]["id"] == served.info["subscriptions"][2]  # az's default


def test_no_subscription_answered_with_several_lists_them(tmp_path: Path, served: RunningSandbox, home: Home) -> None:
    args, env = endpoint_args(served.info)
    answers = tmp_path / "answers.toml"
    answers.write_text('region = "eastus"\n')
    code, doc, err = run(home, "plan", *args, "--answers", str(answers), "--json", env=env)
    assert code == 2, err[-2000:]
    assert "name no subscription" in doc["error"]
    assert "Pay-As-You-Go (" in doc["hint"] and ", Warned)" in doc["hint"] and ", Enabled)" in doc["hint"]


def test_the_interface_a_new_uniq_id_hashes_can_be_picked(tmp_path: Path, served: RunningSandbox, home: Home) -> None:
    """ARCHITECTURE: where eth0 is not the interface to hash, the person picks another; one this host lacks is
    refused with the ones it has."""
    args, env = endpoint_args(served.info)
    code, first, err = run(home, "plan", *args, "--answers", str(ANSWERS), "--json", env=env)
    assert code == 0, err[-2000:]
    sub = first["subscription"]["id"]
    code, doc, err = run(home, "plan", *args, "--answers", str(answers_with(tmp_path, interface="lo")), "--json",
                         env=env)
    assert code == 0, err[-2000:]
    assert doc["uniq_id"]["value"] == uniq_id_from(sub, multicast_words("lo"))
    assert "lo" in doc["uniq_id"]["source"].split()  # asked for: it wins over the remembered one
    code, again, err = run(home, "plan", *args, "--answers", str(ANSWERS), "--json", env=env)
    assert again["uniq_id"]["value"] == doc["uniq_id"]["value"]  # and is the one remembered from then on
    ids = next((home.root / "state").rglob("uniq-ids.json"))
    ids.write_text(ids.read_text().replace(doc["uniq_id"]["value"], "0ddba11a"))  # as if lo's memberships drifted
    code, again, err = run(home, "plan", *args, "--answers", str(answers_with(tmp_path, interface="lo")), "--json",
                           env=env)
    assert again["uniq_id"]["value"] == "0ddba11a", err[-2000:]  # derived over lo once: never again
    code, doc, err = run(home, "plan", *args, "--answers", str(answers_with(tmp_path, interface="nope0")), "--json",
                         env=env)
    assert code == 2 and "no network interface nope0" in doc["error"], err[-2000:]
    assert "set interface to one of:" in doc["hint"] and "lo" in doc["hint"]


def test_an_interface_answer_never_starts_a_second_install_silently(tmp_path: Path, served: RunningSandbox,
                                                                   home: Home) -> None:
    """The remembered install exists in Azure: deriving over another interface would start a second one, so the
    core refuses and names both ids and how to get either."""
    args, env = endpoint_args(served.info)
    code, first, err = run(home, "plan", *args, "--answers", str(ANSWERS), "--json", env=env)
    assert code == 0, err[-2000:]
    uid, sub = first["uniq_id"]["value"], first["subscription"]["id"]
    info = served.info
    ResourceManagementClient(admin_credential(info), sub, base_url=info["arm"], connection_verify=info["ca_bundle"]
                             ).resource_groups.create_or_update(f"studioml-{uid}", {
                                 "location": "eastus", "tags": {"studioml-uniq-id": uid}})
    code, doc, err = run(home, "plan", *args, "--answers", str(answers_with(tmp_path, interface="lo")), "--json",
                         env=env)
    lo_id = uniq_id_from(sub, multicast_words("lo"))
    assert code == 2 and f"install {uid} exists" in doc["error"] and lo_id in doc["error"], err[-2000:]
    assert f'set uniq_id = "{lo_id}"' in doc["hint"]
    code, again, err = run(home, "plan", *args, "--answers", str(ANSWERS), "--json", env=env)
    assert again["uniq_id"]["value"] == uid  # nothing was remembered by the refused run


def test_directory_replication_and_role_propagation_are_waited_out(tmp_path: Path, home: Home) -> None:
    """Right after the application is made, Graph does not know it yet (POST /servicePrincipals 400, addPassword
    404), and a new AcrPull takes minutes to reach the registry (401): each is waited out, saying so, not failed."""
    from tests.conftest import start_sandbox

    served = start_sandbox(tmp_path / "sandbox", "--speed", "25")  # replication 0.3 s, a role's reach 5 s
    try:
        args, env = endpoint_args(served.info)
        args += ["--registry-endpoint", served.info["registry"] + "/{host}"]  # the registry's data plane too
        code, doc, err = run(home, "apply", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
        assert code == 0, err[-4000:]
        assert "making the service principal: waiting for the directory to replicate" in err, err[-4000:]
        assert "refused the service principal (401): a new role assignment takes minutes" in err, err[-4000:]
    finally:
        served.stop()


def test_the_registry_role_mode_is_set_and_converged(tmp_path: Path, served: RunningSandbox, home: Home) -> None:
    """The registry's role assignment mode is explicit: someone switching it (Microsoft recommends the ABAC mode,
    which honours no AcrPull) does not leave the clusters unable to pull: apply converges it, and the puller's role
    is one the mode honours, limited to the runner's repository."""
    from azure.mgmt.authorization import AuthorizationManagementClient
    from azure.mgmt.containerregistry import ContainerRegistryManagementClient

    info = served.info
    args, env = endpoint_args(info)
    code, doc, err = run(home, "apply", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
    assert code == 0, err[-4000:]
    sub, uid = doc["subscription"]["id"], doc["uniq_id"]["value"]
    cred = admin_credential(info)
    acr = ContainerRegistryManagementClient(cred, sub, base_url=info["arm"], connection_verify=info["ca_bundle"],
                                            polling_interval=0.05)
    reg = acr.registries.get(f"studioml-{uid}", f"leafai{uid}")
    mode = reg.role_assignment_mode
    other = "LegacyRegistryPermissions" if mode == "AbacRepositoryPermissions" else "AbacRepositoryPermissions"
    acr.registries.begin_update(f"studioml-{uid}", f"leafai{uid}", {"properties": {"roleAssignmentMode": other}}
                                ).result()
    code, doc, err = run(home, "apply", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
    assert code == 0, err[-4000:]
    assert "role assignment mode" in doc["steps"]["registry"]["detail"], doc["steps"]["registry"]
    assert acr.registries.get(f"studioml-{uid}", f"leafai{uid}").role_assignment_mode == "AbacRepositoryPermissions"
    authz = AuthorizationManagementClient(cred, sub, base_url=info["arm"], connection_verify=info["ca_bundle"])
    assignments = [a for a in authz.role_assignments.list_for_scope(reg.id) if "leafai" not in (a.description or "x")]
    readers = [a for a in assignments if a.role_definition_id.endswith("b93aa761-3e63-49ed-ac28-beffa264f7ac")]
    assert len(readers) == 1 and f"'leafai{uid}/studio-go-runner'" in readers[0].condition, assignments
    assert not [a for a in assignments if a.role_definition_id.endswith("7f951dda-4ed3-4680-a7ca-43fe172d538d")]
    _assert_ready(doc)
