"""destroy takes a region, then the whole install, away: nothing tagged with the install is left in any subscription
of the tenant, no Graph application, no keyring entry, no kubeconfig, no remembered id; an interrupted destroy
converges when run again; the same id installs again afterwards; a destroy the caller's roles cannot finish is refused
before the first delete."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import requests
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.subscription import SubscriptionClient

from tests.conftest import RunningSandbox, admin_credential
from tests.engine.helpers import (
    ANSWERS,
    Home,
    answers_with,
    clear_request_log,
    demote_to_contributor,
    endpoint_args,
    finish,
    graph_get,
    interrupt_at,
    run,
    run_text,
    sandbox_writes,
    start,
    stored,
)
from wizard.secrets import LEGACY, PURPOSES


def _linux_price(served: RunningSandbox, size: str) -> float:
    """eastus pay-as-you-go Linux hourly price of ``size`` from the sandbox's Retail Prices API."""
    resp = requests.get(served.info["prices"], verify=served.info["ca_bundle"], timeout=10, params={
        "$filter": f"serviceName eq 'Virtual Machines' and armRegionName eq 'eastus' and armSkuName eq '{size}' "
                   "and priceType eq 'Consumption'"})
    items = [i for i in resp.json()["Items"] if "Windows" not in i["productName"]
             and not i["meterName"].endswith(("Spot", "Low Priority"))]
    return float(min(i["retailPrice"] for i in items))


def _tagged_everywhere(info: dict[str, Any], uid: str) -> list[str]:
    """Every resource and group tagged with the install, in every subscription the admin sees."""
    cred = admin_credential(info)
    kw: dict[str, Any] = {"base_url": info["arm"], "connection_verify": info["ca_bundle"]}
    out = []
    for s in SubscriptionClient(cred, **kw).subscriptions.list():
        rm = ResourceManagementClient(cred, str(s.subscription_id), **kw)
        flt = f"tagName eq 'studioml-uniq-id' and tagValue eq '{uid}'"
        out += [str(g.id) for g in rm.resource_groups.list(filter=flt)]
        out += [str(r.id) for r in rm.resources.list(filter=flt)]
    return out


def test_destroy_a_region_then_everything_and_install_again(tmp_path: Path, served: RunningSandbox,
                                                             home: Home) -> None:
    args, env = endpoint_args(served.info)
    code, first, err = run(home, "apply", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
    assert code == 0, err[-3000:]
    west = answers_with(tmp_path, region="westeurope", gpu_nodes=1, runner_replicas=1)
    code, _doc, err = run(home, "apply", *args, "--answers", str(west), "--yes", "--json", env=env)
    assert code == 0, err[-3000:]
    uid, sub, tenant = first["uniq_id"]["value"], first["subscription"]["id"], first["tenant"]
    state = home.root / "state" / "studioml-azure" / tenant
    west_kube = next(state.rglob("westeurope.kubeconfig"))

    # refused, nothing deleted: the home region while another uses it; a region the install lacks; no terminal
    code, doc, err = run(home, "destroy", *args, "--answers", str(ANSWERS), "--region", "eastus", "--yes", "--json",
                         env=env)
    assert code == 2 and "westeurope still use it" in doc["error"], doc
    code, doc, err = run(home, "destroy", *args, "--answers", str(ANSWERS), "--region", "mars", "--yes", "--json",
                         env=env)
    assert code == 2 and doc["error"].endswith("has no region mars.") and "eastus, westeurope" in doc["hint"], doc
    code, doc, err = run(home, "destroy", *args, "--answers", str(ANSWERS), "--json", env=env)
    assert code == 2 and "--yes" in doc["hint"], doc

    # a region: its peering half, its subnet in the NSG rules, its group, its kubeconfig; the rest stays
    code, doc, err = run(home, "destroy", *args, "--answers", str(ANSWERS), "--region", "westeurope", "--yes",
                         "--json", env=env)
    assert code == 0, err[-3000:]
    assert doc["scope"] == "region" and doc["regions"] == ["westeurope"] and doc["done"], doc
    keys = [r["key"] for r in doc["removals"]]
    assert keys == ["peering-westeurope", "nsg-westeurope", "group-westeurope", "kubeconfig-westeurope"], keys
    assert doc["monthly_saving"] > 0 and "saves about" in err
    assert not west_kube.exists()
    code, status, err = run(home, "status", *args, "--answers", str(ANSWERS), "--json", env=env)
    assert code == 0 and [r["region"] for r in status["regions"]] == ["eastus"], status["regions"]
    # cost in status: the pools running now at the Retail Prices API's pay-as-you-go Linux prices (read here apart)
    cost = status["regions"][0]["cost"]
    gpu, system = _linux_price(served, "Standard_NC4as_T4_v3"), _linux_price(served, "Standard_D2s_v3")
    assert cost["hourly_now"] == round(2 * gpu + system, 4) and cost["nodes"] == 3, cost
    assert cost["currency"] == "USD" and 0 < cost["month_so_far"] <= cost["hourly_now"] * 24 * 31, cost
    code, text, err = run_text(home, "status", *args, "--answers", str(ANSWERS), env=env)
    assert code == 0 and f"cost now {round(2 * gpu + system, 2):,.2f} USD an hour (3 node(s) running)" in text, text
    net = NetworkManagementClient(admin_credential(served.info), sub, base_url=served.info["arm"],
                                  connection_verify=served.info["ca_bundle"])
    assert [p.name for p in net.virtual_network_peerings.list(f"studioml-{uid}", f"studioml-vnet-{uid}")] == []
    sources = {p for r in net.network_security_groups.get(f"studioml-{uid}", f"studioml-services-nsg-{uid}")
               .security_rules for p in (r.source_address_prefixes or [])}
    assert not any(p.startswith("10.") and not p.startswith("10.20.") for p in sources), sources

    # everything, interrupted while the home cluster's group goes, then run again
    proc = start(home, "destroy", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
    interrupt_at(proc, home, f"destroy:group-leafai-{uid}", signal.SIGINT)
    code, doc, err = finish(proc)
    # the cluster group's delete takes 240 s / speed 200: the signal lands inside it, the run stops at a safe point
    assert code == 4 and "Traceback" not in err and "run the same command again" in err, err[-3000:]
    code, doc, err = run(home, "destroy", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
    assert code == 0 and doc["done"] and doc["scope"] == "install", err[-3000:]
    assert _tagged_everywhere(served.info, uid) == []
    cred = admin_credential(served.info)
    apps = graph_get(served, cred, "/applications", **{"$filter": f"displayName eq 'registry-acr-principal-{uid}'"})
    assert apps["value"] == []
    assert [k for k in [*PURPOSES, *LEGACY] if stored("studioml-azure", f"{tenant}/{uid}/{k}") is not None] == []
    assert not (state / uid).exists() and list(state.rglob("*.kubeconfig")) == []
    ids = state / "uniq-ids.json"
    assert not ids.exists() or sub not in json.loads(ids.read_text())

    # the same id installs again
    code, again, err = run(home, "apply", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
    assert code == 0 and again["uniq_id"]["value"] == uid, err[-3000:]

    # now only Contributor (which may delete groups but not role assignments): refused before the first delete
    demote_to_contributor(served.info)
    clear_request_log(served)
    code, doc, err = run(home, "destroy", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
    assert code == 3 and "Traceback" not in err, err[-3000:]
    assert "may not do all this destroy does" in doc["error"], doc
    assert "(Microsoft.Authorization/roleAssignments/delete)" in doc["error"], doc
    assert "resourceGroups/delete" not in doc["error"], doc
    assert sandbox_writes(served) == []

