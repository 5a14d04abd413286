"""Transient faults (429 with Retry-After, 500, 503, dropped connections, failed LROs) do not stop an install."""

from __future__ import annotations

from pathlib import Path

import requests

from tests.conftest import start_sandbox
from tests.engine.helpers import ANSWERS, Home, assert_converged, endpoint_args, run


def test_apply_converges_through_injected_faults(tmp_path: Path) -> None:
    served = start_sandbox(tmp_path / "sandbox", "--speed", "200", "--faults",
                           "429=0.06,500=0.04,503=0.03,reset=0.01,seed=11")
    try:
        home = Home(tmp_path / "home")
        args, env = endpoint_args(served.info)
        code, doc, err = run(home, "apply", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
        if code != 0:  # a step may run out of attempts under this much noise: the next run resumes
            assert code == 4, err[-3000:]  # transient, classified as such: never "unexpected" (1)
            assert "unexpected" not in err, err[-3000:]
            code, doc, err = run(home, "apply", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
        assert code == 0, err[-4000:]
        # The checks read the same server: the faults end first (a check is not a client that retries).
        requests.post(f"{served.info['arm']}/sandbox/faults", data={"spec": ""}, verify=served.info["ca_bundle"],
                      timeout=10).raise_for_status()
        assert_converged(served, doc)
    finally:
        served.stop()
