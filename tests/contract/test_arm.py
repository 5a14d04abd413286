"""ARM contract: every sandbox operation through the official SDK clients, answers checked against the spec."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
import yaml
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.containerregistry import ContainerRegistryManagementClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.subscription import SubscriptionClient

from .checks import check_all

ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"


def _name(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


@pytest.fixture
def sub(sandbox: Any) -> str:
    return str(sandbox.info["subscriptions"][0])


def test_subscriptions_and_locations(arm: Any, recorder: Any, sandbox: Any) -> None:
    client = arm(SubscriptionClient)
    subs = list(client.subscriptions.list())
    assert {s.subscription_id for s in subs} == set(sandbox.info["subscriptions"])
    assert {str(s.state) for s in subs} >= {"Enabled", "Warned"}
    one = client.subscriptions.get(subs[1].subscription_id)
    assert one.display_name == subs[1].display_name
    locations = list(client.subscriptions.list_locations(subs[0].subscription_id))
    assert "eastus" in {loc.name for loc in locations}
    tenants = list(client.tenants.list())
    assert tenants[0].tenant_id == sandbox.info["tenant_id"]
    with pytest.raises(ResourceNotFoundError):
        client.subscriptions.get(str(uuid.uuid4()))
    assert check_all(recorder.seen) >= 5


def test_resource_groups_and_providers(arm: Any, recorder: Any, sub: str) -> None:
    rm = arm(ResourceManagementClient, sub)
    name = _name("rg-")
    created = rm.resource_groups.create_or_update(name, {"location": "East US", "tags": {"k": "v"}})
    assert created.location == "eastus" and created.properties.provisioning_state == "Succeeded"
    assert rm.resource_groups.check_existence(name) is True
    again = rm.resource_groups.create_or_update(name, {"location": "eastus"})
    assert again.id == created.id
    with pytest.raises(HttpResponseError) as moved:
        rm.resource_groups.create_or_update(name, {"location": "westus2"})
    assert moved.value.error.code == "InvalidResourceGroupLocation"
    assert name in {g.name for g in rm.resource_groups.list()}
    providers = {p.namespace: p.registration_state for p in rm.providers.list()}
    assert providers["Microsoft.ContainerService"] == "Registered"
    rm.resource_groups.begin_delete(name).result()
    assert rm.resource_groups.check_existence(name) is False
    with pytest.raises(ResourceNotFoundError) as missing:
        rm.resource_groups.get(name)
    assert missing.value.error.code == "ResourceGroupNotFound"
    check_all(recorder.seen)


def test_provider_registration(arm: Any, recorder: Any, sandbox: Any) -> None:
    third = sandbox.info["subscriptions"][2]
    rm = arm(ResourceManagementClient, third)
    rm.resource_groups.create_or_update("rg-reg", {"location": "eastus"})
    acr = arm(ContainerRegistryManagementClient, third)
    with pytest.raises(HttpResponseError) as refused:
        acr.registries.begin_create("rg-reg", _name("regprov"), {"location": "eastus", "sku": {"name": "Basic"}})
    assert refused.value.error.code == "MissingSubscriptionRegistration"
    state = rm.providers.register("Microsoft.ContainerRegistry").registration_state
    assert state in ("Registering", "Registered")
    check_all(recorder.seen)


def test_registry_lifecycle(arm: Any, recorder: Any, sub: str) -> None:
    arm(ResourceManagementClient, sub).resource_groups.create_or_update("rg-acr", {"location": "eastus"})
    acr = arm(ContainerRegistryManagementClient, sub)
    name = _name("leafai")
    check = {"name": name, "type": "Microsoft.ContainerRegistry/registries"}
    assert acr.registries.check_name_availability(check).name_available is True
    reg = acr.registries.begin_create("rg-acr", name, {"location": "eastus", "sku": {"name": "Basic"},
                                                       "tags": {"studioml-uniq-id": "0123abcd"}}).result()
    assert reg.provisioning_state == "Succeeded" and reg.login_server == f"{name}.azurecr.io"
    assert reg.admin_user_enabled is False
    taken = acr.registries.check_name_availability(check)
    assert taken.name_available is False and taken.reason == "AlreadyExists"
    creds = acr.registries.list_credentials("rg-acr", name)
    assert creds.username == name and len(creds.passwords) == 2
    updated = acr.registries.begin_update("rg-acr", name, {"properties": {"adminUserEnabled": True}}).result()
    assert updated.admin_user_enabled is True
    assert name in {r.name for r in acr.registries.list_by_resource_group("rg-acr")}
    assert name in {r.name for r in acr.registries.list()}
    acr.registries.begin_import_image("rg-acr", name, {
        "source": {"registryUri": "docker.io", "sourceImage": "leafai/studio-go-runner:0.9.21"},
        "targetTags": [f"{name}/studio-go-runner:0.9.21"], "mode": "Force"}).result()
    with pytest.raises(HttpResponseError) as bad:
        acr.registries.begin_create("rg-acr", "bad-name!", {"location": "eastus", "sku": {"name": "Basic"}})
    assert bad.value.status_code == 400
    # a trademarked or reserved word: the name check says so, and a create is refused as ARM refuses it
    held = acr.registries.check_name_availability({"name": "microsoftstudio1", "type": check["type"]})
    assert held.name_available is False and held.reason == "Invalid" and "reserved" in (held.message or "")
    with pytest.raises(HttpResponseError) as word:
        acr.registries.begin_create("rg-acr", "azure", {"location": "eastus", "sku": {"name": "Basic"}})
    assert word.value.error is not None and word.value.error.code == "ReservedResourceName"
    free = [body for method, url, status, body in recorder.seen if url.split("?")[0].endswith("/checkNameAvailability")
            and isinstance(body, dict) and body.get("nameAvailable")]
    assert free and free[0]["availableLoginServerName"] == f"{name}.azurecr.io"
    acr.registries.begin_delete("rg-acr", name).result()
    with pytest.raises(ResourceNotFoundError):
        acr.registries.get("rg-acr", name)
    check_all(recorder.seen)


def test_managed_cluster(arm: Any, recorder: Any, sub: str) -> None:
    arm(ResourceManagementClient, sub).resource_groups.create_or_update("rg-aks", {"location": "eastus"})
    aks = arm(ContainerServiceClient, sub)
    body = {"location": "eastus", "identity": {"type": "SystemAssigned"}, "properties": {
        "dnsPrefix": "leafai", "agentPoolProfiles": [
            {"name": "system", "count": 1, "vmSize": "Standard_D2s_v3", "mode": "System"},
            {"name": "gpu", "count": 1, "vmSize": "Standard_NC4as_T4_v3", "mode": "User",
             "nodeTaints": ["sku=gpu:NoSchedule"]}]}}
    mc = aks.managed_clusters.begin_create_or_update("rg-aks", "leafai-cluster", body).result()
    assert mc.provisioning_state == "Succeeded"
    assert {p.name for p in mc.agent_pool_profiles} == {"system", "gpu"}
    pools = {p.name: p for p in aks.agent_pools.list("rg-aks", "leafai-cluster")}
    assert pools["gpu"].node_taints == ["sku=gpu:NoSchedule"]
    user = aks.managed_clusters.list_cluster_user_credentials("rg-aks", "leafai-cluster")
    config = yaml.safe_load(base64.b64decode(user.kubeconfigs[0].value) if isinstance(user.kubeconfigs[0].value, str)
                            else user.kubeconfigs[0].value)
    assert config["clusters"][0]["cluster"]["server"].startswith("https://127.0.0.1:")
    assert config["users"][0]["user"]["token"]
    admin = aks.managed_clusters.list_cluster_admin_credentials("rg-aks", "leafai-cluster")
    admin_cfg = yaml.safe_load(admin.kubeconfigs[0].value)
    assert "client-certificate-data" in admin_cfg["users"][0]["user"]
    too_big = {**body, "properties": {**body["properties"], "agentPoolProfiles": [
        body["properties"]["agentPoolProfiles"][0],
        {"name": "gpu", "count": 10, "vmSize": "Standard_NC8as_T4_v3", "mode": "User"}]}}
    with pytest.raises(HttpResponseError) as quota:
        aks.managed_clusters.begin_create_or_update("rg-aks", "too-big", too_big)
    assert quota.value.error.code == "ErrCode_InsufficientVCPUQuota"  # AKS's own code and words
    assert "Insufficient vcpu quota requested 80, remaining 20 for family Standard NCASv3_T4 Family" in \
        quota.value.error.message  # 24 less the 4 of the cluster above
    # once the cluster exists, its pools change through the agentPools API only, as AKS refuses it otherwise
    again = {**body, "properties": {**body["properties"], "agentPoolProfiles": [
        body["properties"]["agentPoolProfiles"][0], {**body["properties"]["agentPoolProfiles"][1], "count": 2}]}}
    with pytest.raises(HttpResponseError) as changed:
        aks.managed_clusters.begin_create_or_update("rg-aks", "leafai-cluster", again)
    assert changed.value.error.code == "OperationNotAllowed"
    assert "per nodepool operations" in changed.value.error.message
    added = {**body, "properties": {**body["properties"], "agentPoolProfiles": [
        *body["properties"]["agentPoolProfiles"], {"name": "extra", "count": 1, "vmSize": "Standard_D2s_v3"}]}}
    with pytest.raises(HttpResponseError) as more:
        aks.managed_clusters.begin_create_or_update("rg-aks", "leafai-cluster", added)
    assert "A new agent pool was introduced" in more.value.error.message
    scaled = aks.agent_pools.begin_create_or_update("rg-aks", "leafai-cluster", "gpu", {"properties": {
        "count": 2, "vmSize": "Standard_NC4as_T4_v3", "mode": "User", "nodeTaints": ["sku=gpu:NoSchedule"]}}).result()
    assert scaled.count == 2 and aks.managed_clusters.get("rg-aks", "leafai-cluster").agent_pool_profiles[1].count == 2
    tagged = aks.managed_clusters.begin_update_tags("rg-aks", "leafai-cluster", {"tags": {"k": "v"}}).result()
    assert tagged.tags == {"k": "v"}
    aks.managed_clusters.begin_delete("rg-aks", "leafai-cluster").result()
    with pytest.raises(ResourceNotFoundError):
        aks.managed_clusters.get("rg-aks", "leafai-cluster")
    check_all(recorder.seen)


def test_compute_skus_usages_and_vm(arm: Any, recorder: Any, sub: str) -> None:
    arm(ResourceManagementClient, sub).resource_groups.create_or_update("rg-vm", {"location": "eastus"})
    compute = arm(ComputeManagementClient, sub)
    skus = list(compute.resource_skus.list(filter="location eq 'eastus'"))
    names = {s.name for s in skus}
    assert "Standard_NC4as_T4_v3" in names and "Standard_NC6" not in names
    a100 = next(s for s in skus if s.name == "Standard_NC24ads_A100_v4")
    assert a100.restrictions[0].reason_code == "NotAvailableForSubscription"
    usages = {u.name.value: u for u in compute.usage.list("eastus")}
    assert usages["cores"].name.localized_value == "Total Regional vCPUs"
    assert usages["StandardNCADSA100v4Family"].limit == 0
    before = usages["standardDSv2Family"].current_value
    net = arm(NetworkManagementClient, sub)
    vnet = net.virtual_networks.begin_create_or_update("rg-vm", "vnet", {"location": "eastus", "properties": {
        "addressSpace": {"addressPrefixes": ["10.20.0.0/16"]},
        "subnets": [{"name": "services", "properties": {"addressPrefix": "10.20.2.0/24"}}]}}).result()
    nsg = net.network_security_groups.begin_create_or_update("rg-vm", "nsg", {"location": "eastus", "properties": {
        "securityRules": [{"name": "amqp", "properties": {
            "priority": 100, "direction": "Inbound", "access": "Allow", "protocol": "Tcp",
            "sourceAddressPrefix": "VirtualNetwork", "sourcePortRange": "*",
            "destinationAddressPrefix": "*", "destinationPortRange": "5672"}}]}}).result()
    pip = net.public_ip_addresses.begin_create_or_update("rg-vm", "pip", {
        "location": "eastus", "sku": {"name": "Standard"},
        "properties": {"publicIPAllocationMethod": "Static"}}).result()
    nic = net.network_interfaces.begin_create_or_update("rg-vm", "nic", {"location": "eastus", "properties": {
        "networkSecurityGroup": {"id": nsg.id}, "ipConfigurations": [{"name": "ipconfig1", "properties": {
            "subnet": {"id": vnet.subnets[0].id}, "privateIPAllocationMethod": "Static",
            "privateIPAddress": "10.20.2.10", "publicIPAddress": {"id": pip.id}}}]}}).result()
    assert nic.ip_configurations[0].private_ip_address == "10.20.2.10"
    with pytest.raises(HttpResponseError) as clash:
        net.network_interfaces.begin_create_or_update("rg-vm", "nic2", {"location": "eastus", "properties": {
            "ipConfigurations": [{"name": "ipconfig1", "properties": {
                "subnet": {"id": vnet.subnets[0].id}, "privateIPAllocationMethod": "Static",
                "privateIPAddress": "10.20.2.10"}}]}})
    assert clash.value.error.code == "PrivateIPAddressInUse"
    vm = compute.virtual_machines.begin_create_or_update("rg-vm", "rabbitmq", {"location": "eastus", "properties": {
        "hardwareProfile": {"vmSize": "Standard_DS12_v2"},
        "storageProfile": {"imageReference": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts",
                                              "sku": "server", "version": "latest"}},
        "osProfile": {"computerName": "rabbitmq", "adminUsername": "azureuser", "customData": "I2Nsb3VkLWNvbmZpZw==",
                      "linuxConfiguration": {"disablePasswordAuthentication": True, "ssh": {"publicKeys": [
                          {"path": "/home/azureuser/.ssh/authorized_keys", "keyData": "ssh-ed25519 AAAA"}]}}},
        "networkProfile": {"networkInterfaces": [{"id": nic.id}]}}}).result()
    assert vm.provisioning_state == "Succeeded" and vm.os_profile.custom_data is None
    after = {u.name.value: u for u in compute.usage.list("eastus")}["standardDSv2Family"].current_value
    assert after == before + 4
    got = compute.virtual_machines.get("rg-vm", "rabbitmq")
    assert got.hardware_profile.vm_size == "Standard_DS12_v2"
    assert net.network_interfaces.get("rg-vm", "nic").virtual_machine.id == vm.id
    compute.virtual_machines.begin_delete("rg-vm", "rabbitmq").result()
    check_all(recorder.seen)


def test_vnet_peering(arm: Any, recorder: Any, sub: str) -> None:
    arm(ResourceManagementClient, sub).resource_groups.create_or_update("rg-peer", {"location": "eastus"})
    net = arm(NetworkManagementClient, sub)

    def vnet(name: str, prefix: str) -> Any:
        return net.virtual_networks.begin_create_or_update("rg-peer", name, {"location": "eastus", "properties": {
            "addressSpace": {"addressPrefixes": [prefix]}}}).result()

    home, west, clash = vnet("home", "10.1.0.0/16"), vnet("west", "10.2.0.0/16"), vnet("clash", "10.1.0.0/20")
    out = net.virtual_network_peerings.begin_create_or_update("rg-peer", "home", "to-west", {
        "properties": {"remoteVirtualNetwork": {"id": west.id}, "allowVirtualNetworkAccess": True}}).result()
    assert out.peering_state == "Initiated"
    net.virtual_network_peerings.begin_create_or_update("rg-peer", "west", "to-home", {
        "properties": {"remoteVirtualNetwork": {"id": home.id}}}).result()
    assert net.virtual_network_peerings.get("rg-peer", "home", "to-west").peering_state == "Connected"
    with pytest.raises(HttpResponseError) as overlap:
        net.virtual_network_peerings.begin_create_or_update("rg-peer", "home", "to-clash", {
            "properties": {"remoteVirtualNetwork": {"id": clash.id}}})
    assert overlap.value.error.code == "VnetAddressSpacesOverlap"
    got = net.virtual_networks.get("rg-peer", "home")  # the VNet lists its peerings inline, as they are now
    assert [(p.name, p.peering_state) for p in got.virtual_network_peerings] == [("to-west", "Connected")]
    check_all(recorder.seen)


def test_a_vnet_put_holds_the_whole_subnet_list(arm: Any, recorder: Any, sub: str) -> None:
    """A VNet's GET shows its subnets as they are now; a PUT's subnet list is the whole list (one left out is
    deleted), and its peerings, child resources of their own, stay."""
    arm(ResourceManagementClient, sub).resource_groups.create_or_update("rg-sub", {"location": "eastus"})
    net = arm(NetworkManagementClient, sub)

    def put(subnets: list[str]) -> Any:
        return net.virtual_networks.begin_create_or_update("rg-sub", "v", {"location": "eastus", "properties": {
            "addressSpace": {"addressPrefixes": ["10.5.0.0/16"]},
            "subnets": [{"name": n, "properties": {"addressPrefix": f"10.5.{i}.0/24"}} for i, n in enumerate(subnets)]
        }}).result()

    put(["a", "b"])
    net.subnets.begin_create_or_update("rg-sub", "v", "c", {"properties": {"addressPrefix": "10.5.9.0/24"}}).result()
    assert [s.name for s in net.virtual_networks.get("rg-sub", "v").subnets] == ["a", "b", "c"]
    assert [s.name for s in put(["a"]).subnets] == ["a"]
    assert [s.name for s in net.subnets.list("rg-sub", "v")] == ["a"]
    check_all(recorder.seen)


def test_role_definitions_and_assignments(arm: Any, recorder: Any, sub: str, sandbox: Any) -> None:
    arm(ResourceManagementClient, sub).resource_groups.create_or_update("rg-rbac", {"location": "eastus"})
    acr = arm(ContainerRegistryManagementClient, sub)
    name = _name("leafairbac")
    reg = acr.registries.begin_create("rg-rbac", name, {"location": "eastus", "sku": {"name": "Basic"}}).result()
    auth = arm(AuthorizationManagementClient, sub)
    role = list(auth.role_definitions.list(reg.id, filter="roleName eq 'AcrPull'"))
    assert len(role) == 1 and role[0].name == ACR_PULL
    principal = _admin_sp_object_id(sandbox)
    ra_name = str(uuid.uuid4())
    made = auth.role_assignments.create(reg.id, ra_name, {"properties": {
        "roleDefinitionId": role[0].id, "principalId": principal, "principalType": "ServicePrincipal"}})
    assert made.scope == reg.id and made.name == ra_name
    assert auth.role_assignments.get(reg.id, ra_name).principal_id == principal
    with pytest.raises(HttpResponseError) as dup:
        auth.role_assignments.create(reg.id, str(uuid.uuid4()), {"properties": {
            "roleDefinitionId": role[0].id, "principalId": principal}})
    assert dup.value.status_code == 409 and dup.value.error.code == "RoleAssignmentExists"
    listed = list(auth.role_assignments.list_for_scope(reg.id, filter=f"principalId eq '{principal}'"))
    # at, above and below the scope: the new one and the admin's Owner on the subscription (inherited)
    assert sorted((a.scope, a.name) for a in listed if a.scope == reg.id) == [(reg.id, ra_name)]
    assert {a.scope for a in listed} == {reg.id, f"/subscriptions/{sub}"}
    with pytest.raises(HttpResponseError) as ghost:
        auth.role_assignments.create(reg.id, str(uuid.uuid4()), {"properties": {
            "roleDefinitionId": role[0].id, "principalId": str(uuid.uuid4())}})
    assert ghost.value.error.code == "PrincipalNotFound"
    auth.role_assignments.delete(reg.id, ra_name)
    with pytest.raises(ResourceNotFoundError):
        auth.role_assignments.get(reg.id, ra_name)
    check_all(recorder.seen)


def _admin_sp_object_id(sandbox: Any) -> str:
    import json
    state = json.loads((sandbox.directory / "state.json").read_text())
    return next(s["id"] for s in state["service_principals"].values() if s["appId"] == sandbox.info["client_id"])


def test_api_versions_and_auth(sandbox: Any, sub: str) -> None:
    import requests

    base, ca = sandbox.info["arm"], sandbox.info["ca_bundle"]
    anon = requests.get(f"{base}/subscriptions?api-version=2016-06-01", verify=ca, timeout=10)
    assert anon.status_code == 401 and anon.json()["error"]["code"] == "AuthenticationFailed"
    assert "WWW-Authenticate" in anon.headers
    bogus = requests.get(f"{base}/subscriptions?api-version=2016-06-01", verify=ca, timeout=10,
                         headers={"Authorization": "Bearer not.a.token"})
    assert bogus.json()["error"]["code"] == "InvalidAuthenticationToken"
    from azure.identity import ClientSecretCredential
    info = sandbox.info
    token = ClientSecretCredential(info["tenant_id"], info["client_id"], info["client_secret"],
                                   authority=info["authority"], disable_instance_discovery=True,
                                   connection_verify=ca).get_token("https://management.azure.com/.default").token
    hdr = {"Authorization": f"Bearer {token}"}
    missing = requests.get(f"{base}/subscriptions/{sub}/resourcegroups", verify=ca, headers=hdr, timeout=10)
    assert missing.json()["error"]["code"] == "MissingApiVersionParameter"
    wrong = requests.get(f"{base}/subscriptions/{sub}/providers/Microsoft.ContainerRegistry/registries"
                         "?api-version=2099-01-01", verify=ca, headers=hdr, timeout=10)
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "NoRegisteredProviderFound"
    assert "2025-11-01" in wrong.json()["error"]["message"]


def test_retry_after_is_whole_seconds_on_every_wait(tmp_path: Any) -> None:
    """ARM's Retry-After is an integer number of seconds (RFC 9110 delay-seconds; the SDKs parse it as int) on a
    429 and on an operation still running, at any speed; below a second the sandbox adds retry-after-ms, which
    azure-core prefers, so other clients (az, Terraform) never see a wait they cannot parse or none at all."""
    import re

    import requests

    from tests.conftest import admin_credential, start_sandbox

    served = start_sandbox(tmp_path / "s", "--speed", "500", "--faults", "429=1,seed=3")
    try:
        info, ca = served.info, served.info["ca_bundle"]
        token = admin_credential(info).get_token("https://management.azure.com/.default").token
        hdr = {"Authorization": f"Bearer {token}"}
        throttled = requests.get(f"{info['arm']}/subscriptions?api-version=2022-12-01", verify=ca, headers=hdr,
                                 timeout=10)
        assert throttled.status_code == 429
        assert re.fullmatch(r"[1-9][0-9]*", throttled.headers.get("Retry-After", "")), throttled.headers
        assert int(throttled.headers["retry-after-ms"]) < 1000
        requests.post(f"{info['arm']}/sandbox/faults", data={"spec": ""}, verify=ca, timeout=10).raise_for_status()
        sub = info["subscriptions"][0]
        rg = f"{info['arm']}/subscriptions/{sub}/resourcegroups/rg-retry?api-version=2025-04-01"
        requests.put(rg, json={"location": "eastus"}, verify=ca, headers=hdr, timeout=10).raise_for_status()
        made = requests.put(f"{info['arm']}/subscriptions/{sub}/resourceGroups/rg-retry/providers/"
                            "Microsoft.ContainerRegistry/registries/leafairetry01?api-version=2025-11-01",
                            json={"location": "eastus", "sku": {"name": "Basic"}}, verify=ca, headers=hdr, timeout=10)
        assert made.status_code in (200, 201) and "Azure-AsyncOperation" in made.headers, made.text
        assert re.fullmatch(r"[1-9][0-9]*", made.headers.get("Retry-After", "")), made.headers
        polled = requests.get(made.headers["Azure-AsyncOperation"], verify=ca, headers=hdr, timeout=10)
        if polled.json().get("status") == "InProgress":
            assert re.fullmatch(r"[1-9][0-9]*", polled.headers.get("Retry-After", "")), polled.headers
    finally:
        served.stop()


def test_private_addresses_are_unique_per_vnet(arm: Any, recorder: Any, sub: str) -> None:
    """Two installs side by side (two VNets with the same space) each get their .4; within one VNet a static
    address already held is refused with the network RP's PrivateIPAddressInUse."""
    arm(ResourceManagementClient, sub).resource_groups.create_or_update("rg-ips", {"location": "eastus"})
    net = arm(NetworkManagementClient, sub)

    def subnet(vnet: str) -> Any:
        made = net.virtual_networks.begin_create_or_update("rg-ips", vnet, {"location": "eastus", "properties": {
            "addressSpace": {"addressPrefixes": ["10.20.0.0/16"]},
            "subnets": [{"name": "services", "properties": {"addressPrefix": "10.20.16.0/24"}}]}}).result()
        return made.subnets[0].id

    def nic(name: str, subnet_id: str) -> Any:
        return net.network_interfaces.begin_create_or_update("rg-ips", name, {"location": "eastus", "properties": {
            "ipConfigurations": [{"name": "ipconfig1", "properties": {
                "subnet": {"id": subnet_id}, "privateIPAllocationMethod": "Static",
                "privateIPAddress": "10.20.16.4"}}]}}).result()

    one, two = subnet("install-a"), subnet("install-b")
    assert nic("a-rabbitmq", one).ip_configurations[0].private_ip_address == "10.20.16.4"
    assert nic("b-rabbitmq", two).ip_configurations[0].private_ip_address == "10.20.16.4"
    with pytest.raises(HttpResponseError) as taken:
        nic("a-other", one)
    assert taken.value.error.code == "PrivateIPAddressInUse"
    check_all(recorder.seen)
