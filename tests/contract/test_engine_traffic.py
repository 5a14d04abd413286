"""Every ARM answer a whole install receives (the real engine, in process, against a sandbox) matches the
official REST specs: the sandbox serves the engine what Azure documents, not what the engine happens to read."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from tests.conftest import Recorder, admin_credential, start_sandbox
from tests.contract.checks import check_all
from wizard.answers import load_answers
from wizard.azure.clients import Clients
from wizard.azure.cloud import Login, cloud_from_options
from wizard.engine import Engine
from wizard.events import Event
from wizard.plan import build_steps
from wizard.session import Session, make_context

ROOT = Path(__file__).resolve().parent.parent.parent


def test_a_whole_install_gets_only_spec_shaped_answers(tmp_path: Path) -> None:
    served = start_sandbox(tmp_path / "sandbox", "--speed", "200")
    try:
        info = served.info
        cloud = cloud_from_options("AzureCloud", arm=info["arm"], authority=info["authority"], graph=info["graph"],
                                   prices=info["prices"], ca_bundle=info["ca_bundle"])
        cred = admin_credential(info)
        recorder = Recorder()
        session = Session(cloud, Login(cred, "test", info["tenant_id"]),
                          Clients(cloud, cred, polling_interval=0.05, response_hook=recorder.hook))
        events: list[Event] = []
        ctx, _sub, _uid = make_context(session, load_answers(ROOT / "tests" / "data" / "answers.toml"),
                                       events.append, state_root=tmp_path / "state")
        result = asyncio.run(Engine(build_steps(ctx), ctx).run())
        assert result.exit_code == 0, [o.error for o in result.outcomes.values() if o.error]
        west = replace(ctx.answers, region="westeurope")  # then a second region: its VNet, the peering, a cluster
        ctx, _sub, _uid = make_context(session, west, events.append, state_root=tmp_path / "state")
        result = asyncio.run(Engine(build_steps(ctx), ctx).run())
        assert result.exit_code == 0, [o.error for o in result.outcomes.values() if o.error]
        arm = [s for s in recorder.seen if s[1].startswith(info["arm"] + "/subscriptions")]
        assert check_all(arm) >= 50
        methods = {(m, u.split("?")[0].rsplit("/providers/", 1)[-1].split("/")[0]) for m, u, _s, _b in arm}
        assert ("PUT", "Microsoft.ContainerService") in methods and ("PUT", "Microsoft.Compute") in methods
        assert any(m == "PUT" and "/virtualNetworkPeerings/" in u for m, u, _s, _b in arm)
    finally:
        served.stop()
