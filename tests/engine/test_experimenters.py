"""Experimenters reach the install: with ``client_cidrs`` each service gets a public IP with a DNS label (priced in
the plan), the NSG admits those networks to the TLS ports only (decided by the sandbox's NSG evaluation of a client
address), ``client-config`` writes a 0600 StudioML configuration whose secrets appear nowhere else, a re-run changes
nothing; rotating the experimenters' credentials reaches both VMs; emptying the list takes the public IPs away."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import requests
import yaml
from azure.mgmt.network import NetworkManagementClient

from tests.conftest import RunningSandbox, admin_credential
from tests.engine.helpers import (
    Home,
    answers_with,
    clear_request_log,
    endpoint_args,
    files_containing,
    keyring_values,
    run,
    run_text,
    sandbox_writes,
    vm_shell,
)

CLIENTS = "203.0.113.0/24"


def _reach(served: RunningSandbox, client: str, host: str, port: int) -> dict[str, Any]:
    answer = requests.post(f"{served.info['arm']}/sandbox/reach", json={"from": client, "host": host, "port": port},
                           verify=served.info["ca_bundle"], timeout=10)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_experimenters_reach_the_services_over_tls_from_their_networks_only(
        tmp_path: Path, served: RunningSandbox, home: Home) -> None:
    args, env = endpoint_args(served.info)
    answers = answers_with(tmp_path, client_cidrs=[CLIENTS])
    code, plan, err = run(home, "plan", *args, "--answers", str(answers), "--json", env=env)
    assert code == 0, err[-3000:]
    step = next(s for s in plan["steps"] if s["key"] == "endpoints")
    priced = {r["name"]: r["monthly"] for r in step["resources"]}
    assert set(priced) == {"studioml-rabbitmq-ip-" + plan["uniq_id"]["value"],
                           "studioml-files-ip-" + plan["uniq_id"]["value"]} and all(m > 2 for m in priced.values())
    assert {"RabbitMQ public IP", "file server public IP"} <= {ln["item"] for ln in plan["estimate"]["lines"]}

    code, doc, err = run(home, "apply", *args, "--answers", str(answers), "--yes", "--json", env=env)
    assert code == 0, err[-4000:]
    sub, uid = doc["subscription"]["id"], doc["uniq_id"]["value"]
    rg = f"studioml-{uid}"
    net = NetworkManagementClient(admin_credential(served.info), sub, base_url=served.info["arm"],
                                  connection_verify=served.info["ca_bundle"])
    fqdn = {r: net.public_ip_addresses.get(rg, f"studioml-{r}-ip-{uid}").dns_settings.fqdn
            for r in ("rabbitmq", "files")}
    assert fqdn["rabbitmq"] == f"studioml-rabbitmq-{uid}.eastus.cloudapp.azure.com"
    rules = net.network_security_groups.get(rg, f"studioml-services-nsg-{uid}").security_rules
    admitting = {(r.destination_port_range, r.destination_address_prefix) for r in rules
                 if r.access == "Allow" and CLIENTS in (r.source_address_prefixes or [r.source_address_prefix])}
    assert admitting == {("5671", "10.20.16.4/32"), ("443", "10.20.16.5/32")}, admitting

    # the NSGs decide for a client address: the TLS ports from the admitted network, nothing else from anywhere
    for host, port in ((fqdn["rabbitmq"], 5671), (fqdn["files"], 443)):
        seen = _reach(served, "203.0.113.77", host, port)
        assert seen["reachable"], seen
        assert not _reach(served, "198.51.100.7", host, port)["reachable"]
    for host, port in ((fqdn["rabbitmq"], 5672), (fqdn["files"], 8333), (fqdn["rabbitmq"], 22), (fqdn["files"], 22)):
        seen = _reach(served, "203.0.113.77", host, port)
        assert seen["state"] == "timeout" and "DenyAllInBound" in seen["why"], seen

    # the VMs serve TLS with a certificate naming the DNS name and the public and private addresses
    ok, out, errout = vm_shell(served.info, sub, rg, f"studioml-rabbitmq-{uid}",
                               "python3 /usr/local/lib/studioml/check.py tls")
    assert ok and "tls: ok" in out and "certificate valid until" in out, out + errout

    code, status, err = run(home, "status", *args, "--answers", str(answers), "--json", env=env)
    assert code == 0, err
    exp = status["home"]["experimenters"]
    assert exp["rabbitmq"]["endpoint"] == f"{fqdn['rabbitmq']}:5671" and exp["rabbitmq"]["reachable_from"] == [CLIENTS]
    assert exp["files"]["endpoint"] == f"{fqdn['files']}:443" and exp["files"]["certificate_valid_until"]
    code, text, err = run_text(home, "status", *args, "--answers", str(answers), env=env)
    assert f"reachable from {CLIENTS}; certificate valid until" in text, text

    config = tmp_path / "experimenter" / "config.yaml"
    config.parent.mkdir()
    code, summary, err = run(home, "client-config", *args, "--answers", str(answers), "--output", str(config),
                             "--json", env=env)
    assert code == 0, err
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    written = yaml.safe_load(config.read_text())
    secrets = keyring_values(status)
    url = written["cloud"]["queue"]["rmq"]
    assert url == (f"amqps://experimenter:{secrets['rabbitmq-experimenter-password']}@{fqdn['rabbitmq']}:5671/%2f")
    for part in ("database", "storage"):
        assert written[part]["endpoint"] == f"https://{fqdn['files']}"
        assert written[part]["credentials"]["aws"]["access_key"] == secrets["s3-experimenter-access-key"]
    assert {written["database"]["bucket"], written["storage"]["bucket"]} == {"studioml-meta", "studioml-artifacts"}
    assert written["studioml_azure"]["ca_certificate"] == secrets["tls-ca-certificate"]
    assert written["studioml_azure"]["runner_public_key"] == secrets["runner-public-key"]
    assert Path(f"{config}.ca.pem").read_text() == secrets["tls-ca-certificate"]
    # no secret on stdout, in --json, in the state folder, logs or journal
    shown = {k: v for k, v in secrets.items() if "certificate" not in k and "public" not in k}
    code, masked, err = run_text(home, "client-config", *args, "--answers", str(answers), env=env)
    assert code == 0 and "amqps://experimenter:********@" in masked, masked
    for text in (masked, err, str(summary)):
        assert not [k for k, v in shown.items() if v in text], text
    assert files_containing([home.root], shown) == []

    clear_request_log(served)  # a re-run changes nothing
    code, again, err = run(home, "apply", *args, "--answers", str(answers), "--yes", "--json", env=env)
    assert code == 0, err[-3000:]
    assert {k for k, s in again["steps"].items() if s["action"] != "none"} == set(), again["steps"]
    assert [w for w in sandbox_writes(served) if "/k8s/" not in w[1]] == []

    # rotation: new experimenter credentials reach both VMs; the old ones stop working there
    old = secrets["rabbitmq-experimenter-password"]
    code, _rot, err = run_text(home, "rotate", *args, "--answers", str(answers), "--experimenters", env=env)
    assert code == 0, err
    new = keyring_values(status)
    assert new["rabbitmq-experimenter-password"] != old
    assert new["s3-experimenter-access-key"] != secrets["s3-experimenter-access-key"]
    ok, out, _e = vm_shell(served.info, sub, rg, f"studioml-files-{uid}", "cat /etc/seaweedfs/s3.json")
    assert ok and new["s3-experimenter-access-key"] in out and secrets["s3-experimenter-access-key"] not in out
    code, again, err = run(home, "plan", *args, "--answers", str(answers), "--json", env=env)
    assert next(s for s in again["steps"] if s["key"] == "endpoints")["action"] == "none", again

    # nobody outside any more: the public IPs and the client rules go
    vnet_only = answers_with(tmp_path, client_cidrs=[])
    code, plan, err = run(home, "plan", *args, "--answers", str(vnet_only), "--json", env=env)
    step = next(s for s in plan["steps"] if s["key"] == "endpoints")
    assert "remove public IP" in step["detail"], step
    code, doc, err = run(home, "apply", *args, "--answers", str(vnet_only), "--yes", "--json", env=env)
    assert code == 0, err[-3000:]
    left = [ip.name for ip in net.public_ip_addresses.list(rg) if "nat" not in str(ip.name)]
    assert left == [], left
    rules = net.network_security_groups.get(rg, f"studioml-services-nsg-{uid}").security_rules
    assert not [r for r in rules if "clients" in str(r.name)]
    code, plan, err = run(home, "plan", *args, "--answers", str(vnet_only), "--json", env=env)
    step = next(s for s in plan["steps"] if s["key"] == "endpoints")
    assert step["action"] == "none" and "only inside the VNet" in step["detail"] and "VPN" in step["detail"], step
