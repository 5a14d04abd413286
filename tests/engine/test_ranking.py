"""Regions ranked by what the install costs there (the sandbox's Retail Prices), those with quota headroom first; a
pool Azure cannot place for capacity names the regions to try instead, cheapest first, and the next one works."""

from __future__ import annotations

from pathlib import Path

import requests

from tests.conftest import RunningSandbox
from tests.engine.helpers import ANSWERS, Home, answers_with, endpoint_args, run, run_text


def test_regions_are_ranked_by_cost_and_a_capacity_failure_names_the_next(tmp_path: Path, served: RunningSandbox,
                                                                          home: Home) -> None:
    args, env = endpoint_args(served.info)
    code, doc, err = run(home, "regions", *args, "--answers", str(ANSWERS), "--json", env=env)
    assert code == 0, err[-3000:]
    found = doc["regions"]
    fitting = [r for r in found if r["fits"]]
    assert len(fitting) >= 3 and found[:len(fitting)] == fitting  # those with headroom first
    assert [r["monthly"] for r in fitting] == sorted(r["monthly"] for r in fitting)  # cheapest first
    for r in fitting[:2]:  # each figure is what plan estimates for an install there
        code, plan, err = run(home, "plan", *args, "--answers", str(answers_with(tmp_path, region=r["region"])),
                              "--json", env=env)
        total = plan["estimate"]["total"]
        assert code == 0 and round(total["monthly"], 2) == r["monthly"], (r, total)
    code, text, err = run_text(home, "regions", *args, "--answers", str(ANSWERS), env=env)
    assert code == 0 and text.index(fitting[0]["region"]) < text.index(fitting[1]["region"]), text

    # eastus has no room for the GPU size now: the cluster fails for capacity; the refusal names the others
    requests.post(f"{served.info['arm']}/sandbox/capacity", verify=served.info["ca_bundle"], timeout=10,
                  json={"region": "eastus", "size": "Standard_NC4as_T4_v3"}).raise_for_status()
    code, doc, err = run(home, "apply", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
    assert code == 3 and "Traceback" not in err, err[-3000:]
    cluster = doc["steps"]["cluster"]
    assert cluster["error"].startswith("2 x Standard_NC4as_T4_v3 could not be placed in eastus: ") and \
        "AllocationFailed" in cluster["error"], cluster
    others = [r["region"] for r in fitting if r["region"] != "eastus"]
    assert f'Answer region = "{others[0]}"' in cluster["hint"], cluster
    named = [w.split(" (")[0] for w in cluster["hint"].split("cheapest first: ")[1].split(". Answer")[0].split(", ")]
    assert named == others[:len(named)], (named, others)
    code, doc, err = run(home, "apply", *args, "--answers", str(answers_with(tmp_path, region=others[0])), "--yes",
                         "--json", env=env)
    assert code == 0, err[-3000:]  # the next region takes the cluster; the home services stay where they were made
