"""Inside the cluster: namespace and device plugin, the secrets, and the runner with its rollout followed."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import manifests, vmconfig
from .. import secrets as keys
from ..catalog import gpu_size
from ..errors import RefusedError, SecretStoreError
from ..events import StepProgress
from ..kube import Kube, object_path
from ..naming import NAMESPACE
from .base import CREATE, NONE, UPDATE, Context, Observation, Resource, Step
from .network import STATIC_IPS

ROLLOUT_SECONDS = 900.0
POD_PROBLEMS = ("ErrImagePull", "ImagePullBackOff", "CreateContainerConfigError", "CrashLoopBackOff",
                "InvalidImageName")


class Objects(Step):
    """Apply a list of manifests; observe compares each with the live object."""

    key = title = ""
    needs: tuple[str, ...] = ()

    def objects(self, ctx: Context) -> list[dict[str, Any]]:
        """The manifests (built from facts and keyring secrets)."""
        raise NotImplementedError

    def kube(self, ctx: Context) -> Kube | None:
        """The cluster, when its kubeconfig exists."""
        path = Path(str(ctx.facts.kubeconfig_path or ctx.state.kubeconfig_path(ctx.names.uniq_id,
                                                                                        ctx.region)))
        return Kube(path) if path.exists() else None

    def observe(self, ctx: Context) -> Observation:
        """Each object: missing, different, or as wanted."""
        kube = self.kube(ctx)
        if kube is not None and not kube.reachable():  # a kubeconfig of a cluster that is gone or not ready
            kube = None
        objs = self._planned(ctx) if kube is None else self.objects(ctx)
        res = [Resource(f"{o['kind']}", f"{o['metadata'].get('namespace', '-')}/{o['metadata']['name']}")
               for o in objs]
        if kube is None:
            return Observation(CREATE, f"{len(objs)} object(s)", res)
        actions = {f"{o['kind']}/{o['metadata']['name']}": kube.differs(o) for o in objs}
        todo = [k for k, v in actions.items() if v != NONE]
        if not todo:
            return Observation(NONE, "", res)
        made = all(actions[k] == CREATE for k in todo) and len(todo) == len(actions)
        return Observation(CREATE if made else UPDATE, ", ".join(f"{k} ({actions[k]})" for k in todo), res)

    def _planned(self, ctx: Context) -> list[dict[str, Any]]:
        """The manifests for the plan when the cluster does not exist yet (no secrets needed)."""
        return self.objects(ctx)

    def apply(self, ctx: Context, obs: Observation) -> None:
        """Converge every object."""
        kube = self.kube(ctx)
        assert kube is not None
        for obj in self.objects(ctx):
            ctx.check_stop()
            done = kube.converge(obj)
            if done != NONE:
                ctx.emit(StepProgress(self.key, f"{done} {obj['kind']} {obj['metadata']['name']}"))


class NamespaceAndPlugin(Objects):
    """``gpu-resources`` and the NVIDIA device plugin (v0.18.0, tolerating ``sku=gpu``)."""

    key, title, needs = "k8s-base", "Namespace and NVIDIA device plugin", ("kubeconfig",)

    def objects(self, ctx: Context) -> list[dict[str, Any]]:
        """Namespace first, then the DaemonSet."""
        return [manifests.namespace(), manifests.device_plugin()]


def secret_objects(store: keys.SecretStore, pull_auth: str, login_server: str, app_id: str,
                   say: Callable[[str], None] = lambda _text: None, keda: bool = False) -> list[dict[str, Any]]:
    """The runner's Secrets from keyring values (the passphrase and key pair made there first, and read back, when
    missing); the wizard applies them and ``studioml-azure render k8s-secrets`` prints them for the script."""
    def need(key: str) -> str:
        value = store.get(key)
        if value is None:
            raise SecretStoreError(f"{store.ref(key)} is missing from the keyring.",
                                   "run again so the step that makes it runs first")
        return value

    objs = []
    if pull_auth == "secret":
        objs.append(manifests.pull_secret(login_server, app_id, need(keys.SP_PASSWORD)))
    objs.append(manifests.secret(manifests.AMQP_SECRET, {"password": need(keys.RABBITMQ_USER)}))
    objs.append(manifests.s3_secret(f"http://{STATIC_IPS['files']}:{vmconfig.S3_PORT}", vmconfig.buckets()[-1],
                                    need(keys.S3_RUNNER_KEY), need(keys.S3_RUNNER_SECRET)))
    passphrase = store.ensure(keys.RUNNER_PASSPHRASE, lambda: keys.random_password(40))
    if store.get(keys.RUNNER_PRIVATE_KEY) is None or store.get(keys.RUNNER_PUBLIC_KEY) is None:
        say("generating the runner's RSA 4096 message-encryption key pair")
        private, public = manifests.runner_key_pair(passphrase)
        store.put(keys.RUNNER_PUBLIC_KEY, public)
        store.put(keys.RUNNER_PRIVATE_KEY, private)
    objs.append(manifests.secret(manifests.KEY_SECRET, {"ssh-privatekey": need(keys.RUNNER_PRIVATE_KEY),
                                                        "ssh-publickey": need(keys.RUNNER_PUBLIC_KEY)}))
    objs.append(manifests.secret(manifests.PASSPHRASE_SECRET, {"ssh-passphrase": passphrase}))
    if keda:  # the management API where KEDA reads queue lengths, as its monitoring user
        host = f"http://keda:{need(keys.RABBITMQ_KEDA)}@{STATIC_IPS['rabbitmq']}:{vmconfig.MANAGEMENT_PORT}/%2F"
        objs.append(manifests.secret(manifests.KEDA_SECRET, {"host": host}))
    return objs


class RunnerSecrets(Objects):
    """The pull secret, the AMQP password, and the runner's message-encryption key pair and passphrase
    (generated into the keyring, read back, then written to the cluster)."""

    key, title, needs = "k8s-secrets", "Secrets in the cluster", ("k8s-base", "sp", "rabbitmq", "files")

    def objects(self, ctx: Context) -> list[dict[str, Any]]:
        """Built from keyring values only."""
        return secret_objects(ctx.secrets, ctx.answers.pull_auth, ctx.login_server, str(ctx.facts.sp_app_id),
                              lambda text: ctx.emit(StepProgress(self.key, text)), ctx.answers.scale_to_zero)

    def _planned(self, ctx: Context) -> list[dict[str, Any]]:
        names = ([manifests.pull_secret("x", "x", "x")] if ctx.answers.pull_auth == "secret" else []) + [
            manifests.secret(n, {}) for n in (manifests.AMQP_SECRET, manifests.S3_SECRET, manifests.KEY_SECRET,
                                              manifests.PASSPHRASE_SECRET)]
        return names

    def observe(self, ctx: Context) -> Observation:
        """As for any objects, except that secrets not yet in the keyring are not generated while observing."""
        wanted = [keys.RUNNER_PASSPHRASE, keys.RUNNER_PRIVATE_KEY, keys.RUNNER_PUBLIC_KEY, keys.RABBITMQ_USER,
                  keys.S3_RUNNER_KEY, keys.S3_RUNNER_SECRET]
        if ctx.answers.pull_auth == "secret":
            wanted.append(keys.SP_PASSWORD)
        if ctx.answers.scale_to_zero:
            wanted.append(keys.RABBITMQ_KEDA)
        missing = [k for k in wanted if ctx.secrets.get(k) is None]
        if missing or ctx.facts.sp_app_id is None:
            objs = self._planned(ctx)
            return Observation(CREATE, "secrets to generate: " + (", ".join(missing) or "none"),
                               [Resource("Secret", f"{NAMESPACE}/{o['metadata']['name']}") for o in objs])
        return super().observe(ctx)


RUNNER_DEPLOYMENT: dict[str, Any] = {"apiVersion": "apps/v1", "kind": "Deployment",
                                     "metadata": {"name": "studioml-go-runner-deployment", "namespace": NAMESPACE}}


class Runner(Objects):
    """The runner's objects from its template; the rollout is followed until every replica is ready."""

    key, title = "runner", "studio-go-runner deployment"
    needs = ("k8s-base", "k8s-secrets", "image", "rabbitmq", "files")

    def objects(self, ctx: Context) -> list[dict[str, Any]]:
        """Rendered with this install's registry, image, replicas and RabbitMQ address; with scale_to_zero, KEDA's
        objects too, and the replicas left to KEDA (0 at first, as it has them afterwards)."""
        objs = manifests.runner_objects(
            registry=ctx.names.registry, login_server=ctx.login_server, image=ctx.answers.runner_image,
            replicas=self._replicas(ctx),
            amqp_host=ctx.facts.service_ips.get("rabbitmq", ""), size=gpu_size(ctx.answers.gpu_sku),
            pull_auth=ctx.answers.pull_auth)
        if ctx.answers.scale_to_zero:
            match = next(str(o["data"]["QUEUE_MATCH"]) for o in objs if o["kind"] == "ConfigMap"
                         and "QUEUE_MATCH" in (o.get("data") or {}))
            objs += manifests.scaler_objects(match, ctx.answers.runner_replicas)
        return objs

    def observe(self, ctx: Context) -> Observation:
        """As for any objects; with scale_to_zero off, KEDA's objects left from when it was on are to go."""
        obs = super().observe(ctx)
        kube = self.kube(ctx)
        left = self._leftovers(ctx, kube) if kube is not None and kube.reachable() else []
        if not left:
            return obs
        gone = "remove " + ", ".join(f"{o['kind']}/{o['metadata']['name']}" for o in left) + " (scale_to_zero is off)"
        return Observation(UPDATE if obs.action == NONE else obs.action, ", ".join(filter(None, [obs.detail, gone])),
                           obs.resources, {**obs.data, "leftovers": left})

    def apply(self, ctx: Context, obs: Observation) -> None:
        """KEDA's leftovers first (so it stops setting the replicas), then the objects."""
        kube = self.kube(ctx)
        assert kube is not None
        for obj in obs.data.get("leftovers") or []:  # what observe found
            kube.request("DELETE", object_path(obj), ok=(200, 202, 404))
            ctx.emit(StepProgress(self.key, f"delete {obj['kind']} {obj['metadata']['name']}"))
        super().apply(ctx, obs)

    @staticmethod
    def _leftovers(ctx: Context, kube: Kube) -> list[dict[str, Any]]:
        """KEDA's objects in the cluster while scale_to_zero is off (none where KEDA's CRDs are not served)."""
        if ctx.answers.scale_to_zero:
            return []
        return [o for o in reversed(manifests.scaler_objects("", 1)) if kube.get(o) is not None]  # the scaler first

    def _replicas(self, ctx: Context) -> int:
        if not ctx.answers.scale_to_zero:
            return ctx.answers.runner_replicas
        kube = self.kube(ctx)
        live = kube.get(RUNNER_DEPLOYMENT) if kube is not None and kube.reachable() else None
        return int((live or {}).get("spec", {}).get("replicas") or 0)

    def verify(self, ctx: Context) -> None:
        """Follow the rollout: every replica updated and available, or the pods' problem reported."""
        kube = self.kube(ctx)
        assert kube is not None
        dep = next(o for o in self.objects(ctx) if o["kind"] == "Deployment")
        want = int(dep["spec"]["replicas"])
        deadline = time.monotonic() + ROLLOUT_SECONDS
        last = ""
        while True:
            live = kube.get(dep) or {}
            if ctx.answers.scale_to_zero:  # KEDA sets the replicas, also while this waits
                want = int(live.get("spec", {}).get("replicas") or 0)
            status, gen = live.get("status", {}), live.get("metadata", {}).get("generation", 0)
            ready = status.get("availableReplicas", 0) or 0
            if status.get("observedGeneration", 0) >= gen and (status.get("updatedReplicas", 0) or 0) == want \
                    and ready == want and (status.get("replicas", 0) or 0) == want:
                ctx.facts.runner_ready = f"{ready}/{want}"
                if ctx.answers.scale_to_zero:
                    self._scaler_ready(ctx, kube, deadline)
                return
            problem = self._pod_problem(kube)
            message = f"{ready}/{want} runner replicas ready" + (f"; {problem}" if problem else "")
            if message != last:
                ctx.emit(StepProgress(self.key, message))
                last = message
            stalled = next((c for c in status.get("conditions") or [] if c.get("type") == "Progressing"
                            and c.get("reason") == "ProgressDeadlineExceeded"), None)
            # a pod that can never be placed is a rollout that will not end; an image still being pulled (a pull
            # role taking its minutes to apply) is waited for until the deadline
            if stalled is not None and status.get("observedGeneration", 0) >= gen and "nodes are available" in problem:
                raise RefusedError(f"the runner's rollout stopped making progress "
                                   f"({str(stalled.get('message', '')).rstrip('.')}): "
                                   f"{message}.", f"kubectl --kubeconfig {kube.kubeconfig} -n {NAMESPACE} describe "
                                   "pods; a new pod that waits for a GPU means the pool has none free")
            if time.monotonic() > deadline:
                raise RefusedError(f"the runner did not become ready: {message}.",
                                   f"kubectl --kubeconfig {kube.kubeconfig} -n {NAMESPACE} describe pods")
            ctx.sleep(ctx.poll_seconds)

    def _scaler_ready(self, ctx: Context, kube: Kube, deadline: float) -> None:
        """KEDA read the queues: the ScaledObject's Ready condition (a management API it cannot reach says so)."""
        scaled = manifests.scaler_objects("", 1)[1]  # its name and namespace are all a read needs
        last = ""
        while True:
            status = (kube.get(scaled) or {}).get("status") or {}
            cond: dict[str, Any] = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
            if cond.get("status") == "True":
                ctx.emit(StepProgress(self.key, "KEDA reads the runner's queues (scale to zero on)"))
                return
            message = str(cond.get("message") or "waiting for KEDA's first poll")
            if message != last:
                ctx.emit(StepProgress(self.key, f"KEDA: {message}"))
                last = message
            if time.monotonic() > deadline:
                raise RefusedError(f"KEDA cannot read the runner's queues: {message}.",
                                   f"kubectl --kubeconfig {kube.kubeconfig} -n {NAMESPACE} describe scaledobject "
                                   f"{scaled['metadata']['name']}; RabbitMQ's management API must answer on "
                                   f"{vmconfig.MANAGEMENT_PORT} from the cluster's subnet")
            ctx.sleep(ctx.poll_seconds)

    @staticmethod
    def _pod_problem(kube: Kube) -> str:
        for pod in kube.list(f"/api/v1/namespaces/{NAMESPACE}/pods", labelSelector="app=studioml-go-runner"):
            for cs in pod.get("status", {}).get("containerStatuses", []) or []:
                waiting = (cs.get("state") or {}).get("waiting") or {}
                if waiting.get("reason") in POD_PROBLEMS:
                    return f"{pod['metadata']['name']}: {waiting['reason']}: {waiting.get('message', '')}"
            for cond in pod.get("status", {}).get("conditions", []) or []:
                if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
                    return f"{pod['metadata']['name']}: {cond.get('message', 'unschedulable')}"
        return ""
