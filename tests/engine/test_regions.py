"""A re-run with another region adds it to the install: its own cluster and VNet, peered both ways with the home
VNet; the home part (registry, principal, RabbitMQ, Minio) is shared, not duplicated; each region converges alone."""

from __future__ import annotations

import ipaddress
import os
import subprocess
from pathlib import Path

import yaml
from azure.mgmt.network import NetworkManagementClient

from tests.conftest import RunningSandbox, admin_credential
from tests.engine.helpers import (
    ANSWERS,
    Home,
    answers_with,
    assert_converged,
    clear_request_log,
    endpoint_args,
    kubectl_deployment,
    run,
    sandbox_writes,
)


def _network(served: RunningSandbox, sub: str) -> NetworkManagementClient:
    info = served.info
    cred = admin_credential(info)
    return NetworkManagementClient(cred, sub, base_url=info["arm"], connection_verify=info["ca_bundle"])


def test_a_second_region_is_added_peered_and_converges(served: RunningSandbox, home: Home, tmp_path: Path) -> None:
    args, env = endpoint_args(served.info)
    code, first, err = run(home, "apply", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
    assert code == 0, err[-4000:]
    west = answers_with(tmp_path, region="westeurope")
    code, plan, err = run(home, "plan", *args, "--answers", str(west), "--json", env=env)
    assert code == 0, err[-4000:]
    actions = {s["key"]: s["action"] for s in plan["steps"]}
    assert actions["region-network"] == actions["peering"] == actions["cluster"] == "create"
    assert actions["registry"] == actions["sp"] == actions["rabbitmq"] == actions["network"] == "none"
    regions = {line["region"] for line in plan["estimate"]["lines"]}
    assert regions == {"eastus", "westeurope"}  # the new cluster, and the home services it shares
    # Two admins adding two regions at the same moment each list the VNets before the other has made one: the
    # spaces they would take still differ, and none is the clusters' pod or service range.
    (tmp_path / "other").mkdir()
    code, other, err = run(home, "plan", *args, "--answers", str(answers_with(tmp_path / "other", region="westus2")),
                           "--json", env=env)
    assert code == 0, err[-4000:]
    spaces = [ipaddress.ip_network(next(s["detail"] for s in p["steps"] if s["key"] == "region-network").split(":")[0])
              for p in (plan, other)]
    assert spaces[0] != spaces[1], spaces
    assert not any(n.overlaps(ipaddress.ip_network(r)) for n in spaces
                   for r in ("10.20.0.0/16", "10.244.0.0/16", "10.0.0.0/16"))

    code, doc, err = run(home, "apply", *args, "--answers", str(west), "--yes", "--json", env=env)
    assert code == 0, err[-4000:]
    assert "is added to install" in err
    region = doc["regions"][0]
    assert region["region"] == "westeurope" and region["home"] is False
    uid = doc["uniq_id"]["value"]
    assert region["resource_ids"]["cluster_group"].endswith(f"/leafai-{uid}-westeurope")
    assert region["kubeconfig"] != first["regions"][0]["kubeconfig"]
    dep = kubectl_deployment(region["kubeconfig"])  # the machine's kubectl, the wizard's kubeconfig
    assert dep["status"].get("readyReplicas") == 2

    net = _network(served, doc["subscription"]["id"])
    home_half = net.virtual_network_peerings.get(f"studioml-{uid}", f"studioml-vnet-{uid}", "to-westeurope")
    far_half = net.virtual_network_peerings.get(f"leafai-{uid}-westeurope", f"studioml-vnet-{uid}-westeurope",
                                                "to-home")
    assert home_half.peering_state == far_half.peering_state == "Connected"
    far = net.virtual_networks.get(f"leafai-{uid}-westeurope", f"studioml-vnet-{uid}-westeurope")
    assert far.location == "westeurope"
    assert not ipaddress.ip_network(far.address_space.address_prefixes[0]).overlaps(
        ipaddress.ip_network("10.20.0.0/16"))
    assert_converged(served, first, ("westeurope",))  # one app, principal, password; 2 VMs; one home cluster

    # Both regions' kubeconfigs at once: a context of each, each reaching its own cluster
    east_kc, west_kc = first["regions"][0]["kubeconfig"], region["kubeconfig"]
    both = {**os.environ, "KUBECONFIG": f"{east_kc}:{west_kc}"}
    names = subprocess.run(["kubectl", "config", "get-contexts", "-o", "name"], env=both, capture_output=True,
                           text=True, check=True).stdout.split()
    assert sorted(names) == [f"leafai-cluster-{uid}-eastus", f"leafai-cluster-{uid}-westeurope"], names
    servers = {subprocess.run(["kubectl", "config", "view", "--minify", "--context", name, "-o",
                               "jsonpath={.clusters[0].cluster.server}"], env=both, capture_output=True, text=True,
                              check=True).stdout for name in names}
    assert len(servers) == 2, servers
    # A file an earlier version wrote (AKS's own names, the same in every region) is rewritten by the next run
    old = yaml.safe_load(Path(east_kc).read_text())
    for entry in (*old["contexts"], *old["clusters"]):
        entry["name"] = f"leafai-cluster-{uid}"
    old["contexts"][0]["context"]["cluster"] = old["current-context"] = f"leafai-cluster-{uid}"
    Path(east_kc).write_text(yaml.safe_dump(old))
    code, again, err = run(home, "apply", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
    assert code == 0 and again["steps"]["kubeconfig"]["action"] == "update", again["steps"]["kubeconfig"]
    assert yaml.safe_load(Path(east_kc).read_text())["current-context"] == f"leafai-cluster-{uid}-eastus"
    assert oct(Path(east_kc).stat().st_mode & 0o777) == "0o600"

    clear_request_log(served)
    for answers in (west, ANSWERS):  # each region again: nothing to change, nothing written
        code, again, err = run(home, "apply", *args, "--answers", str(answers), "--yes", "--json", env=env)
        assert code == 0 and {s["action"] for s in again["steps"].values()} == {"none"}, again["steps"]
    assert sandbox_writes(served) == []

    code, status, err = run(home, "status", *args, "--json", env=env)
    assert code == 0, err
    assert [(r["region"], r["home"], r["runner"]["ready"]) for r in status["regions"]] == [
        ("eastus", True, 2), ("westeurope", False, 2)]
    assert status["installed"] is True
    for region in status["regions"]:  # a pod in each region logged in to RabbitMQ and listed the S3 buckets
        assert region["services"]["ok"] and ": ok" in region["services"]["amqp"] and ": ok" in region["services"]["s3"]
    nsg = net.network_security_groups.get(f"studioml-{uid}", f"studioml-services-nsg-{uid}")
    sources = {tuple(sorted(r.source_address_prefixes)) for r in nsg.security_rules if r.access == "Allow"}
    assert sources == {tuple(sorted(["10.20.0.0/20", far.subnets[0].address_prefix]))}, sources


def test_a_deleted_peering_half_is_mended(served: RunningSandbox, home: Home, tmp_path: Path) -> None:
    """Someone deletes the home half of the peering: the region's half goes Disconnected (a PUT cannot mend it);
    the next apply says so, deletes it, and makes both halves again."""
    args, env = endpoint_args(served.info)
    west = answers_with(tmp_path, region="westeurope")
    for answers in (ANSWERS, west):
        code, doc, err = run(home, "apply", *args, "--answers", str(answers), "--yes", "--json", env=env)
        assert code == 0, err[-4000:]
    uid = doc["uniq_id"]["value"]
    net = _network(served, doc["subscription"]["id"])
    net.virtual_network_peerings.begin_delete(f"studioml-{uid}", f"studioml-vnet-{uid}", "to-westeurope").result()
    far = (f"leafai-{uid}-westeurope", f"studioml-vnet-{uid}-westeurope", "to-home")
    assert net.virtual_network_peerings.get(*far).peering_state == "Disconnected"
    code, doc, err = run(home, "apply", *args, "--answers", str(west), "--yes", "--json", env=env)
    assert code == 0, err[-4000:]
    peering = doc["steps"]["peering"]
    assert peering["action"] == "update" and peering["detail"] == "to-westeurope missing, to-home Disconnected"
    assert {s["action"] for k, s in doc["steps"].items() if k != "peering"} == {"none"}
    assert net.virtual_network_peerings.get(*far).peering_state == "Connected"
    assert net.virtual_network_peerings.get(f"studioml-{uid}", f"studioml-vnet-{uid}",
                                            "to-westeurope").peering_state == "Connected"
