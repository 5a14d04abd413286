"""What some containers do once the sandbox kubelet has started them.

The install's check tool run as ``check.py probe --amqp HOST:PORT --s3 URL --tcp HOST:PORT`` connects from its pod
to those endpoints. Its pod's traffic leaves from its node's address (Azure CNI overlay SNATs pod traffic to the
node), in the node's subnet; whether each connection is delivered is decided as Azure decides it (VNets, peerings,
the destination's NSG rules in priority order, defaults included: :mod:`..guest.network`), then what the VM's
services answer (what listens there, the broker's users, the S3 gateway's identities). The container exits with the
tool's words and exit code, also written as its termination message.
"""

from __future__ import annotations

import base64
import ipaddress
from typing import Any

from .. import guest
from ..guest import network, services
from .kinds import BY_PLURAL
from .objects import Cluster

SECRETS, NODES = BY_PLURAL[("", "v1", "secrets")], BY_PLURAL[("", "v1", "nodes")]
CONNECT_TIMEOUT = 10.0  # the tool's own socket timeout


def probe_args(container: dict[str, Any]) -> list[str] | None:
    """The arguments after ``probe`` when the container runs the check tool's probe, else None."""
    argv = [str(a) for a in (container.get("command") or []) + (container.get("args") or [])]
    if not any(a.endswith("check.py") for a in argv) or "probe" not in argv:
        return None
    return argv[argv.index("probe") + 1:]


def _env(cluster: Cluster, namespace: str, container: dict[str, Any]) -> dict[str, str]:
    out = {}
    for item in container.get("env") or []:
        ref = (item.get("valueFrom") or {}).get("secretKeyRef")
        if ref:
            secret = cluster.get(SECRETS, namespace, ref["name"]) or {}
            raw = (secret.get("data") or {}).get(ref["key"])
            out[item["name"]] = base64.b64decode(raw).decode() if raw else ""
        else:
            out[item["name"]] = str(item.get("value", ""))
    return out


def _source(cluster: Cluster, pod: dict[str, Any], rec: dict[str, Any]) -> tuple[str, str]:
    """(subnet id, address) that the pod's connections leave from: its node's."""
    node = cluster.get(NODES, None, pod["spec"].get("nodeName", "")) or {}
    address = next((a["address"] for a in node.get("status", {}).get("addresses", []) if a["type"] == "InternalIP"),
                   "")
    pool_name = node.get("metadata", {}).get("labels", {}).get("agentpool")
    pool: dict[str, Any] = next((p for p in rec["body"]["properties"]["agentPoolProfiles"]
                                 if p["name"] == pool_name), {})
    return str(pool.get("vnetSubnetID") or ""), address


def _connect(cluster: Cluster, subnet: str, src: str, host: str, port: int) -> tuple[Any, str]:
    """(the guest Machine serving host:port, '') when a TCP connection is established, else (None, why)."""
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return None, f"connection refused ({host}:{port}): Name or service not known"
    fate, vm = network.tcp_path(cluster.sbx, subnet, src, host, port) if subnet else ("timeout", None)
    if fate != "open" or vm is None:
        return None, f"connection timed out ({host}:{port})"
    m = guest.machine(cluster.sbx, vm["id"])
    bind = services.listening(m).get(port) if m is not None else None
    if m is None or bind not in ("0.0.0.0", host):
        return None, f"connection refused ({host}:{port}): Connection refused"
    return m, ""


def run_probe(cluster: Cluster, pod: dict[str, Any], rec: dict[str, Any], container: dict[str, Any],
              args: list[str]) -> tuple[int, str, float]:
    """(exit code, output, real seconds it took) of ``check.py probe ARGS`` in this pod."""
    env = _env(cluster, pod["metadata"]["namespace"], container)
    subnet, src = _source(cluster, pod, rec)
    lines, ok, seconds = [], True, 1.0
    for flag, target in zip(args[0::2], args[1::2], strict=False):
        what = flag.removeprefix("--")
        hostport = target.split("://", 1)[-1].rstrip("/")
        host, _, port = hostport.rpartition(":")
        m, problem = _connect(cluster, subnet, src, host, int(port or 80))
        if m is None:
            seconds += CONNECT_TIMEOUT if "timed out" in problem else 0.1
            lines.append(f"{what} {target}: failed: {problem}")
            ok = False
            continue
        if what == "amqp":
            problem = services.amqp_login(m, env.get("AMQP_USER", ""), env.get("AMQP_PASSWORD", ""), "/", False)
            detail = f"{env.get('AMQP_USER', '')}@{host}:{port}, vhost /"
        elif what == "s3":
            ident, problem = services.s3_identity(m, env.get("S3_ACCESS_KEY", ""), env.get("S3_SECRET_KEY", ""))
            if ident is not None and not any(a == "Admin" or a.split(":")[0] in ("List", "Read")
                                             for a in ident.get("actions") or []):
                problem = "AccessDenied"
            detail = f"{len(m.buckets)} buckets: {', '.join(sorted(m.buckets)) or 'none'}"
        elif what == "tcp":
            problem, detail = "", "open"
        else:
            problem, detail = "unknown check", ""
        ok = ok and not problem
        lines.append(f"{what} {target}: failed: {problem}" if problem else f"{what} {target}: ok ({detail})")
    return (0 if ok and lines else 1), "\n".join(lines) + "\n", seconds
