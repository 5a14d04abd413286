"""Bad input costs nothing and says what is wrong: an unknown region is refused before the first write, naming the
region and listing the subscription's own; an answers file that is not UTF-8 names the byte; a CA bundle that holds
no PEM certificate names the file (not the sign-in); a host without the ip command is told so when an id must be
derived (each exit 2); a Warned subscription is warned about; an identity whose role assignments grant less than an
apply writes is refused before the first write (exit 3)."""

from __future__ import annotations

from pathlib import Path

import requests

from tests.conftest import RunningSandbox
from tests.engine.helpers import (
    ANSWERS,
    Home,
    answers_with,
    clear_request_log,
    demote_to_contributor,
    endpoint_args,
    finish,
    requests_logged,
    run,
    run_text,
    sandbox_writes,
    start,
    wait_started,
)


def test_an_unknown_region_is_refused_before_anything_is_made(tmp_path: Path, served: RunningSandbox,
                                                              home: Home) -> None:
    args, env = endpoint_args(served.info)
    answers = answers_with(tmp_path, region="mars")
    clear_request_log(served)
    for command in ("plan", "apply"):
        code, doc, err = run(home, command, *args, "--answers", str(answers), *(["--yes"] if command == "apply"
                                                                                 else []), "--json", env=env)
        assert code == 2, err[-2000:]
        assert doc["error"].startswith('region = "mars" is not a region of subscription'), doc
        assert "eastus" in doc["hint"] and "westeurope" in doc["hint"] and "system pool" not in err, doc
    assert sandbox_writes(served) == []


def test_a_non_utf8_answers_file_names_the_byte(tmp_path: Path, served: RunningSandbox, home: Home) -> None:
    args, env = endpoint_args(served.info)
    path = tmp_path / "answers.toml"
    path.write_bytes(b'region = "eastus"\ngpu_sku = "Standard_NC4as_T4_v3\xe9"\n')
    code, doc, err = run(home, "plan", *args, "--answers", str(path), "--json", env=env)
    assert code == 2 and "Traceback" not in err, err[-2000:]
    assert doc["error"] == f"{path} is not UTF-8 text: byte 49 (line 2) is 0xe9.", doc
    assert "UTF-8" in doc["hint"]


def test_a_ca_bundle_that_is_not_pem_names_the_file(tmp_path: Path, served: RunningSandbox, home: Home) -> None:
    args, env = endpoint_args(served.info)
    bundle = tmp_path / "not-a-ca.pem"
    bundle.write_text("this is not a certificate\n")
    at = args.index("--ca-bundle")
    args[at + 1] = str(bundle)
    code, doc, err = run(home, "plan", *args, "--json", env=env)
    assert code == 2 and "Traceback" not in err, err[-2000:]
    assert doc["error"].startswith(f"--ca-bundle {bundle} holds no PEM CA certificate"), doc
    assert "AZURE_CLIENT_ID" not in doc["error"] + doc["hint"]


def test_a_warned_subscription_is_warned_about(tmp_path: Path, served: RunningSandbox, home: Home) -> None:
    args, env = endpoint_args(served.info)
    answers = answers_with(tmp_path, subscription="Pay-As-You-Go")  # the sandbox's Warned subscription
    code, doc, err = run(home, "plan", *args, "--answers", str(answers), "--json", env=env)
    assert code == 0, err[-2000:]
    assert doc["warnings"][0].startswith("subscription Pay-As-You-Go is Warned: Azure has flagged it"), doc["warnings"]
    code, text, err = run_text(home, "plan", *args, "--answers", str(answers), env=env)
    assert code == 0 and "warning: subscription Pay-As-You-Go is Warned" in err, err[-2000:]


def test_without_the_ip_command_a_new_id_is_refused_naming_it(tmp_path: Path, served: RunningSandbox,
                                                               home: Home) -> None:
    args, env = endpoint_args(served.info)
    empty = tmp_path / "bin"
    empty.mkdir()
    code, doc, err = run(home, "plan", *args, "--answers", str(answers_with(tmp_path)), "--json",
                         env={**env, "PATH": str(empty)})
    assert code == 2 and "Traceback" not in err, err[-2000:]
    assert doc["error"].startswith("the ip command (iproute2) is missing here"), doc
    assert "apt-get install iproute2" in doc["hint"] and "uniq_id" in doc["hint"]


