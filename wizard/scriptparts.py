"""``studioml-azure render``: the generated parts of the printed script, to stdout, made by the same code the wizard
uses (a VM's PUT body with its cloud-init, the cluster's Secrets, the runner's and the probe's manifests).

It needs no sign-in: names come from the answers (their uniq_id resolved), secrets from the OS keyring under the
tenant given. Its output carries secrets, so the script only ever pipes it (``kubectl apply -f -``) or hands it to
``az rest --body @-``: never a file, never a command line.
"""

from __future__ import annotations

import json
from typing import Any

from .answers import Answers
from .catalog import gpu_size
from .errors import InputError
from .manifests import device_plugin, namespace, runner_objects
from .naming import Names, install_tags
from .secrets import SecretStore
from .steps.network import STATIC_IPS
from .steps.probe import CONFIGMAP, probe_pod
from .steps.services import conf_digest, secret_inputs, settings, vm_body, where
from .steps.workloads import secret_objects
from .vmconfig import delivery_script

WHAT = ("vm-rabbitmq", "vm-files", "k8s-base", "k8s-secrets", "runner", "probe", "settings-rabbitmq", "settings-files",
        "conf-tag-rabbitmq", "conf-tag-files")


def _list(items: list[dict[str, Any]]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items}, indent=1)


def render(what: str, tenant: str, answers: Answers, *, nic_id: str = "", login_server: str = "",
           app_id: str = "", probe_image: str = "", public_ip: str = "") -> str:
    """The text ``what`` stands for."""
    if what not in WHAT:
        raise InputError(f"render {what!r} is not something the script renders.", "one of " + ", ".join(WHAT))
    if answers.uniq_id == "auto":
        raise InputError("render needs the install's uniq_id in the answers, not \"auto\".",
                         "use the answers the printed script carries")
    names, store = Names(answers.uniq_id, answers.region), SecretStore(tenant, answers.uniq_id)
    if what.startswith("vm-"):
        if not nic_id:
            raise InputError("render vm-* needs --nic-id.", "pass the NIC's resource id")
        return json.dumps(vm_body(what.removeprefix("vm-"), names, store, nic_id, install_tags(answers.uniq_id),
                                  keda=answers.scale_to_zero))
    if what.startswith(("settings-", "conf-tag-")):  # a VM's settings as Run Command writes them, and its tag
        role = what.rpartition("-")[2]
        at = where(names, role, public_ip or None)
        values = secret_inputs(role, store, names.uniq_id, at, answers.scale_to_zero)
        if what.startswith("conf-tag-"):
            return conf_digest(role, values) + "\n"
        return "\n".join(delivery_script(settings(role, values, at))) + "\n"
    if what == "k8s-base":
        return _list([namespace(), device_plugin()])
    if not login_server:
        raise InputError(f"render {what} needs --login-server.", "pass the registry's login server")
    if what == "k8s-secrets":
        return _list(secret_objects(store, answers.pull_auth, login_server, app_id, keda=answers.scale_to_zero))
    if what == "runner":
        objs = runner_objects(registry=names.registry, login_server=login_server, image=answers.runner_image,
                              replicas=0 if answers.scale_to_zero else answers.runner_replicas,
                              amqp_host=STATIC_IPS["rabbitmq"], size=gpu_size(answers.gpu_sku),
                              pull_auth=answers.pull_auth)
        if answers.scale_to_zero:  # KEDA's objects; it owns the replicas from then on
            from .manifests import scaler_objects

            match = next(str(o["data"]["QUEUE_MATCH"]) for o in objs if "QUEUE_MATCH" in (o.get("data") or {}))
            objs += scaler_objects(match, answers.runner_replicas)
        return _list(objs)
    from .assets import asset_text

    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": CONFIGMAP, "namespace": "gpu-resources"},
              "data": {"check.py": asset_text("services", "check.py")}}
    return _list([config, probe_pod("studioml-probe", probe_image)])
