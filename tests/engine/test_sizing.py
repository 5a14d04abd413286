"""Sizing that cannot fail late: the estimate against the sandbox's Retail Prices, retired sizes, quota refusals
before anything is made, and the snapshot when the prices API is unreachable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import RunningSandbox
from tests.engine.helpers import ANSWERS, Home, clear_request_log, endpoint_args, run, sandbox_writes, start
from tests.engine.helpers import answers_with as _answers


def _prices(served: RunningSandbox, flt: str) -> list[dict[str, Any]]:
    """Every item of the sandbox's Retail Prices API for a filter, following NextPageLink."""
    items: list[dict[str, Any]] = []
    url: str | None = served.info["prices"]
    params: dict[str, str] | None = {"$filter": flt, "api-version": "2023-01-01-preview"}
    while url:
        page = requests.get(url, params=params, verify=served.info["ca_bundle"], timeout=10).json()
        items += page["Items"]
        url, params = page["NextPageLink"], None
    return items


def _linux_payg(items: list[dict[str, Any]]) -> dict[str, Any]:
    kept = [i for i in items if i["type"] == "Consumption" and not i["productName"].endswith("Windows")
            and "Spot" not in i["skuName"] and "Low Priority" not in i["skuName"]]
    assert len(kept) == 1, kept
    return kept[0]


def test_estimate_is_the_retail_prices_times_730(tmp_path: Path, served: RunningSandbox) -> None:
    args, env = endpoint_args(served.info)
    clear_request_log(served)
    code, doc, err = run(Home(tmp_path), "plan", *args, "--answers", str(ANSWERS), "--json", env=env)
    assert code == 0, err[-3000:]
    assert sandbox_writes(served) == []  # plan only reads
    est = doc["estimate"]
    assert est["from_snapshot"] is False and est["currency"] == "USD"
    lines = {line["item"]: line for line in est["lines"]}

    def vm(size: str) -> float:
        return float(_linux_payg(_prices(served, f"serviceName eq 'Virtual Machines' and armRegionName eq 'eastus' "
                                                 f"and armSkuName eq '{size}'"))["retailPrice"])

    def meter(service: str, name: str) -> dict[str, Any]:
        return _linux_payg(_prices(served, f"serviceName eq '{service}' and armRegionName eq 'eastus' and "
                                           f"meterName eq '{name}'"))

    assert lines["GPU pool nodes"]["quantity"] == 2
    expected = {
        "GPU pool nodes": 2 * vm("Standard_NC4as_T4_v3") * 730,
        "system pool node": vm("Standard_D2s_v3") * 730,
        "RabbitMQ VM": vm("Standard_DS12_v2") * 730,
        "file server VM": vm("Standard_D4s_v3") * 730,
        "AKS outbound public IP": meter("Virtual Network", "Standard IPv4 Static Public IP")["retailPrice"] * 730,
        "AKS node OS disks (128 GiB)": 3 * meter("Storage", "P10 LRS Disk")["retailPrice"],  # monthly meters
        "file server data disk (256 GiB)": meter("Storage", "P15 LRS Disk")["retailPrice"],
        "RabbitMQ OS disk (30 GiB)": meter("Storage", "P4 LRS Disk")["retailPrice"],
        "file server OS disk (30 GiB)": meter("Storage", "P4 LRS Disk")["retailPrice"],
        "container registry (Basic)": meter("Container Registry", "Basic Registry Unit")["retailPrice"] * 730 / 24,
        # the services' outbound: the gateway's hours, its public IP's, and the data it processes (20 GB assumed)
        "NAT gateway": meter("NAT Gateway", "Standard Gateway")["retailPrice"] * 730,
        "NAT gateway public IP": meter("Virtual Network", "Standard IPv4 Static Public IP")["retailPrice"] * 730,
        "NAT gateway data processed": 20 * meter("NAT Gateway", "Standard Data Processed")["retailPrice"],
    }
    assert lines["NAT gateway data processed"]["sku"] == "20 GB a month (assumed)"
    assert set(lines) == set(expected)
    for item, monthly in expected.items():
        assert lines[item]["monthly"] == pytest.approx(monthly, rel=1e-9), item
        assert lines[item]["hourly"] == pytest.approx(monthly / 730, rel=1e-9), item
    assert est["total"]["monthly"] == pytest.approx(sum(expected.values()), rel=1e-9)
    assert est["regions"]["eastus"]["monthly"] == pytest.approx(sum(expected.values()), rel=1e-9)
    gpu_pool = next(r for s in doc["steps"] for r in s["resources"] if r.get("cost_item") == "GPU pool nodes")
    assert gpu_pool["monthly"] == pytest.approx(expected["GPU pool nodes"])
    # the same in euros, as the API converts them
    code, eur, err = run(Home(tmp_path), "plan", *args, "--answers", str(_answers(tmp_path, currency="EUR")),
                         "--json", env=env)
    assert code == 0 and eur["estimate"]["currency"] == "EUR"
    assert eur["estimate"]["total"]["monthly"] != pytest.approx(est["total"]["monthly"])


