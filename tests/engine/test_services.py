"""The service VMs really serve, and the install fails loudly, naming the cause, where a real Azure install would
have come up broken: no outbound for the VMs, a download that is gone, a download that does not match its checksum.
Outcomes are checked from outside with the official clients (Run Command on each VM, a pod in the cluster), not from
what the wizard or Azure's provisioning state say."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from azure.mgmt.network import NetworkManagementClient

from tests.conftest import RunningSandbox, admin_credential, start_sandbox
from tests.engine.helpers import (
    ANSWERS,
    Home,
    clear_request_log,
    endpoint_args,
    finish,
    run,
    sandbox_writes,
    seaweedfs_url,
    serve_download,
    service_vms,
    start,
    vm_shell,
    wait_started,
)


def test_service_vms_serve_and_a_rerun_writes_nothing(served: RunningSandbox, home: Home) -> None:
    args, env = endpoint_args(served.info)
    code, plan, err = run(home, "plan", *args, "--answers", str(ANSWERS), "--json", env=env)
    assert code == 0, err[-3000:]
    outbound = next(s for s in plan["steps"] if s["key"] == "outbound")
    costs = {r["kind"]: r["monthly"] for r in outbound["resources"]}
    assert costs["NAT gateway (Standard)"] > 30 and costs["public IP (Standard, static) of the NAT gateway"] > 3, costs
    assert {line["item"] for line in plan["estimate"]["lines"]} >= {"NAT gateway", "NAT gateway public IP",
                                                                   "NAT gateway data processed"}
    code, doc, err = run(home, "apply", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
    assert code == 0, err[-4000:]
    sub, uid = doc["subscription"]["id"], doc["uniq_id"]["value"]
    vms = service_vms(served.info, sub, f"studioml-{uid}")
    assert vms == [f"studioml-files-{uid}", f"studioml-rabbitmq-{uid}"]
    for vm, unit in zip(vms, ("seaweedfs", "rabbitmq-server"), strict=True):
        ok, out, errout = vm_shell(served.info, sub, f"studioml-{uid}", vm,
                                   "timeout 900 cloud-init status --wait --long", f"systemctl is-active {unit}",
                                   "cat /var/lib/studioml/boot-status")
        assert ok and "status: done" in out and "\nactive\n" in out and out.rstrip().endswith("done"), out + errout
    code, status, err = run(home, "status", *args, "--json", env=env)
    assert code == 0, err
    for role, proto in (("rabbitmq", "amqp"), ("files", "s3")):
        health = status["home"]["vms"][role]["health"]
        assert health["ok"] and health["service"] == "active" and health["protocol"].startswith(f"{proto}: ok"), health
    services = status["regions"][0]["services"]
    assert services["ok"] and ": ok" in services["amqp"] and ": ok" in services["s3"], services
    clear_request_log(served)
    code, again, err = run(home, "apply", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
    assert code == 0 and {s["action"] for s in again["steps"].values()} == {"none"}, again["steps"]
    assert sandbox_writes(served) == []  # no Run Command and no probe pod either: nothing changed since they passed


@pytest.fixture
def paced(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A sandbox slow enough (speed 50: a VM takes 2.4 s to make) for a test to act while a run makes the VMs."""
    running = start_sandbox(tmp_path / "paced", "--speed", "50")
    yield running
    running.stop()


