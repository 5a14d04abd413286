"""The service VMs really serve: checked from outside with the official clients (Run Command on each VM), not from
what the wizard says or what Azure's provisioning state says."""

from __future__ import annotations

from tests.conftest import RunningSandbox
from tests.engine.helpers import ANSWERS, Home, endpoint_args, run, service_vms, vm_shell


def test_service_vms_finish_cloud_init_and_run_their_service(served: RunningSandbox, home: Home) -> None:
    args, env = endpoint_args(served.info)
    code, doc, err = run(home, "apply", *args, "--answers", str(ANSWERS), "--yes", "--json", env=env)
    assert code == 0, err[-4000:]
    sub, uid = doc["subscription"]["id"], doc["uniq_id"]["value"]
    vms = service_vms(served.info, sub, f"studioml-{uid}")
    assert len(vms) == 2, vms
    for vm in vms:
        ok, out, errout = vm_shell(served.info, sub, f"studioml-{uid}", vm,
                                   "timeout 900 cloud-init status --wait --long",
                                   "tail -n 5 /var/log/cloud-init-output.log")
        assert ok and "status: done" in out, f"{vm}: {out}\n{errout}"
