"""KEDA, as the AKS KEDA add-on runs it (``workloadAutoScalerProfile.keda.enabled``): its operator on the system
nodes polls each ScaledObject's triggers every ``pollingInterval`` seconds and sets the target Deployment's
replicas (through the HPA it makes, which this skips): 0 once no trigger has been active for ``cooldownPeriod``
seconds, else ``ceil(metric / value)`` within ``minReplicaCount``..``maxReplicaCount``.

The RabbitMQ scaler with ``protocol: http`` reads queue lengths from the broker's management API at ``host``
(``http://user:password@address:15672/vhost``, from the TriggerAuthentication's secret), summing the queues whose
names match ``queueName`` when ``useRegex`` is true (``operation: sum``). Its connection leaves from a system node,
so the VNet, peerings and the broker's NSG decide whether it arrives (:mod:`..guest.network`); then what the
broker's management API answers the user. A failing trigger leaves the replicas as they are and says why in the
ScaledObject's Ready condition. Times follow the sandbox speed.
"""

from __future__ import annotations

import base64
import math
import re
from typing import Any
from urllib.parse import unquote, urlsplit

from .. import guest
from ..guest import network, services
from .kinds import BY_PLURAL
from .objects import Cluster, now_rfc3339

SCALED, AUTHS = BY_PLURAL[("keda.sh", "v1alpha1", "scaledobjects")], BY_PLURAL[("keda.sh", "v1alpha1",
                                                                                 "triggerauthentications")]
SECRETS, NODES = BY_PLURAL[("", "v1", "secrets")], BY_PLURAL[("", "v1", "nodes")]
DEPLOYMENTS = BY_PLURAL[("apps", "v1", "deployments")]


def keda_enabled(cluster: Cluster) -> bool:
    """Whether the cluster has the KEDA add-on (its CRDs are served only then)."""
    rec = cluster.sbx.get_resource(str(cluster.state.get("cluster_id", "")))
    profile = ((rec or {}).get("body", {}).get("properties", {}).get("workloadAutoScalerProfile") or {})
    return bool((profile.get("keda") or {}).get("enabled"))


def _param(cluster: Cluster, ns: str, trigger: dict[str, Any], name: str) -> str:
    """A trigger parameter: from its metadata, else from its TriggerAuthentication's secret."""
    if (trigger.get("metadata") or {}).get(name):
        return str(trigger["metadata"][name])
    ref = (trigger.get("authenticationRef") or {}).get("name")
    auth = cluster.get(AUTHS, ns, ref) if ref else None
    for item in ((auth or {}).get("spec") or {}).get("secretTargetRef") or []:
        if item.get("parameter") == name:
            secret = cluster.get(SECRETS, ns, item.get("name", "")) or {}
            raw = (secret.get("data") or {}).get(item.get("key", ""))
            return base64.b64decode(raw).decode() if raw else ""
    return ""


def _origin(cluster: Cluster, rec: dict[str, Any]) -> tuple[str, str]:
    """(subnet id, address) a system node's connections leave from."""
    pools = {p["name"]: p for p in rec["body"]["properties"]["agentPoolProfiles"]}
    for node in cluster.list(NODES):
        labels = node["metadata"].get("labels", {})
        if labels.get("kubernetes.azure.com/mode") == "system":
            address = next((a["address"] for a in node["status"].get("addresses", []) if a["type"] == "InternalIP"),
                           "")
            return str((pools.get(labels.get("agentpool", "")) or {}).get("vnetSubnetID") or ""), address
    return "", ""


def _rabbitmq(cluster: Cluster, rec: dict[str, Any], ns: str, trigger: dict[str, Any]) -> tuple[int | None, str]:
    meta = trigger.get("metadata") or {}
    if meta.get("protocol", "auto") not in ("http", "auto"):
        return None, "only the http protocol reads queues by a regular expression"
    url = urlsplit(_param(cluster, ns, trigger, "host"))
    if url.scheme != "http" or not url.hostname:
        return None, "error parsing rabbitmq metadata: host must be an http:// management API URL"
    subnet, src = _origin(cluster, rec)
    fate, vm = network.tcp_path(cluster.sbx, subnet, src, url.hostname, url.port or 80) if subnet else ("timeout",
                                                                                                         None)
    m = guest.machine(cluster.sbx, vm["id"]) if fate == "open" and vm is not None else None
    if m is None:
        return None, f"dial tcp {url.hostname}:{url.port}: i/o timeout"
    if (url.port or 80) not in services.listening(m):
        return None, f"dial tcp {url.hostname}:{url.port}: connect: connection refused"
    name = meta.get("queueName", "")
    pattern = name if str(meta.get("useRegex", "false")).lower() == "true" else f"^{re.escape(name)}$"
    return services.queue_lengths(m, unquote(url.username or ""), unquote(url.password or ""), pattern)


def run_keda(cluster: Cluster, rec: dict[str, Any]) -> None:
    """One pass of the KEDA operator over the cluster's ScaledObjects (each on its own polling interval)."""
    if not keda_enabled(cluster):
        return
    sbx, now = cluster.sbx, cluster.sbx.now()
    timers: dict[str, Any] = cluster.state.setdefault("keda", {})
    for so in cluster.list(SCALED):
        ns, spec = so["metadata"]["namespace"], so.get("spec") or {}
        mine = timers.setdefault(f"{ns}/{so['metadata']['name']}", {})
        if now - mine.get("polled", 0.0) < sbx.scaled(float(spec.get("pollingInterval", 30))):
            continue
        mine["polled"] = now
        total, value, why = 0, 1.0, ""
        for trigger in spec.get("triggers") or []:
            if trigger.get("type") != "rabbitmq":
                why = f"scaler {trigger.get('type')} is not simulated"
                break
            found, why = _rabbitmq(cluster, rec, ns, trigger)
            if found is None:
                break
            total += found
            value = float((trigger.get("metadata") or {}).get("value", "20"))
        ready = not why
        if ready and total > 0:
            mine["active"] = now
        low, high = int(spec.get("minReplicaCount", 0)), int(spec.get("maxReplicaCount", 100))
        want = min(high, max(low, math.ceil(total / value))) if total > 0 else low
        cooling = now - mine.get("active", -1e18) < sbx.scaled(float(spec.get("cooldownPeriod", 300)))
        target = (spec.get("scaleTargetRef") or {}).get("name", "")
        dep = cluster.get(DEPLOYMENTS, ns, target)
        if ready and dep is not None and not (total == 0 and cooling) and dep["spec"].get("replicas") != want:
            dep["spec"]["replicas"] = want
            cluster.replace(DEPLOYMENTS, dep, check_rv=False)
        ready_msg = "ScaledObject is defined correctly and is ready for scaling" if ready else why
        conditions = [
            {"type": "Ready", "status": "True" if ready else "False",
             "reason": "ScaledObjectReady" if ready else "TriggerError", "message": ready_msg,
             "lastTransitionTime": now_rfc3339()},
            {"type": "Active", "status": "True" if total > 0 else "False",
             "reason": "ScalerActive" if total > 0 else "ScalerNotActive",
             "message": f"{total} message(s) in matching queues", "lastTransitionTime": now_rfc3339()}]
        had = list((so.get("status") or {}).get("conditions") or [{}, {}]) + [{}, {}]
        if had[0].get("message") != ready_msg or had[1].get("status") != conditions[1]["status"]:
            cluster.set_status(SCALED, so, {"scaleTargetKind": "apps/v1.Deployment", "conditions": conditions})
