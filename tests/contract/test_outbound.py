"""Contract: outbound (public IPs, NAT gateways, private subnets) and VM Run Command through the official clients,
every answer checked against the Azure REST specs, and the refusals Azure gives."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient

from . import spec
from .checks import check_all


@pytest.fixture
def sub(sandbox: Any) -> str:
    return str(sandbox.info["subscriptions"][0])


def _rg(arm: Any, sub: str) -> str:
    name = f"rg-out-{uuid.uuid4().hex[:6]}"
    arm(ResourceManagementClient, sub).resource_groups.create_or_update(name, {"location": "eastus"})
    return name


def test_public_ips_and_nat_gateways(arm: Any, recorder: Any, sub: str) -> None:
    rg, net = _rg(arm, sub), arm(NetworkManagementClient, sub)
    with pytest.raises(HttpResponseError) as basic:
        net.public_ip_addresses.begin_create_or_update(rg, "basic", {"location": "eastus", "sku": {"name": "Basic"},
                                                                     "properties": {}})
    assert basic.value.error.code == "PublicIPCountLimitReached"  # Basic public IPs were retired in 2025
    with pytest.raises(HttpResponseError) as dynamic:
        net.public_ip_addresses.begin_create_or_update(rg, "dyn", {
            "location": "eastus", "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Dynamic"}})
    assert "must have AllocationMethod set to Static" in dynamic.value.error.message
    ip = net.public_ip_addresses.begin_create_or_update(rg, "ip", {"location": "eastus", "sku": {"name": "Standard"},
                                                                   "properties": {"publicIPAllocationMethod": "Static"}
                                                                   }).result()
    assert ip.ip_address and ip.sku.name == "Standard"
    with pytest.raises(HttpResponseError) as missing:
        net.nat_gateways.begin_create_or_update(rg, "bad", {"location": "eastus", "sku": {"name": "Standard"},
                                                            "properties": {"publicIpAddresses": [{"id": ip.id + "x"}]}})
    assert missing.value.error.code == "InvalidResourceReference"
    nat = net.nat_gateways.begin_create_or_update(rg, "nat", {
        "location": "eastus", "sku": {"name": "Standard"}, "tags": {"k": "v"},
        "properties": {"idleTimeoutInMinutes": 4, "publicIpAddresses": [{"id": ip.id}]}}).result()
    assert nat.public_ip_addresses[0].id == ip.id and not nat.subnets
    with pytest.raises(HttpResponseError) as twice:  # an address serves one NAT gateway only
        net.nat_gateways.begin_create_or_update(rg, "nat2", {"location": "eastus", "sku": {"name": "Standard"},
                                                             "properties": {"publicIpAddresses": [{"id": ip.id}]}})
    assert twice.value.error.code == "PublicIpAddressInUse"
    vnet = net.virtual_networks.begin_create_or_update(rg, "v", {"location": "eastus", "properties": {
        "addressSpace": {"addressPrefixes": ["10.9.0.0/16"]},
        "subnets": [{"name": "s", "properties": {"addressPrefix": "10.9.1.0/24", "natGateway": {"id": nat.id}}},
                    {"name": "open", "properties": {"addressPrefix": "10.9.2.0/24", "defaultOutboundAccess": True}}]}
    }).result()
    subnets = {s.name: s for s in vnet.subnets}
    assert subnets["s"].default_outbound_access is False  # private by default from api-version 2025-07-01 on
    assert subnets["open"].default_outbound_access is True
    assert [s.id for s in net.nat_gateways.get(rg, "nat").subnets] == [subnets["s"].id]
    with pytest.raises(HttpResponseError) as in_use:
        net.nat_gateways.begin_delete(rg, "nat").result()
    assert in_use.value.error.code == "InUseNatGatewayCannotBeDeleted"
    with pytest.raises(HttpResponseError) as ip_in_use:
        net.public_ip_addresses.begin_delete(rg, "ip").result()
    assert ip_in_use.value.error.code == "PublicIPAddressCannotBeDeleted"
    assert net.public_ip_addresses.get(rg, "ip").nat_gateway.id == nat.id
    assert check_all(recorder.seen) >= 10


def _vm(arm: Any, sub: str, rg: str, cloud_config: str) -> ComputeManagementClient:
    net = arm(NetworkManagementClient, sub)
    vnet = net.virtual_networks.begin_create_or_update(rg, "v", {"location": "eastus", "properties": {
        "addressSpace": {"addressPrefixes": ["10.8.0.0/16"]},
        "subnets": [{"name": "s", "properties": {"addressPrefix": "10.8.1.0/24"}}]}}).result()
    nic = net.network_interfaces.begin_create_or_update(rg, "nic", {"location": "eastus", "properties": {
        "ipConfigurations": [{"name": "c", "properties": {"subnet": {"id": vnet.subnets[0].id}}}]}}).result()
    compute = arm(ComputeManagementClient, sub)
    compute.virtual_machines.begin_create_or_update(rg, "vm", {"location": "eastus", "properties": {
        "hardwareProfile": {"vmSize": "Standard_D2s_v3"},
        "storageProfile": {"imageReference": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server",
                                              "version": "latest"}},
        "osProfile": {"computerName": "vm", "adminUsername": "azureuser",
                      "customData": base64.b64encode(cloud_config.encode()).decode(),
                      "linuxConfiguration": {"disablePasswordAuthentication": True, "ssh": {"publicKeys": [
                          {"path": "/home/azureuser/.ssh/authorized_keys", "keyData": "ssh-ed25519 AAAA"}]}}},
        "networkProfile": {"networkInterfaces": [{"id": nic.id}]}}}).result()
    return compute


def test_run_command_runs_a_script_in_the_booted_vm(arm: Any, recorder: Any, sub: str) -> None:
    rg = _rg(arm, sub)
    compute = _vm(arm, sub, rg, "#cloud-config\nwrite_files:\n- path: /etc/motd\n  content: hello\nruncmd:\n"
                                "- [sh, -c, 'echo booted > /var/tmp/booted']\n")
    result = compute.virtual_machines.begin_run_command(rg, "vm", {"commandId": "RunShellScript", "script": [
        "timeout 600 cloud-init status --wait", "cat /etc/motd /var/tmp/booted"]}).result()
    status = result.value[0]
    assert status.code == "ProvisioningState/succeeded" and status.level == "Info"
    assert status.message == "Enable succeeded: \n[stdout]\nstatus: done\nhellobooted\n\n[stderr]\n"
    failed = compute.virtual_machines.begin_run_command(rg, "vm", {"commandId": "RunShellScript", "script": [
        "echo before", "no-such-program", "exit 3"]}).result().value[0]
    assert failed.code.startswith("ProvisioningState/failed") and "exit status=3" in failed.message
    assert "command not found" in failed.message.partition("[stderr]")[2]
    with pytest.raises(HttpResponseError) as windows:
        compute.virtual_machines.begin_run_command(rg, "vm", {"commandId": "RunPowerShellScript", "script": ["dir"]})
    assert windows.value.status_code == 400
    first = compute.virtual_machines.begin_run_command(rg, "vm", {"commandId": "RunShellScript", "script": ["true"]})
    with pytest.raises(HttpResponseError) as busy:  # one script at a time per VM
        compute.virtual_machines.begin_run_command(rg, "vm", {"commandId": "RunShellScript", "script": ["true"]})
    assert busy.value.status_code == 409
    first.result()
    check_all(recorder.seen)
    results = [(u, b) for m, u, s, b in recorder.seen if "/operationresults/" in u.lower() and s == 200 and b]
    op = spec.find("POST", f"https://x/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/"
                           "virtualMachines/vm/runCommand?api-version=2026-04-01")
    assert op is not None and op.op_id == "VirtualMachines_RunCommand"
    assert len(results) >= 3
    for _url, body in results:  # the final answer is a RunCommandResult, as the spec's 200 says
        spec.validate(op, 200, body)


def test_a_private_subnet_has_no_internet(arm: Any, sub: str) -> None:
    """A VM in a private subnet without a NAT gateway or public IP cannot reach the internet: apt times out."""
    rg = _rg(arm, sub)
    compute = _vm(arm, sub, rg, "#cloud-config\nruncmd:\n- [apt-get, update]\n- [apt-get, install, -y, jq]\n")
    out = compute.virtual_machines.begin_run_command(rg, "vm", {"commandId": "RunShellScript", "script": [
        "timeout 900 cloud-init status --wait --long", "tail -n 3 /var/log/cloud-init-output.log"]}).result()
    message = out.value[0].message
    assert "status: error" in message and "scripts_user" in message, message
    assert "Unable to locate package jq" in message or "connection timed out" in message, message