def test_an_unwritable_state_folder_is_named_with_what_to_fix(tmp_path: Path, served: RunningSandbox,
                                                               home: Home) -> None:
    """A file where the state folder should be (what root cannot write through either): exit 2, the path and the
    fix, no traceback, no logging error, nothing made in Azure."""
    args, env = endpoint_args(served.info)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file")
    clear_request_log(served)
    for command in ("plan", "apply"):
        code, doc, err = run(home, command, *args, "--answers", str(answers_with(tmp_path)),
                             *(["--yes"] if command == "apply" else []), "--json",
                             env={**env, "XDG_STATE_HOME": str(blocker / "state")})
        assert code == 2 and "Traceback" not in err and "Logging error" not in err, err[-2000:]
        assert doc["error"].startswith(f"cannot write {blocker}/state/studioml-azure/"), doc
        assert "writable folder" in doc["hint"] and "XDG_STATE_HOME" in doc["hint"], doc
    assert sandbox_writes(served) == []


def test_no_usable_keyring_is_the_hosts_setup_exit_2(tmp_path: Path, served: RunningSandbox, home: Home) -> None:
    args, env = endpoint_args(served.info)
    code, doc, err = run(home, "apply", *args, "--answers", str(answers_with(tmp_path)), "--yes", "--json",
                         env={**env, "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path}/no-bus",
                              "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    assert code == 2 and "Traceback" not in err, err[-2000:]
    assert "keyring" in doc["error"] and "report it" not in doc["error"] + doc["hint"], doc

def test_missing_permissions_are_found_before_the_first_write(tmp_path: Path, served: RunningSandbox,
                                                              home: Home) -> None:
    args, env = endpoint_args(served.info)
    sub = demote_to_contributor(served.info)
    clear_request_log(served)
    for command in ("plan", "apply"):
        code, doc, err = run(home, command, *args, "--answers", str(ANSWERS), *(["--yes"] if command == "apply"
                                                                                else []), "--json", env=env)
        assert code == 3 and "Traceback" not in err, err[-2000:]
        assert doc["error"].startswith("the signed-in identity (object id "), doc
        assert "let the runners' service principal pull the runner image" in doc["error"], doc
        assert "(Microsoft.Authorization/roleAssignments/write)" in doc["error"], doc
        assert f"Its role assignments: Contributor on /subscriptions/{sub}." in doc["error"], doc
        assert "create the AKS cluster" not in doc["error"], doc  # Contributor may do that
        assert "Role Based Access Control Administrator" in doc["hint"], doc
    assert sandbox_writes(served) == []


def test_a_client_secret_revoked_mid_run_is_exit_3_and_stops_every_step(tmp_path: Path, served: RunningSandbox,
                                                                        home: Home) -> None:
    """Tokens last 20 s (below azure-identity's 5-minute refresh margin, so each request asks for one, as when the
    token's hour is over); once the apply builds, the admin application's secrets are revoked: the next token request
    is refused (AADSTS7000215), the run ends with exit 3 saying to sign in again, and no write follows the refusal."""
    args, env = endpoint_args(served.info)
    control = f"{served.info['arm']}/sandbox/identity"
    requests.post(control, json={"token_lifetime": 20}, verify=served.info["ca_bundle"], timeout=10).raise_for_status()
    proc = start(home, "apply", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
    wait_started(proc, home, "network")
    requests.post(control, json={"revoke_secrets": served.info["client_id"]}, verify=served.info["ca_bundle"],
                  timeout=10).raise_for_status()
    code, doc, err = finish(proc)
    assert code == 3 and "Traceback" not in err, err[-3000:]
    failed = {k: s for k, s in doc["steps"].items() if s["status"] == "failed"}
    refused = [s for s in failed.values() if "the sign-in was refused" in s["error"]]
    assert refused and all("AADSTS7000215" in s["error"] and s["hint"].startswith("sign in again") for s in refused)
    assert all(s in refused or s["error"].startswith("stopped") for s in failed.values()), failed
    assert "stopped: the sign-in was refused in " in err and "sign in again, then run the same command" in err
    log = requests_logged(served)
    first_refusal = next(i for i, r in enumerate(log) if r[1].endswith("/oauth2/v2.0/token") and r[2] == 401)
    assert [r for r in log[first_refusal:] if r[0] in ("PUT", "PATCH", "DELETE") and r[2] < 300] == []

