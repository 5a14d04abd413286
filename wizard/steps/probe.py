"""Proof from inside each region: a short-lived pod on the system pool connects to RabbitMQ (AMQP login) and the file
server (S3 ListBuckets) at their private addresses with the runner's own secrets, then goes away. It runs when what
it depends on changed (a service VM, the NSG's rules, the peering) or the last probe from this region did not pass;
``status`` shows its last result and when."""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

from .. import health, manifests, vmconfig
from ..assets import asset_text
from ..errors import RefusedError
from ..events import StepProgress
from ..kube import Kube
from ..naming import NAMESPACE
from .base import Context
from .network import AKS_PREFIX, STATIC_IPS
from .workloads import Objects

CONFIGMAP = "studioml-check"
PROBE_SECONDS = 300.0


def endpoints() -> tuple[str, str]:
    """(AMQP host:port, S3 URL) of the home services."""
    return (f"{STATIC_IPS['rabbitmq']}:{vmconfig.AMQP_PORT}", f"http://{STATIC_IPS['files']}:{vmconfig.S3_PORT}")


def probe_pod(name: str, image: str) -> dict[str, Any]:
    """The probe pod: the check tool from the ConfigMap, credentials from the runner's Secrets, no token."""
    amqp, s3 = endpoints()

    def from_secret(secret: str, key: str) -> dict[str, Any]:
        return {"valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}

    return {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": name, "namespace": NAMESPACE, "labels": {"app": "studioml-probe"}}, "spec": {
        "restartPolicy": "Never", "automountServiceAccountToken": False, "activeDeadlineSeconds": 240,
        "nodeSelector": {"kubernetes.azure.com/mode": "system"},
        "containers": [{
            "name": "probe", "image": image, "imagePullPolicy": "IfNotPresent",
            "command": ["python3", "/check/check.py", "probe", "--amqp", amqp, "--s3", s3],
            "env": [{"name": "AMQP_USER", "value": "runner"},
                    {"name": "AMQP_PASSWORD", **from_secret(manifests.AMQP_SECRET, "password")},
                    {"name": "S3_ACCESS_KEY", **from_secret(manifests.S3_SECRET, "AWS_ACCESS_KEY_ID")},
                    {"name": "S3_SECRET_KEY", **from_secret(manifests.S3_SECRET, "AWS_SECRET_ACCESS_KEY")}],
            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}},
            "terminationMessagePolicy": "FallbackToLogsOnError",
            "volumeMounts": [{"name": "check", "mountPath": "/check", "readOnly": True}]}],
        "volumes": [{"name": "check", "configMap": {"name": CONFIGMAP}}]}}


class Probe(Objects):
    """The check tool as a ConfigMap; the probe pod in :meth:`verify`."""

    key, title = "probe", "Services reachable from the region"

    def __init__(self, needs: tuple[str, ...]) -> None:
        self.needs = needs

    def objects(self, ctx: Context) -> list[dict[str, Any]]:
        """The ConfigMap holding the check tool."""
        return [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": CONFIGMAP, "namespace": NAMESPACE},
                 "data": {"check.py": asset_text("services", "check.py")}}]

    def _inputs(self, ctx: Context) -> str:
        """What the probe's outcome rests on: the service VMs and how they were made, this cluster, its subnet (the
        rules of other regions' subnets do not change what this region reaches)."""
        own = AKS_PREFIX if ctx.region == ctx.names.home_region else str(ctx.facts.region_aks_prefix)
        parts = [ctx.region, str(ctx.facts.vm_ids.get("rabbitmq")), str(ctx.facts.vm_ids.get("files")), own,
                 str(own in (ctx.facts.service_access_sources or [])), str(ctx.facts.cluster_id),
                 vmconfig.boot_digest("rabbitmq"), vmconfig.boot_digest("files")]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]

    def verify(self, ctx: Context) -> None:
        """Run the probe pod unless the last one from this region passed and nothing it depends on changed."""
        book = health.book(ctx.state, ctx.names.uniq_id)
        last, inputs = book.get(f"probe:{ctx.region}"), self._inputs(ctx)
        changed = ctx.facts.service_access_changed or ctx.facts.peering_changed or bool(ctx.facts.recheck)
        if last and last.get("ok") and last.get("inputs") == inputs and not changed:
            return
        kube = self.kube(ctx)
        assert kube is not None
        lines, ok = self._run(ctx, kube)
        record = {"ok": ok, "inputs": inputs, "checked_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "amqp": next((ln for ln in lines if ln.startswith("amqp")), "no answer"),
                  "s3": next((ln for ln in lines if ln.startswith("s3")), "no answer")}
        book.put(f"probe:{ctx.region}", record)
        if not ok:
            bad = "; ".join(ln for ln in lines if ": ok" not in ln) or "the probe pod gave no result"
            raise RefusedError(f"from region {ctx.region}, a pod cannot use the services: {bad}.",
                               f"the services subnet's NSG must admit this region's AKS subnet (service-access) and "
                               f"the region's VNet must be peered with the home VNet; check with kubectl --kubeconfig "
                               f"{kube.kubeconfig} -n {NAMESPACE} get events, then run apply again")
        ctx.emit(StepProgress(self.key, f"from {ctx.region}: " + "; ".join(lines)))

    def _run(self, ctx: Context, kube: Kube) -> tuple[list[str], bool]:
        name = f"studioml-probe-{secrets.token_hex(4)}"
        pod = probe_pod(name, str(vmconfig.versions()["probe_image"]))
        ctx.emit(StepProgress(self.key, f"a pod in {ctx.region} connects to AMQP and S3 ({name})"))
        kube.request("POST", f"/api/v1/namespaces/{NAMESPACE}/pods", pod, ok=(201,),
                     query={"fieldManager": "studioml-azure"})
        try:
            deadline = time.monotonic() + PROBE_SECONDS
            while time.monotonic() < deadline:
                live = kube.get(pod) or {}
                phase = live.get("status", {}).get("phase", "Pending")
                if phase in ("Succeeded", "Failed"):
                    state = (live["status"].get("containerStatuses") or [{}])[0].get("state", {})
                    text = str((state.get("terminated") or {}).get("message", ""))
                    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
                    return lines, phase == "Succeeded" and bool(lines)
                ctx.sleep(ctx.poll_seconds)
            return [f"the probe pod {name} did not finish within {int(PROBE_SECONDS)} s"], False
        finally:
            kube.request("DELETE", f"/api/v1/namespaces/{NAMESPACE}/pods/{name}", ok=(200, 202, 404))
