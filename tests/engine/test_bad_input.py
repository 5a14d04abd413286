"""Bad input costs nothing and says what is wrong: an unknown region is refused before the first write, naming the
region and listing the subscription's own; an answers file that is not UTF-8 names the byte; a CA bundle that holds
no PEM certificate names the file (not the sign-in). Each exits 2."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import RunningSandbox
from tests.engine.helpers import Home, answers_with, clear_request_log, endpoint_args, run, sandbox_writes


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