def test_retired_size_exits_2_naming_its_successor(tmp_path: Path) -> None:
    code, doc, _ = run(Home(tmp_path), "plan", "--answers", str(_answers(tmp_path, gpu_sku="Standard_NC6")), "--json")
    assert code == 2
    assert "retired" in doc["error"] and "Standard_NC4as_T4_v3" in doc["hint"]


def test_zero_quota_is_refused_before_anything_is_made(tmp_path: Path, served: RunningSandbox) -> None:
    answers = _answers(tmp_path, gpu_sku="Standard_NC24ads_A100_v4", region="eastus2", runner_replicas=1,
                       gpu_nodes=1)
    args, env = endpoint_args(served.info)
    clear_request_log(served)
    for command in ("plan", "apply"):
        extra = ["--yes"] if command == "apply" else []
        code, doc, err = run(Home(tmp_path), command, *args, "--answers", str(answers), "--json", *extra, env=env)
        assert code == 3, err[-3000:]
        message = doc["error"]
        assert "StandardNCADSA100v4Family" in message and "needs 48 more vCPUs" in message  # 1 node + 1 surge
        assert "limit 0" in message and "in use 0" in message
        assert "QuotaMenuBlade" in doc["hint"] and "az quota update" in doc["hint"]
    assert sandbox_writes(served) == []


def test_size_not_offered_to_the_subscription_is_refused(tmp_path: Path, served: RunningSandbox) -> None:
    answers = _answers(tmp_path, gpu_sku="Standard_NC24ads_A100_v4", region="eastus", runner_replicas=1,
                       gpu_nodes=1)
    args, env = endpoint_args(served.info)
    code, doc, err = run(Home(tmp_path), "plan", *args, "--answers", str(answers), "--json", env=env)
    assert code == 3, err[-3000:]
    assert "NotAvailableForSubscription" in doc["error"]
    assert "eastus2" in doc["hint"]  # where it is offered


def test_unreachable_prices_come_from_the_dated_snapshot(tmp_path: Path, served: RunningSandbox) -> None:
    args, env = endpoint_args(served.info)
    args[args.index("--prices-endpoint") + 1] = "https://127.0.0.1:9/api/retail/prices"
    code, doc, err = run(Home(tmp_path), "plan", *args, "--answers", str(ANSWERS), "--json", env=env)
    assert code == 0, err[-3000:]
    est = doc["estimate"]
    assert est["from_snapshot"] is True and est["sources"] == ["snapshot 2026-11-01"]
    assert est["total"]["monthly"] > 0
    proc = start(Home(tmp_path), "plan", *args, "--answers", str(ANSWERS), env=env)
    text, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    assert "bundled snapshot dated 2026-11-01 (the Retail Prices API could not be reached)" in text
    assert "TOTAL" in text and "az aks create" in text