def test_no_nat_gateway_means_no_outbound_and_exit_3_naming_the_vm(paced: RunningSandbox, home: Home) -> None:
    """Someone takes the NAT gateway off the services subnet while the VMs are being made: their cloud-init cannot
    reach apt or the download. The run says which VM and why, and exits 3; the next run puts the gateway back and
    runs the boot scripts again, without re-making anything."""
    info = paced.info
    args, env = endpoint_args(info)
    net = NetworkManagementClient(admin_credential(info), info["subscriptions"][0], base_url=info["arm"],
                                  connection_verify=info["ca_bundle"], polling_interval=0.05)
    proc = start(home, "apply", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
    wait_started(proc, home, "files")
    uid = next((home.root / "state").rglob("journal.jsonl")).parent.name
    rg, vnet = f"studioml-{uid}", f"studioml-vnet-{uid}"
    subnet = net.subnets.get(rg, vnet, "services")
    assert subnet.nat_gateway is not None
    subnet.nat_gateway = None
    net.subnets.begin_create_or_update(rg, vnet, "services", subnet).result()
    code, doc, err = finish(proc, timeout=300)
    assert code == 3, err[-4000:]
    failed = {k: s for k, s in doc["steps"].items() if s["status"] == "failed"}
    assert failed and set(failed) <= {"rabbitmq", "files"}, doc["steps"]
    for key, step in failed.items():
        assert f"VM studioml-{key}-{uid} is not serving" in step["error"] and "no outbound" in step["error"], step
        assert "has no NAT gateway" in step["hint"], step["hint"]
    code, doc, err = run(home, "apply", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
    assert code == 0, err[-4000:]
    assert doc["steps"]["network"]["action"] == "update"
    for key in failed:
        assert doc["steps"][key]["detail"].startswith("run its boot script again"), doc["steps"][key]


def test_a_download_that_is_gone_exits_3_naming_the_url(served: RunningSandbox, home: Home) -> None:
    url = seaweedfs_url()
    serve_download(served, url, status=410)  # as every MinIO binary on dl.min.io has answered since 2026-09
    args, env = endpoint_args(served.info)
    code, doc, err = run(home, "apply", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
    assert code == 3, err[-4000:]
    files = doc["steps"]["files"]
    assert files["status"] == "failed" and url in files["error"] and "HTTP 410" in files["error"], files
    assert "at step 'download SeaweedFS" in files["error"] and "update studioml-azure" in files["hint"]
    assert doc["steps"]["rabbitmq"]["status"] == "done" and doc["steps"]["runner"]["status"] == "skipped"


def test_a_download_that_differs_from_its_checksum_exits_3_then_converges(served: RunningSandbox,
                                                                          home: Home) -> None:
    url = seaweedfs_url()
    serve_download(served, url, content="not the release: a tampered mirror")
    args, env = endpoint_args(served.info)
    code, doc, err = run(home, "apply", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
    assert code == 3, err[-4000:]
    files = doc["steps"]["files"]
    assert "does not match its published checksum" in files["error"] and "verify the download" in files["error"]
    assert "do not use that download" in files["hint"]
    serve_download(served, url, reset=True)  # the release is served again as published
    code, doc, err = run(home, "apply", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
    assert code == 0, err[-4000:]
    assert doc["steps"]["files"]["action"] == "update"  # its boot script ran again; the VM was not re-made


def _probe_pod(name: str, *targets: str) -> dict[str, object]:
    from wizard.steps.probe import probe_pod

    pod = probe_pod(name, "mcr.microsoft.com/azurelinux/base/python:3.12")
    container = pod["spec"]["containers"][0]  # type: ignore[index]
    container["command"] = ["python3", "/check/check.py", "probe", *targets]
    return pod


def test_a_pod_reaches_amqp_and_s3_and_no_other_port(served: RunningSandbox, home: Home) -> None:
    args, env = endpoint_args(served.info)
    code, doc, err = run(home, "apply", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
    assert code == 0, err[-4000:]
    kubeconfig = doc["regions"][0]["kubeconfig"]
    pod = _probe_pod("reach", "--amqp", "10.20.16.4:5672", "--s3", "http://10.20.16.5:8333", "--tcp", "10.20.16.4:22",
                     "--tcp", "10.20.16.5:22", "--tcp", "10.20.16.4:15672", "--tcp", "10.20.16.5:9333")
    kubectl = ["kubectl", "--kubeconfig", kubeconfig, "-n", "gpu-resources"]
    subprocess.run([*kubectl, "apply", "-f", "-"], input=json.dumps(pod), text=True, check=True, capture_output=True)
    wait = subprocess.run([*kubectl, "wait", "pod/reach", "--for=jsonpath={.status.phase}=Failed", "--timeout=60s"],
                          capture_output=True, text=True, check=False)
    assert wait.returncode == 0, wait.stderr
    got = subprocess.run([*kubectl, "get", "pod", "reach", "-o", "json"], capture_output=True, text=True, check=True)
    message = json.loads(got.stdout)["status"]["containerStatuses"][0]["state"]["terminated"]["message"]
    lines = dict(line.split(": ", 1) for line in message.splitlines())
    assert lines["amqp 10.20.16.4:5672"].startswith("ok (runner@10.20.16.4:5672"), message
    assert lines["s3 http://10.20.16.5:8333"].startswith("ok (2 buckets"), message
    for target in ("10.20.16.4:22", "10.20.16.5:22", "10.20.16.4:15672", "10.20.16.5:9333"):
        assert lines[f"tcp {target}"].startswith("failed: connection timed out"), message  # dropped by the NSG


def test_an_earlier_versions_minio_vm_is_replaced_by_the_file_server(served: RunningSandbox, home: Home) -> None:
    """An install made when the file server was MinIO: plan says the MinIO VM is replaced and what happens to its data
    disk; apply deletes it and its NIC, makes the file server at the same address, and forgets MinIO's secrets."""
    import keyring
    from azure.mgmt.compute import ComputeManagementClient

    from wizard.secrets import keyring_call

    info = served.info
    args, env = endpoint_args(info)
    code, doc, err = run(home, "apply", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
    assert code == 0, err[-4000:]
    sub, uid = doc["subscription"]["id"], doc["uniq_id"]["value"]
    rg, cred = f"studioml-{uid}", admin_credential(info)
    compute = ComputeManagementClient(cred, sub, base_url=info["arm"], connection_verify=info["ca_bundle"],
                                      polling_interval=0.05)
    net = NetworkManagementClient(cred, sub, base_url=info["arm"], connection_verify=info["ca_bundle"],
                                  polling_interval=0.05)
    # what the earlier version left: a MinIO VM at the file server's address, its two keyring entries
    compute.virtual_machines.begin_delete(rg, f"studioml-files-{uid}").result()
    net.network_interfaces.begin_delete(rg, f"studioml-files-{uid}-nic").result()
    subnet = net.subnets.get(rg, f"studioml-vnet-{uid}", "services")
    nic = net.network_interfaces.begin_create_or_update(rg, f"studioml-minio-{uid}-nic", {
        "location": "eastus", "properties": {"ipConfigurations": [{"name": "ipconfig1", "properties": {
            "subnet": {"id": subnet.id}, "privateIPAllocationMethod": "Static",
            "privateIPAddress": "10.20.16.5"}}]}}).result()
    compute.virtual_machines.begin_create_or_update(rg, f"studioml-minio-{uid}", {
        "location": "eastus", "tags": {"studioml-uniq-id": uid}, "properties": {
            "hardwareProfile": {"vmSize": "Standard_D4s_v3"},
            "storageProfile": {"imageReference": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts",
                                                  "sku": "server", "version": "latest"}},
            "osProfile": {"computerName": "minio", "adminUsername": "studioml", "linuxConfiguration": {"ssh": {
                "publicKeys": [{"path": "/home/studioml/.ssh/authorized_keys", "keyData": "ssh-ed25519 AAAA"}]}}},
            "networkProfile": {"networkInterfaces": [{"id": nic.id}]}}}).result()
    prefix = f"{info['tenant_id']}/{uid}"
    for name in ("minio-root-user", "minio-root-password"):
        keyring_call(lambda n=name: keyring.set_password("studioml-azure", f"{prefix}/{n}", "old"))
    code, plan, err = run(home, "plan", *args, "--answers", str(ANSWERS), "--json", env=env)
    assert code == 0, err[-3000:]
    files = next(s for s in plan["steps"] if s["key"] == "files")
    assert files["action"] == "create" and f"replaces MinIO VM studioml-minio-{uid}" in files["detail"], files
    assert "data disk is kept, detached: the wizard put no data there" in files["detail"]
    code, doc, err = run(home, "apply", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
    assert code == 0, err[-4000:]
    assert f"az disk delete -g {rg} -n studioml-minio-{uid}-data" in err
    assert service_vms(info, sub, rg) == [f"studioml-files-{uid}", f"studioml-rabbitmq-{uid}"]
    assert f"studioml-minio-{uid}-nic" not in {n.name for n in net.network_interfaces.list(rg)}
    assert all(keyring_call(lambda n=name: keyring.get_password("studioml-azure", f"{prefix}/{n}")) is None
               for name in ("minio-root-user", "minio-root-password"))
    assert doc["steps"]["probe"]["status"] == "done"  # a pod reaches the new file server with the runner's new keys


def test_a_new_runner_template_rolls_out_while_every_gpu_is_busy(served: RunningSandbox, home: Home,
                                                               tmp_path: Path) -> None:
    """Two GPU nodes, two runners: every GPU is taken. A new runner image changes the template; a rollout that
    needs a spare GPU (RollingUpdate's default surge) would wait forever, so the runner must give one up first."""
    from tests.engine.helpers import answers_with, kubectl_deployment

    args, env = endpoint_args(served.info)
    code, doc, err = run(home, "apply", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
    assert code == 0, err[-4000:]
    newer = answers_with(tmp_path, runner_image="docker.io/leafai/studio-go-runner:0.9.22")
    code, doc, err = run(home, "apply", *args, "--answers", str(newer), "--yes", "--json", env=env)
    assert code == 0, err[-4000:]
    dep = kubectl_deployment(doc["regions"][0]["kubeconfig"])
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"].endswith("/studio-go-runner:0.9.22")
    assert dep["status"]["updatedReplicas"] == dep["status"]["availableReplicas"] == 2, dep["status"]


def test_runners_on_a_node_that_went_away_are_made_again_not_counted(served: RunningSandbox, home: Home) -> None:
    """A GPU node goes (the pool scaled down outside the wizard): its runner pod is deleted and made again, Pending
    without a GPU, so status says 1/2 ready, never 2/2 (or 2/1)."""
    import time

    from azure.mgmt.containerservice import ContainerServiceClient

    info = served.info
    args, env = endpoint_args(info)
    code, doc, err = run(home, "apply", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
    assert code == 0, err[-4000:]
    uid = doc["uniq_id"]["value"]
    aks = ContainerServiceClient(admin_credential(info), doc["subscription"]["id"], base_url=info["arm"],
                                 connection_verify=info["ca_bundle"], polling_interval=0.05)
    pool = aks.agent_pools.get(f"leafai-{uid}", f"leafai-cluster-{uid}", "gpu")
    pool.count = 1
    aks.agent_pools.begin_create_or_update(f"leafai-{uid}", f"leafai-cluster-{uid}", "gpu", pool).result()
    deadline = time.monotonic() + 30
    while True:
        code, status, err = run(home, "status", *args, "--json", env=env)
        runner = status["regions"][0]["runner"]
        if runner["ready"] == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert (runner["ready"], runner["replicas"]) == (1, 2), runner
    assert status["installed"] is False
