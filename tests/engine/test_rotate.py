"""``rotate``: a new service principal password in the keyring and every region's pull secret, the old one removed
only once no cluster uses it; a region out of reach keeps the old (valid) one until a second run finishes."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import requests

from tests.conftest import RunningSandbox, admin_credential, require_kubectl
from tests.engine.helpers import ANSWERS, Home, endpoint_args, kubectl_deployment, run, stored


def _credentials(served: RunningSandbox, uid: str) -> list[dict[str, Any]]:
    token = admin_credential(served.info).get_token("https://graph.microsoft.com/.default").token
    resp = requests.get(f"{served.info['graph']}/v1.0/applications", timeout=10, verify=served.info["ca_bundle"],
                        params={"$filter": f"displayName eq 'registry-acr-principal-{uid}'"},
                        headers={"Authorization": f"Bearer {token}"})
    resp.raise_for_status()
    return list(resp.json()["value"][0]["passwordCredentials"])


def _pulls(served: RunningSandbox, host: str, user: str, password: str) -> int:
    """What the registry's data plane answers these credentials."""
    return requests.get(f"{served.info['registry']}/{host}/v2/", auth=(user, password), timeout=10,
                        verify=served.info["ca_bundle"]).status_code


def _pull_auth(kubeconfig: str) -> dict[str, str]:
    """The username and password the cluster's pull secret holds (kubectl with the wizard's kubeconfig)."""
    out = subprocess.run([require_kubectl(), "--kubeconfig", kubeconfig, "get", "secret", "-n", "gpu-resources",
                          "studioml-go-docker-key", "-o", "json"], capture_output=True, text=True, check=True)
    data = json.loads(out.stdout)["data"]
    config_json = json.loads(base64.b64decode(data[".dockerconfigjson"]))
    return dict(next(iter(config_json["auths"].values())))


def _delete_runner_pods(kubeconfig: str) -> None:
    subprocess.run([require_kubectl(), "--kubeconfig", kubeconfig, "delete", "pod", "-n", "gpu-resources", "-l",
                    "app=studioml-go-runner", "--wait=false"], capture_output=True, text=True, check=True)


def test_rotation_replaces_the_password_everywhere_then_removes_the_old(served: RunningSandbox, home: Home,
                                                                          tmp_path: Path) -> None:
    args, env = endpoint_args(served.info)
    code, doc, err = run(home, "apply", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
    assert code == 0, err[-3000:]
    uid, tenant = doc["uniq_id"]["value"], doc["tenant"]
    region = doc["regions"][0]
    kubeconfig, host = region["kubeconfig"], region["registry_login_server"]
    old = stored("studioml-azure", f"{tenant}/{uid}/sp-password")
    user = _pull_auth(kubeconfig)["username"]
    assert old and _pull_auth(kubeconfig)["password"] == old and len(_credentials(served, uid)) == 1

    # The cluster out of reach (its kubeconfig moved away): the new password is made and kept, the old one stays.
    aside = tmp_path / "aside.kubeconfig"
    shutil.move(kubeconfig, aside)
    code, first, err = run(home, "rotate", *args, "--json", env=env)
    assert code == 4 and "not reachable" in first["regions"]["eastus"] and first["removed"] == [], err[-3000:]
    new = stored("studioml-azure", f"{tenant}/{uid}/sp-password")
    assert new and new != old
    assert {c["keyId"] for c in _credentials(served, uid)} >= {first["key_id"]} and len(_credentials(served, uid)) == 2
    assert _pulls(served, host, user, old) == 200 and _pulls(served, host, user, new) == 200
    # Meanwhile an apply's principal step leaves the old password alone (a region may still pull with it).
    code, plan, err = run(home, "plan", *args, "--answers", str(ANSWERS), "--json", env=env)
    assert code == 0 and next(s for s in plan["steps"] if s["key"] == "sp")["action"] == "none", err[-3000:]
    assert "password rotation is unfinished" in err

    # Back in reach: the second run uses the same new password (no third one), updates the cluster, removes the old.
    shutil.move(aside, kubeconfig)
    code, second, err = run(home, "rotate", *args, "--json", env=env)
    assert code == 0 and second["key_id"] == first["key_id"], err[-3000:]
    assert "replaced" in second["regions"]["eastus"] and len(second["removed"]) == 1
    assert [c["keyId"] for c in _credentials(served, uid)] == [first["key_id"]]
    assert stored("studioml-azure", f"{tenant}/{uid}/sp-password") == new
    assert _pull_auth(kubeconfig)["password"] == new
    assert _pulls(served, host, user, old) == 401 and _pulls(served, host, user, new) == 200

    # New runner pods pull with the new password (the kubelet checks it against the directory).
    _delete_runner_pods(kubeconfig)
    deadline = time.monotonic() + 60
    while kubectl_deployment(kubeconfig)["status"].get("readyReplicas") != 2:
        assert time.monotonic() < deadline, kubectl_deployment(kubeconfig)["status"]
        time.sleep(0.5)

    code, again, err = run(home, "apply", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
    assert code == 0 and {s["action"] for s in again["steps"].values()} == {"none"}, again["steps"]
    code, status, err = run(home, "status", *args, "--json", env=env)
    assert status["home"]["sp_password_expires"] == second["valid_until"]
