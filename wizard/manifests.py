"""The manifests the wizard applies: the NVIDIA device plugin, the namespace, the secrets, and the runner's
objects rendered from its template. Pure functions of their inputs; secrets are passed in, never looked up."""

from __future__ import annotations

import base64
import json
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .answers import image_parts
from .assets import asset_text
from .catalog import GpuSize
from .naming import NAMESPACE, PULL_SECRET
from .render import render

AMQP_SECRET = "studioml-amqp"
S3_SECRET = "studioml-s3"
KEY_SECRET = "studioml-runner-key-secret"
PASSPHRASE_SECRET = "studioml-runner-passphrase-secret"
KEDA_SECRET = "studioml-keda-rabbitmq"  # the management API URL with KEDA's monitoring user (scale_to_zero)
SCALER = "studioml-go-runner"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def namespace() -> dict[str, Any]:
    """The runner's namespace."""
    labels = {"app.kubernetes.io/managed-by": "studioml-azure"}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE, "labels": labels}}


def device_plugin() -> dict[str, Any]:
    """NVIDIA's device plugin DaemonSet (pinned), tolerating the GPU pool's taint."""
    doc: dict[str, Any] = yaml.safe_load(asset_text("manifests", "nvidia-device-plugin.yaml"))
    return doc


def secret(name: str, data: dict[str, str], kind: str = "Opaque") -> dict[str, Any]:
    """A Secret in the runner's namespace with ``data`` base64-encoded."""
    return {"apiVersion": "v1", "kind": "Secret", "type": kind,
            "metadata": {"name": name, "namespace": NAMESPACE}, "data": {k: _b64(v) for k, v in data.items()}}


def pull_secret(login_server: str, username: str, password: str) -> dict[str, Any]:
    """``studioml-go-docker-key``: what ``kubectl create secret docker-registry`` makes (no e-mail)."""
    auth = _b64(f"{username}:{password}")
    config = {"auths": {login_server: {"username": username, "password": password, "auth": auth}}}
    return secret(PULL_SECRET, {".dockerconfigjson": json.dumps(config, sort_keys=True, separators=(",", ":"))},
                  "kubernetes.io/dockerconfigjson")


def s3_secret(endpoint: str, bucket: str, access: str, secret_key: str) -> dict[str, Any]:
    """``studioml-s3``: the file server's endpoint, the runners' bucket and their keys, as the runner's environment
    (``AWS_*`` as S3 clients read them)."""
    return secret(S3_SECRET, {"S3_ENDPOINT": endpoint, "S3_BUCKET": bucket, "AWS_ACCESS_KEY_ID": access,
                              "AWS_SECRET_ACCESS_KEY": secret_key, "AWS_DEFAULT_REGION": "us-east-1"})


def runner_key_pair(passphrase: str) -> tuple[str, str]:
    """An RSA 4096 key pair as the runner's docs make it: the private key PEM encrypted with the passphrase,
    the public key as a PKCS#1 PEM (``BEGIN RSA PUBLIC KEY``)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.BestAvailableEncryption(passphrase.encode())).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1).decode()
    return private, public


def runner_requests(size: GpuSize) -> tuple[str, str]:
    """CPU and memory for one runner (one GPU): the node's share per GPU, leaving room for the system."""
    cpu = max(1, (size.vcpus - 2) // size.gpus)
    memory = max(4, int(size.memory_gib * 0.7 / size.gpus))
    return str(cpu), f"{memory}Gi"


def scaler_objects(queue_match: str, max_replicas: int) -> list[dict[str, Any]]:
    """KEDA's TriggerAuthentication and the runner's ScaledObject (scale_to_zero): the runner Deployment from 0 to
    ``max_replicas``, one replica per message waiting in the queues the runner itself takes (its QUEUE_MATCH
    expression, over the management API: ``protocol: http``, ``useRegex``, ``operation: sum``); back to 0 five
    minutes after the queues are empty (the nodes follow through the cluster autoscaler)."""
    auth = {"apiVersion": "keda.sh/v1alpha1", "kind": "TriggerAuthentication",
            "metadata": {"name": KEDA_SECRET, "namespace": NAMESPACE},
            "spec": {"secretTargetRef": [{"parameter": "host", "name": KEDA_SECRET, "key": "host"}]}}
    scaled = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
              "metadata": {"name": SCALER, "namespace": NAMESPACE},
              "spec": {"scaleTargetRef": {"name": "studioml-go-runner-deployment"}, "minReplicaCount": 0,
                       "maxReplicaCount": max_replicas, "pollingInterval": 30, "cooldownPeriod": 300,
                       "triggers": [{"type": "rabbitmq", "authenticationRef": {"name": KEDA_SECRET},
                                     "metadata": {"protocol": "http", "mode": "QueueLength", "value": "1",
                                                  "queueName": queue_match, "useRegex": "true",
                                                  "operation": "sum", "vhostName": "/"}}]}}
    return [auth, scaled]


def runner_objects(*, registry: str, image: str, replicas: int, amqp_host: str, size: GpuSize,
                   pull_auth: str, login_server: str = "") -> list[dict[str, Any]]:
    """The runner's ConfigMap, ServiceAccount, signing Secret, RBAC and Deployment from its template (whose image
    names ``<registry>.azurecr.io``: another cloud's ``login_server`` replaces that host)."""
    _host, repo, tag = image_parts(image)
    cpu, memory = runner_requests(size)
    env = {"azure_registry_name": registry, "namespace": NAMESPACE, "amqp_host": amqp_host,
           "pull_secret": PULL_SECRET, "replicas": str(replicas), "gpus": "1", "cpu": cpu, "memory": memory}
    text = render(asset_text("runner", "deployment.yaml"), env=env,
                  data={"duat": {"module": repo.rsplit("/", 1)[-1], "version": tag}}, name="runner/deployment.yaml")
    objects = [doc for doc in yaml.safe_load_all(text) if doc]
    for obj in objects:
        if obj["kind"] == "ServiceAccount" and pull_auth != "secret":
            obj.pop("imagePullSecrets", None)
        if obj["kind"] == "Deployment":
            for container in obj["spec"]["template"]["spec"]["containers"]:
                if login_server and container["image"].startswith(f"{registry}.azurecr.io/"):
                    container["image"] = login_server + container["image"].removeprefix(f"{registry}.azurecr.io")
                for part in ("requests", "limits"):
                    res = container["resources"][part]
                    container["resources"][part] = {k: str(v) for k, v in res.items()}
    return objects