def test_a_taken_registry_name_gets_a_free_alternative(tmp_path: Path, served: RunningSandbox) -> None:
    args, env = endpoint_args(served.info)
    answers = _answers(tmp_path, uniq_id="deadbeef")  # leafaideadbeef belongs to "another customer"
    code, doc, err = run(Home(tmp_path), "plan", *args, "--answers", str(answers), "--json", env=env)
    assert code == 3, err[-3000:]
    assert "leafaideadbeef is taken by another Azure customer" in doc["error"]
    suggested = doc["hint"].split('uniq_id = "')[1][:8]
    assert suggested != "deadbeef" and len(suggested) == 8
    clear_request_log(served)  # apply finds it before the first write, and suggests the same id
    code, doc, err = run(Home(tmp_path), "apply", *args, "--answers", str(answers), "--yes", "--json", env=env)
    assert code == 3 and f'uniq_id = "{suggested}"' in doc["hint"], err[-3000:]
    assert sandbox_writes(served) == []
    code, doc, err = run(Home(tmp_path), "plan", *args, "--answers", str(_answers(tmp_path, uniq_id=suggested)),
                         "--json", env=env)
    assert code == 0, err[-3000:]


def test_an_install_id_used_in_another_subscription_is_refused_naming_it(tmp_path: Path,
                                                                        served: RunningSandbox) -> None:
    """Another subscription of the tenant holds install 0badc0de (a tagged resource group): plan and apply in this
    one refuse it before anything is made, naming that subscription (they would share state and keyring entries)."""
    from azure.mgmt.resource.resources import ResourceManagementClient

    from tests.conftest import admin_credential

    info = served.info
    other = next(s for s in info["subscriptions"] if s != _first_sub(tmp_path, served))
    rm = ResourceManagementClient(admin_credential(info), other, base_url=info["arm"],
                                  connection_verify=info["ca_bundle"])
    rm.resource_groups.create_or_update("studioml-0badc0de", {"location": "eastus",
                                                              "tags": {"studioml-uniq-id": "0badc0de"}})
    args, env = endpoint_args(info)
    answers = _answers(tmp_path, uniq_id="0badc0de")
    clear_request_log(served)
    for command in ("plan", "apply"):
        code, doc, err = run(Home(tmp_path), command, *args, "--answers", str(answers),
                             *(["--yes"] if command == "apply" else []), "--json", env=env)
        assert code == 2, err[-3000:]
        assert doc["error"].startswith("install id 0badc0de is in use in subscription ") and other in doc["error"]
        assert f'subscription = "{other}"' in doc["hint"]
    assert sandbox_writes(served) == []


def _first_sub(tmp_path: Path, served: RunningSandbox) -> str:
    """The subscription the acceptance answers pick (by its display name)."""
    args, env = endpoint_args(served.info)
    code, doc, err = run(Home(tmp_path / "probe"), "plan", *args, "--answers", str(ANSWERS), "--json", env=env)
    assert code == 0, err[-3000:]
    return str(doc["subscription"]["id"])


def test_regions_offering_a_size_with_quota_headroom(tmp_path: Path, served: RunningSandbox) -> None:
    args, env = endpoint_args(served.info)
    code, doc, err = run(Home(tmp_path), "regions", *args, "--answers", str(ANSWERS), "--json", env=env)
    assert code == 0, err[-3000:]
    assert doc["vcpus_needed"] == 12  # 2 nodes + 1 surge, 4 vCPUs each
    by_region = {r["region"]: r for r in doc["regions"]}
    assert by_region["eastus"]["fits"] is True and by_region["eastus"]["headroom_vcpus"] == 24
    assert by_region["westus2"]["headroom_vcpus"] == 16
    assert by_region["uksouth"]["fits"] is False  # offered, but GPU quota is 0 there
    assert doc["regions"][0]["fits"] is True
    a100 = _answers(tmp_path, gpu_sku="Standard_NC24ads_A100_v4", gpu_nodes=1, runner_replicas=1)
    code, doc, err = run(Home(tmp_path), "regions", *args, "--answers", str(a100), "--json", env=env)
    assert code == 0 and "eastus" not in {r["region"] for r in doc["regions"]}  # NotAvailableForSubscription there
