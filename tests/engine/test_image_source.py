"""Where the runner image comes from: Docker Hub's anonymous limit (which ACR's shared import addresses have as
good as spent), the source registry's user with its token from the keyring, and quay.io, where the runner is
published too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import requests

from tests.conftest import ROOT, RunningSandbox
from tests.engine.helpers import Home, answers_with, endpoint_args, requests_logged, run, sandbox_writes

TOKEN = "dckr_pat_" + "Zq3Xv8Lk2Pw9Rt5Ym7Nc4Bd6"


def _limit(served: RunningSandbox, per_hour: int) -> None:
    requests.post(f"{served.info['arm']}/sandbox/upstream", json={"anonymous_per_hour": per_hour},
                  verify=served.info["ca_bundle"], timeout=10).raise_for_status()


def _keep_token(home: Home, env: dict[str, str], username: str) -> None:
    """What an admin without a terminal does: ``keyring set`` reads the token from stdin, never argv."""
    subprocess.run([sys.executable, "-m", "keyring", "set", "studioml-azure", username], input=TOKEN + "\n",
                   text=True, check=True, cwd=ROOT, env=home.env(env), capture_output=True)


def test_docker_hub_limit_credentials_and_quay(served: RunningSandbox, home: Home, tmp_path: Path) -> None:
    args, env = endpoint_args(served.info)
    _limit(served, 0)  # the shared addresses ACR imports from have spent Docker Hub's anonymous pulls
    anonymous = answers_with(tmp_path, runner_replicas=1, gpu_nodes=1)
    code, doc, err = run(home, "plan", *args, "--answers", str(anonymous), "--json", env=env)
    assert code == 0, err[-2000:]
    assert any("Docker Hub" in w and "source_registry_user" in w for w in doc["warnings"]), doc.get("warnings")
    uid, tenant = doc["uniq_id"]["value"], served.info["tenant_id"]

    code, doc, err = run(home, "apply", *args, "--answers", str(anonymous), "--yes", "--json", env=env)
    assert code == 4, err[-3000:]  # transient: the limit passes; never "unexpected"
    image = doc["steps"]["image"]
    assert "toomanyrequests" in image["error"], image
    assert "source_registry_user" in image["hint"] and "quay.io/leafai/studio-go-runner:0.9.21" in image["hint"]
    assert "retrying" not in err  # an hourly limit is not retried within the run

    # the user named, the token not yet in the keyring: refused before anything is sent
    signed = answers_with(tmp_path, runner_replicas=1, gpu_nodes=1, source_registry_user="studioml")
    before = len(sandbox_writes(served))
    code, doc, err = run(home, "apply", *args, "--answers", str(signed), "--yes", "--json", env=env)
    assert code == 2, err[-2000:]
    assert f"keyring:studioml-azure/{tenant}/{uid}/source-registry-token" in doc["error"] + doc["hint"], doc
    assert len(sandbox_writes(served)) == before

    _keep_token(home, env, f"{tenant}/{uid}/source-registry-token")
    code, doc, err = run(home, "plan", *args, "--answers", str(signed), "--json", env=env)
    assert not [w for w in doc["warnings"] if "Docker Hub" in w], doc["warnings"]
    code, doc, err = run(home, "apply", *args, "--answers", str(signed), "--yes", "--json", env=env)
    assert code == 0, err[-3000:]
    assert TOKEN not in err and TOKEN not in str(doc)
    imports = [r for r in requests_logged(served) if str(r[1]).lower().endswith("/importimage")]
    assert imports and all(TOKEN not in str(r) for r in imports)  # the request log keeps no body

    # quay.io, where the runner is published too, has no anonymous hourly limit
    quay = answers_with(tmp_path, runner_replicas=1, gpu_nodes=1,
                        runner_image="quay.io/leafai/studio-go-runner:0.9.22")
    code, doc, err = run(home, "plan", *args, "--answers", str(quay), "--json", env=env)
    assert not [w for w in doc["warnings"] if "Docker Hub" in w]
    code, doc, err = run(home, "apply", *args, "--answers", str(quay), "--yes", "--json", env=env)
    assert code == 0, err[-3000:]


def test_a_wrong_token_is_refused_with_the_way_to_replace_it(served: RunningSandbox, home: Home,
                                                              tmp_path: Path) -> None:
    args, env = endpoint_args(served.info)
    signed = answers_with(tmp_path, runner_replicas=1, gpu_nodes=1, source_registry_user="studioml")
    code, doc, err = run(home, "plan", *args, "--answers", str(signed), "--json", env=env)
    uid, tenant = doc["uniq_id"]["value"], served.info["tenant_id"]
    subprocess.run([sys.executable, "-m", "keyring", "set", "studioml-azure", f"{tenant}/{uid}/source-registry-token"],
                   input="not-a-token\n", text=True, check=True, cwd=ROOT, env=home.env(env), capture_output=True)
    code, doc, err = run(home, "apply", *args, "--answers", str(signed), "--yes", "--json", env=env)
    assert code == 3, err[-3000:]
    image = doc["steps"]["image"]
    assert "incorrect username or password" in image["error"] and "source-registry-token" in image["hint"], image
