"""The core's pure parts: answers validation, the stencil renderer, uniq_id, the manifests, the engine's rules."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from wizard.answers import Answers, image_parts, load_answers, validate
from wizard.catalog import gpu_size
from wizard.engine import Engine
from wizard.errors import InputError, RefusedError, TransientError
from wizard.events import Event, StepRetrying, StepSkipped
from wizard.manifests import device_plugin, pull_secret, runner_objects
from wizard.naming import derive_uniq_id, multicast_words, uniq_id_from
from wizard.render import TemplateError, expand_env, render
from wizard.steps.base import CREATE, Context, Observation, Step

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("raw", "key", "allowed"), [
    ({"gpu_nodes": 0}, "gpu_nodes", "1 to 100"),
    ({"gpu_nodes": "2"}, "gpu_nodes", "1 to 100"),
    ({"uniq_id": "ABCDEF12"}, "uniq_id", "8 lowercase hex"),
    ({"pull_auth": "docker"}, "pull_auth", "attach"),
    ({"admin_user": "yes"}, "admin_user", "true or false"),
    ({"region": "East US"}, "region", "eastus"),
    ({"runner_image": "leafai/studio-go-runner"}, "runner_image", "with a tag"),
    ({"runner_replicas": 3, "gpu_nodes": 1}, "runner_replicas", "GPUs the pool has"),
    ({"currency": "XYZ"}, "currency", "EUR"),
    ({"interface": "eth0; rm -rf /"}, "interface", "network interface name"),
])
def test_bad_answers_name_the_key_and_what_is_allowed(raw: dict[str, Any], key: str, allowed: str) -> None:
    with pytest.raises(InputError) as err:
        validate(raw)
    assert err.value.message.startswith(key) and allowed in err.value.hint


def test_retired_and_fractional_sizes_are_refused_with_the_way_out() -> None:
    with pytest.raises(InputError) as err:
        validate({"gpu_sku": "Standard_NC6"})
    assert "retired" in err.value.message and "Standard_NC4as_T4_v3" in err.value.hint
    with pytest.raises(InputError) as err:
        validate({"gpu_sku": "Standard_NV6ads_A10_v5"})
    assert "CUDA" in err.value.message
    with pytest.raises(InputError, match="unknown key 'colour'"):
        validate({"colour": "blue"})


def test_answers_file_round_trip(tmp_path: Path) -> None:
    answers = load_answers(ROOT / "tests" / "data" / "answers.toml")
    assert answers.gpu_nodes == 2 and answers.gpu_sku == "Standard_NC4as_T4_v3"
    assert load_answers(None) == Answers()
    broken = tmp_path / "a.toml"
    broken.write_text("gpu_nodes = \n")
    with pytest.raises(InputError, match="not valid TOML"):
        load_answers(broken)
    shown = Answers(subscription='Team "GPU" \u00e9quipe', gpu_nodes=3, runner_replicas=3, admin_user=True)
    again = tmp_path / "shown.toml"
    again.write_text(shown.as_toml())  # what the plain prompts print to reuse
    assert load_answers(again) == shown
    assert image_parts("rabbitmq:3") == ("docker.io", "library/rabbitmq", "3")
    assert image_parts("quay.io/leafai/studio-go-runner:0.9.21") == ("quay.io", "leafai/studio-go-runner", "0.9.21")


def test_stencil_renderer_matches_go_semantics() -> None:
    env = {"azure_registry_name": "leafai1234abcd", "empty": ""}
    assert expand_env("$azure_registry_name/${azure_registry_name}x $unset.", env) == "leafai1234abcd/leafai1234abcdx ."
    text = ('image: {{ expandenv "$azure_registry_name" }}.azurecr.io/{{.duat.module}}:{{ .duat.version }}\n'
            'n: {{ env "empty" | default "3" }} {{- /* comment */ -}} !\n')
    out = render(text, env=env, data={"duat": {"module": "studio-go-runner", "version": "0.9.21"}})
    assert out == "image: leafai1234abcd.azurecr.io/studio-go-runner:0.9.21\nn: 3!\n"
    with pytest.raises(TemplateError, match="not defined"):
        render("{{ sprig_magic 1 }}", env={})
    with pytest.raises(TemplateError, match="no value"):
        render("{{ .duat.missing }}", env={}, data={"duat": {}})


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("md5sum") is None, reason="needs bash and md5sum")
def test_uniq_id_is_what_the_seeds_shell_line_computes() -> None:
    sub = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
    seed = subprocess.run(["bash", "-c", f"md5sum <(echo {sub} $(ip maddress show eth0 2>/dev/null)) | cut -f1 -d' '"
                           " | cut -c1-8"], capture_output=True, text=True, check=True).stdout.strip()
    assert derive_uniq_id(sub).uniq_id == seed
    assert uniq_id_from(sub, None) == subprocess.run(
        ["bash", "-c", f"md5sum <(echo {sub}) | cut -c1-8"], capture_output=True, text=True, check=True).stdout.strip()
    assert multicast_words("no-such-interface0") is None
    assert "subscription id alone" in derive_uniq_id(sub, "no-such-interface0").note


def test_another_clouds_registry_host_and_portal_reach_what_names_them() -> None:
    """The runner's template names <registry>.azurecr.io; in Azure China the login server is .azurecr.cn."""
    from wizard.azure.cloud import CLOUDS

    login = f"leafai1234abcd.{CLOUDS['AzureChinaCloud'].acr_suffix}"
    assert login == "leafai1234abcd.azurecr.cn" and CLOUDS["AzureUSGovernment"].acr_suffix == "azurecr.us"
    objs = runner_objects(registry="leafai1234abcd", image="docker.io/leafai/studio-go-runner:0.9.21", replicas=1,
                          amqp_host="10.20.16.4", size=gpu_size("Standard_NC4as_T4_v3"), pull_auth="secret",
                          login_server=login)
    dep = next(o for o in objs if o["kind"] == "Deployment")
    image = dep["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"{login}/leafai1234abcd/studio-go-runner:0.9.21"
    config = json.loads(base64.b64decode(pull_secret(login, "app", "pw")["data"][".dockerconfigjson"]))
    assert list(config["auths"]) == [login]
    from wizard.sizing import Shortfall, refuse_shortfall

    err = refuse_shortfall([Shortfall("standardNCASv3_T4Family", "T4", 8, 0, 0)], "sub", "chinanorth3",
                           CLOUDS["AzureChinaCloud"].portal)
    assert "https://portal.azure.cn/#view/Microsoft_Azure_Capacity/QuotaMenuBlade" in (err.hint or "")


def test_runner_manifests_are_modernised() -> None:
    objs = runner_objects(registry="leafai1234abcd", image="docker.io/leafai/studio-go-runner:0.9.21", replicas=2,
                          amqp_host="10.20.16.4", size=gpu_size("Standard_NC4as_T4_v3"), pull_auth="attach")
    kinds = {o["kind"]: o for o in objs}
    dep = kinds["Deployment"]
    assert dep["apiVersion"] == "apps/v1" and dep["spec"]["replicas"] == 2
    pod = dep["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"} in pod["tolerations"]
    container = pod["containers"][0]
    assert container["image"] == "leafai1234abcd.azurecr.io/leafai1234abcd/studio-go-runner:0.9.21"
    assert container["resources"]["limits"] == {"nvidia.com/gpu": "1", "memory": "19Gi", "cpu": "2"}
    assert kinds["ConfigMap"]["data"]["AMQP_URL"] == "amqp://runner@10.20.16.4:5672/"  # no password in a ConfigMap
    assert "imagePullSecrets" not in kinds["ServiceAccount"]  # attach mode pulls with the kubelet identity
    plugin = device_plugin()
    assert plugin["apiVersion"] == "apps/v1"
    assert plugin["spec"]["template"]["spec"]["containers"][0]["image"] == "nvcr.io/nvidia/k8s-device-plugin:v0.18.0"
    text = yaml.safe_dump_all(objs)
    assert "beta.kubernetes.io" not in text and "AMPQ" not in text


class _Step(Step):
    def __init__(self, key: str, needs: tuple[str, ...] = (), fail: Exception | None = None, flaky: int = 0,
                 log: list[str] | None = None) -> None:
        self.key, self.title, self.needs, self.fail, self.flaky = key, key, needs, fail, flaky
        self.log = log if log is not None else []

    def observe(self, ctx: Context) -> Observation:
        self.log.append(f"observe {self.key}")
        if self.flaky:
            self.flaky -= 1
            raise TransientError("busy", retry_after=0.01)
        if self.fail:
            raise self.fail
        return Observation(CREATE)

    def apply(self, ctx: Context, obs: Observation) -> None:
        self.log.append(f"apply {self.key}")


class _Journal:
    def record(self, *a: Any, **k: Any) -> None:
        pass


def _engine(steps: list[Step]) -> tuple[Engine, list[Event]]:
    events: list[Event] = []
    ctx = Context(clients=None, answers=Answers(), names=None, subscription_id="s", tenant_id="t",  # type: ignore
                  secrets=None, state=None, journal=_Journal(), emit=events.append)  # type: ignore[arg-type]
    return Engine(steps, ctx, backoff=lambda n: 0.01), events


def test_engine_order_retries_and_skips() -> None:
    log: list[str] = []
    steps: list[Step] = [_Step("a", log=log), _Step("b", ("a",), flaky=2, log=log),
                         _Step("c", ("a",), fail=RefusedError("quota", "raise it"), log=log),
                         _Step("d", ("b", "c"), log=log), _Step("e", ("b",), log=log)]
    engine, events = _engine(steps)
    result = asyncio.run(engine.run())
    assert log.index("apply a") < log.index("observe b") and log.count("observe b") == 3
    assert [e.attempt for e in events if isinstance(e, StepRetrying)] == [1, 2]
    assert result.outcomes["d"].status == "skipped" and result.outcomes["e"].status == "done"
    assert any(isinstance(e, StepSkipped) and e.step == "d" for e in events)
    assert result.exit_code == 3 and "d" not in result.changed


def test_engine_stop_is_exit_4() -> None:
    steps: list[Step] = [_Step("a"), _Step("b", ("a",))]
    engine, _ = _engine(steps)
    engine.ctx.stop.set()
    result = asyncio.run(engine.run())
    assert result.exit_code == 4 and result.outcomes["a"].status == "failed"
    assert result.outcomes["b"].status == "skipped"


def test_price_book_falls_back_to_the_snapshot_and_keeps_linux_pay_as_you_go(tmp_path: Path) -> None:
    from wizard.pricing import PriceBook, linux_payg

    book = PriceBook("https://127.0.0.1:9/api/retail/prices", cache_dir=tmp_path, timeout=2)
    price = book.vm("Standard_NC4as_T4_v3", "eastus")
    assert price is not None and price.source == "snapshot" and price.as_of == "2026-11-01"
    assert price.unit_price == pytest.approx(0.526) and price.unit == "1 Hour"
    items, _, _ = book.query({"serviceName": "Virtual Machines", "armRegionName": "eastus",
                              "armSkuName": "Standard_NC4as_T4_v3"})
    assert len(items) == 6 and len(linux_payg(items)) == 1  # Windows, Spot, Low Priority, DevTest, Reservation out
    eur = PriceBook("https://127.0.0.1:9/api/retail/prices", currency="EUR", cache_dir=tmp_path, timeout=2)
    eur_price = eur.vm("Standard_NC4as_T4_v3", "eastus")
    assert eur_price is not None and eur_price.unit_price == pytest.approx(0.526 * 0.92)


def test_retries_running_out_end_as_resumable() -> None:
    steps: list[Step] = [_Step("a", flaky=99)]
    engine, events = _engine(steps)
    result = asyncio.run(engine.run())
    assert result.exit_code == 4 and len([e for e in events if isinstance(e, StepRetrying)]) == 5


def test_journal_survives_a_torn_line(tmp_path: Path) -> None:
    from wizard.state import Journal

    journal = Journal(tmp_path / "journal.jsonl")
    journal.record("sp", "started")
    journal.record("sp", "fact", key_id="k")
    assert journal.unfinished() == ["sp"]
    with open(journal.path, "a") as f:
        f.write('{"step": "sp", "eve')  # kill -9 mid-write
    journal.record("sp", "fact", app_object_id="x")
    assert journal.fact("sp", "app_object_id") == "x" and journal.fact("sp", "key_id") == "k"
    journal.record("sp", "done")
    assert journal.unfinished() == []


def test_a_safe_stop_leaves_the_steps_it_did_not_begin_unfinished(tmp_path: Path) -> None:
    """A stop between steps journals the steps not begun as failed with code 4 and no start: still to finish."""
    from wizard.state import Journal

    journal = Journal(tmp_path / "journal.jsonl")
    journal.record("registry", "started")
    journal.record("registry", "done")
    journal.record("cluster", "failed", message="stopped", code=4)
    journal.record("kubeconfig", "failed", message="boom", code=1)
    assert journal.unfinished() == ["cluster"]
    journal.record("cluster", "started")
    journal.record("cluster", "done")
    assert journal.unfinished() == []


def test_the_password_line_says_when_to_rotate() -> None:
    from datetime import UTC, datetime

    from wizard.status import password_line

    now = datetime(2026, 11, 29, tzinfo=UTC)
    assert password_line("2027-11-29T00:00:00Z", now) == \
        "service principal password valid until 2027-11-29 (365 days)"
    assert password_line("2026-12-09T00:00:00Z", now).endswith("(10 days): rotate it now (studioml-azure rotate)")
    assert "EXPIRED on 2026-11-01" in password_line("2026-11-01T00:00:00Z", now)
    assert "apply makes one" in password_line(None, now)


def test_a_keyring_item_lost_under_a_search_is_looked_up_again() -> None:
    """gnome-keyring, while other clients create and delete items, can answer a search with an item path it then
    says does not exist (seen in CI: ItemNotFoundException). The store searches again instead of failing."""
    import keyring
    from keyring.backend import KeyringBackend
    from secretstorage.exceptions import ItemNotFoundException

    from wizard.secrets import SecretStore

    class Renumbering(KeyringBackend):
        priority = 1  # type: ignore[assignment]
        calls = 0

        def get_password(self, service: str, username: str) -> str | None:
            Renumbering.calls += 1
            if Renumbering.calls < 3:
                raise ItemNotFoundException("Item does not exist!")
            return "value"

        def set_password(self, service: str, username: str, password: str) -> None:
            raise NotImplementedError

        def delete_password(self, service: str, username: str) -> None:
            raise NotImplementedError

    before = keyring.get_keyring()
    keyring.set_keyring(Renumbering())
    try:
        assert SecretStore("t", "u").get("sp-password") == "value" and Renumbering.calls == 3
    finally:
        keyring.set_keyring(before)


def test_the_price_source_is_said_once_per_kind() -> None:
    """Prices fetched over two seconds are one fetch span, not a list of every query's time."""
    from wizard.report import price_source
    from wizard.sizing import CostLine, Estimate

    def line(source: str, at: str) -> CostLine:
        return CostLine("eastus", "x", "s", 1, 1.0, "1 Hour", 1.0, 730.0, source, at)

    est = Estimate("USD", [line("live", "2026-11-30T01:34:53Z"), line("live", "2026-11-30T01:34:52Z"),
                           line("live", "2026-11-30T01:34:53Z"), line("cache", "2026-11-29T22:00:00Z")])
    assert price_source(est) == ("prices: Azure Retail Prices API, Linux pay-as-you-go (fetched 2026-11-30T01:34:52Z "
                                 "to 2026-11-30T01:34:53Z; cached 2026-11-29T22:00:00Z)")


def test_an_id_derived_without_an_interface_says_how_to_pick_one(tmp_path: Path) -> None:
    """ARCHITECTURE: without eth0, say so and let the person pick another interface or type an id."""
    from wizard.session import remember_derived
    from wizard.state import TenantState

    state = TenantState("tenant", tmp_path)
    alone = remember_derived(state, "sub", derive_uniq_id("sub", "no-such-interface0"))
    assert "subscription id alone" in alone.source and "set interface or uniq_id" in alone.hint
    assert state.remembered_uniq_id("sub") == alone.value and state.remembered_interface("sub") is None
    over_lo = remember_derived(state, "sub", derive_uniq_id("sub", "lo"))
    assert over_lo.hint == "" or multicast_words("lo") is None


def test_steps_pass_facts_through_a_typed_contract() -> None:
    """What steps learn is a typed object (a misspelt fact fails instead of reading None) and actions and outcomes
    are enums whose values are the words plans and run documents have always used."""
    from wizard.actions import Action, Status
    from wizard.steps.base import NONE
    from wizard.steps.facts import Facts

    facts = Facts()
    facts.registry_id = "/subscriptions/x/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/r"
    with pytest.raises(AttributeError):
        facts.registy_id = "typo"  # type: ignore[attr-defined]
    assert facts.sp_app_id is None and facts.done == set()
    assert NONE is Action.NONE and json.dumps([Action.CREATE, Status.DONE]) == '["create", "done"]'


def test_client_cidrs_are_networks_and_the_experimenters_s3_key_reaches_the_experiment_buckets_only() -> None:
    from wizard import vmconfig
    from wizard.answers import validate
    from wizard.errors import InputError

    assert validate({"client_cidrs": ["203.0.113.0/24", "198.51.100.7", "203.0.113.0/24"]}).client_cidrs == (
        "198.51.100.7/32", "203.0.113.0/24")
    assert validate({}).client_cidrs == () and not validate({}).public_services
    for bad, why in (("203.0.113.9/24", "host bits set; the network holding it is 203.0.113.0/24"),
                     ("mars", "not an IPv4 address or network"), ("10.0.0.0/33", "not a network mask")):
        with pytest.raises(InputError, match=why):
            validate({"client_cidrs": [bad]})
    with pytest.raises(InputError, match="it must be a list"):
        validate({"client_cidrs": "203.0.113.0/24"})
    keys = vmconfig.S3Keys("A", "a"), vmconfig.S3Keys("R", "r"), vmconfig.S3Keys("E", "e")
    idents = {i["name"]: i for i in vmconfig.s3_config(*keys)["identities"]}
    assert idents["experimenter"]["credentials"] == [{"accessKey": "E", "secretKey": "e"}]
    actions = idents["experimenter"]["actions"]
    assert "Admin" not in actions and {a.split(":")[1] for a in actions} == set(vmconfig.buckets())


def test_plain_pytest_outside_the_private_keyring_refuses_to_run() -> None:
    """Without the private Secret Service of ./test.sh the suite stops before any test (it would write into the
    person's own keyring)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "STUDIOML_PRIVATE_KEYRING"}
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "tests/test_core_units.py", "-k",
                          "client_cidrs"], env=env, capture_output=True, text=True, timeout=120,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.returncode == 2 and "run the tests with ./test.sh" in out.stdout + out.stderr, out.stdout[-1000:]


def test_a_display_name_for_a_region_is_refused_naming_its_arm_name() -> None:
    from wizard.answers import validate
    from wizard.errors import InputError

    with pytest.raises(InputError) as refused:
        validate({"region": "East US 2"})
    assert refused.value.message == 'region = "East US 2" is a display name.'
    assert refused.value.hint.startswith('use its ARM name: region = "eastus2"')
    with pytest.raises(InputError) as odd:
        validate({"region": "east-us"})
    assert odd.value.message.endswith("lowercase letters and digits, no spaces.")


def test_a_secret_service_that_goes_away_mid_call_is_waited_for_then_a_keyring_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """gnome-keyring restarting mid-run (its D-Bus peer gone: secretstorage's SecretServiceNotAvailableException):
    the call is made again until the restarted service answers; a service that never comes back is the keyring's
    error (exit 2 through SecretStore), never an unexpected one."""
    import keyring.errors
    from secretstorage.exceptions import SecretServiceNotAvailableException

    from wizard import secrets as keys

    pauses: list[float] = []
    monkeypatch.setattr(keys.time, "sleep", pauses.append)
    answers = iter([SecretServiceNotAvailableException("Message recipient disconnected from message bus without "
                                                       "replying")] * 3 + ["value"])

    def call() -> str:
        got = next(answers)
        if isinstance(got, Exception):
            raise got
        return got

    assert keys.keyring_call(call) == "value" and len(pauses) == 3

    def gone() -> str:
        raise SecretServiceNotAvailableException("Message recipient disconnected from message bus without replying")

    pauses.clear()
    with pytest.raises(keyring.errors.KeyringError, match="went away"):
        keys.keyring_call(gone)
    assert 10 <= sum(pauses) <= 15  # about 12 s of waiting in all before giving up
