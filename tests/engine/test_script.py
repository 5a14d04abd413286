"""The plan's printed script, run by the official ``az`` CLI (2.91, its own environment: test.sh installs it) and
the machine's ``kubectl`` against a fresh sandbox registered with az as a custom cloud: it makes the whole install,
experimenters' endpoints included, with no secret on any command line, and the wizard then finds nothing to change
and the runner ready."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.conftest import ROOT, RunningSandbox
from tests.engine.helpers import Home, answers_with, endpoint_args, keyring_values, run

AZ = Path(os.environ.get("STUDIOML_AZ") or ROOT / ".azcli" / "bin" / "az")


def _az_env(served: RunningSandbox, home: Home, config: Path) -> dict[str, str]:
    """az's own configuration folder, the sandbox CA for its HTTP stack, and the wizard's and keyring's PATH."""
    env = home.env({"AZURE_CONFIG_DIR": str(config), "REQUESTS_CA_BUNDLE": served.info["ca_bundle"],
                    "AZURE_CORE_COLLECT_TELEMETRY": "false", "AZURE_CORE_ONLY_SHOW_ERRORS": "true",
                    "PATH": f"{ROOT / '.venv' / 'bin'}:{AZ.parent}:{os.environ['PATH']}"})
    return env


def _az(env: dict[str, str], *args: str) -> str:
    out = subprocess.run([str(AZ), *args], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, f"az {' '.join(args[:3])}: {out.stderr[-2000:]}"
    return out.stdout


def test_the_printed_script_run_by_az_and_kubectl_makes_the_install(served: RunningSandbox, home: Home,
                                                                     tmp_path: Path) -> None:
    assert AZ.exists(), f"{AZ} is missing: test.sh installs azure-cli into .azcli"
    info = served.info
    env = _az_env(served, home, tmp_path / "azure")
    # az discovers the sandbox from ARM's metadata endpoint, as for any custom cloud (instance discovery off, as for
    # Azure Stack), and signs in as the sandbox's administrator
    _az(env, "cloud", "register", "-n", "StudioSandbox", "--endpoint-resource-manager", info["arm"] + "/")
    _az(env, "cloud", "set", "-n", "StudioSandbox")
    _az(env, "config", "set", "core.instance_discovery=false")
    _az(env, "login", "--service-principal", "-u", info["client_id"], "--tenant", info["tenant_id"],
        f"--password={info['client_secret']}", "-o", "none")

    args, login = endpoint_args(info)
    answers = answers_with(tmp_path, client_cidrs=["203.0.113.0/24"])  # experimenters' public endpoints too
    args += ["--registry-endpoint", info["registry"] + "/{host}"]
    code, plan, err = run(home, "plan", *args, "--answers", str(answers), "--json", env=login)
    assert code == 0, err[-3000:]
    lines = plan["script"]
    text = "\n".join(lines)
    for step in plan["steps"]:  # every step that acts has its lines, under its own heading
        if step["action"] != "none":
            at = lines.index(next(ln for ln in lines if ln.startswith(f"# {step['title']}: ")))
            assert lines[at + 1] and not lines[at + 1].startswith("#"), step["key"]
    (tmp_path / "script.sh").write_text(text + "\n")

    done = subprocess.run(["bash", str(tmp_path / "script.sh")], env={**env, **login}, capture_output=True,
                          text=True, timeout=900, check=False)
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-4000:])

    code, again, err = run(home, "plan", *args, "--answers", str(answers), "--json", env=login)
    assert code == 0, err[-3000:]
    assert [(s["key"], s["action"], s["detail"]) for s in again["steps"] if s["action"] != "none"] == []
    code, status, err = run(home, "status", *args, "--answers", str(answers), "--json", env=login)
    assert code == 0 and status["installed"] is True, err[-3000:]
    assert [(r["region"], r["runner"]["ready"]) for r in status["regions"]] == [("eastus", 2)]
    secrets = keyring_values(status)
    assert {"sp-password", "rabbitmq-runner-password", "s3-runner-secret-key", "runner-passphrase"} <= set(secrets)
    for name, value in secrets.items():  # never on a command line, nor in anything the run printed
        assert value not in text and value not in done.stdout and value not in done.stderr, name
    kubeconfig = Path(status["regions"][0]["kubeconfig"])
    assert oct(kubeconfig.stat().st_mode & 0o777) == "0o600"
    assert json.loads(subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), "config", "view", "-o", "json"],
                                     capture_output=True, text=True, check=True).stdout)["current-context"] \
        == f"leafai-cluster-{plan['uniq_id']['value']}-eastus"
