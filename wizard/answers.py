"""Every choice a person makes, typed and validated in one place.

The TUI, the plain prompts and the answers file of non-interactive runs all build an :class:`Answers`
through :func:`validate`, so a bad value gets the same message wherever it comes from: the key, what is
wrong, and what is allowed.
"""

from __future__ import annotations

import ipaddress
import json
import re
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from .catalog import gpu_size
from .errors import InputError

UNIQ_ID_RE = re.compile(r"^[0-9a-f]{8}$")
REGION_RE = re.compile(r"^[a-z][a-z0-9]{2,30}$")
IMAGE_RE = re.compile(r"^(?:(?P<host>[a-z0-9.-]+\.[a-z]{2,}(?::\d+)?)/)?(?P<repo>[a-z0-9]+(?:[._/-][a-z0-9]+)*)"
                      r":(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$")
SOURCE_USER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+@-]{0,99}$")  # Docker IDs, quay robot accounts (org+name)
INTERFACE_RE = re.compile(r"^[A-Za-z0-9_.:@-]{1,15}$")  # a Linux interface name (IFNAMSIZ - 1)
SUBSCRIPTION_ID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CAD", "AUD", "INR", "CHF", "BRL", "DKK", "KRW", "NOK", "NZD", "SEK",
              "TWD")


@dataclass(frozen=True)
class Answers:
    """What to install and where."""

    subscription: str = ""
    region: str = "eastus"
    uniq_id: str = "auto"
    gpu_sku: str = "Standard_NC4as_T4_v3"
    gpu_nodes: int = 1
    runner_image: str = "docker.io/leafai/studio-go-runner:0.9.21"
    source_registry_user: str = ""  # the image source registry's user (its token is kept in the keyring)
    runner_replicas: int = 1
    admin_user: bool = False
    pull_auth: str = "secret"
    currency: str = "USD"
    interface: str = "eth0"
    client_cidrs: tuple[str, ...] = ()  # who submits experiments: empty keeps the services VNet-only
    gpu_priority: str = "regular"  # "spot": the GPU pool on evictable Spot VMs, at Spot prices
    scale_to_zero: bool = False  # no GPU node while no experiment is queued: the pool autoscaled, the runners by KEDA

    def as_dict(self) -> dict[str, Any]:
        """The answers as plain data (they hold no secrets)."""
        out = asdict(self)
        out["client_cidrs"] = list(self.client_cidrs)
        return out

    def as_toml(self) -> str:
        """The answers as an answers file (``--answers``) that :func:`load_answers` reads back unchanged."""
        def value(v: Any) -> str:
            return ("true" if v else "false") if isinstance(v, bool) else str(v) if isinstance(v, int) else \
                json.dumps(v)  # a JSON string of printable text is a TOML basic string
        return "".join(f"{k} = {value(v)}\n" for k, v in self.as_dict().items())

    @property
    def spot(self) -> bool:
        """Whether the GPU pool runs on Spot VMs."""
        return self.gpu_priority == "spot"

    @property
    def autoscaled(self) -> bool:
        """Whether the GPU pool has the cluster autoscaler (scale to zero; Spot: evicted nodes come back)."""
        return self.spot or self.scale_to_zero

    @property
    def public_services(self) -> bool:
        """Whether experimenters reach the services from outside the VNet (over TLS, from ``client_cidrs``)."""
        return bool(self.client_cidrs)


ALLOWED: dict[str, str] = {
    "subscription": "a subscription id (GUID) or its display name",
    "region": "an Azure region name such as \"eastus\"",
    "uniq_id": "\"auto\" or 8 lowercase hex characters, such as \"1a2b3c4d\"",
    "gpu_sku": "a current GPU VM size such as \"Standard_NC4as_T4_v3\"",
    "gpu_nodes": "a whole number from 1 to 100",
    "runner_image": "an image reference with a tag, such as \"docker.io/leafai/studio-go-runner:0.9.21\"",
    "source_registry_user": "empty (anonymous pulls) or the source registry's user name, such as a Docker ID; its "
                            "access token is asked for and kept in the OS keyring, never in this file",
    "runner_replicas": "a whole number from 0 to the GPUs the pool has (gpu_nodes x GPUs per node)",
    "admin_user": "true or false",
    "pull_auth": "\"secret\" (a Kubernetes pull secret, the seed's way) or \"attach\" (the cluster reads the "
                 "runner repository as itself)",
    "currency": ", ".join(CURRENCIES),
    "interface": "a network interface name such as \"eth0\" (whose multicast memberships a new uniq_id hashes, "
                 "as the seed's `ip maddress show eth0`)",
    "gpu_priority": "\"regular\" (pay-as-you-go VMs) or \"spot\" (Spot VMs: much cheaper, evicted when Azure needs "
                    "the capacity; the runners' pods come back on a new node)",
    "scale_to_zero": "true (no GPU node while no experiment is queued; the first job after idle waits a few minutes "
                     "for a node) or false",
    "client_cidrs": "a list of the IPv4 networks experimenters submit from, such as [\"203.0.113.0/24\"] (at most "
                    f"{20}); empty keeps RabbitMQ and the file server reachable inside the VNet only",
}
MAX_CIDRS = 20


def _bad(key: str, value: Any, why: str = "") -> InputError:
    shown = repr(value) if not isinstance(value, str) else f'"{value}"'
    return InputError(f"{key} = {shown} is not allowed{': ' + why if why else ''}.", f"{key} must be {ALLOWED[key]}")


def _int(key: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(key, value)
    return value


def validate(raw: dict[str, Any]) -> Answers:
    """Check every key and value; the first problem raises :class:`InputError` naming the key."""
    known = {f.name for f in fields(Answers)}
    for key in raw:
        if key not in known:
            raise InputError(f"unknown key {key!r} in the answers.", "allowed keys: " + ", ".join(sorted(known)))
    base = Answers()
    values = {**base.as_dict(), **raw}
    for key in ("subscription", "region", "uniq_id", "gpu_sku", "runner_image", "source_registry_user", "pull_auth",
                "currency", "interface"):
        if not isinstance(values[key], str):
            raise _bad(key, values[key], "it must be a string")
    sub = values["subscription"].strip()
    if sub and len(sub) > 128:
        raise _bad("subscription", sub, "too long")
    if not REGION_RE.match(values["region"]):
        arm = re.sub(r"\s+", "", str(values["region"])).lower()
        if REGION_RE.match(arm):  # "East US" is how the portal shows eastus
            raise InputError(f"region = \"{values['region']}\" is a display name.",
                             f"use its ARM name: region = \"{arm}\" (`studioml-azure regions` lists them)")
        raise _bad("region", values["region"], "lowercase letters and digits, no spaces")
    if values["uniq_id"] != "auto" and not UNIQ_ID_RE.match(values["uniq_id"]):
        raise _bad("uniq_id", values["uniq_id"])
    size = gpu_size(values["gpu_sku"])
    if size.fractional:
        raise InputError(f"gpu_sku = \"{size.name}\" has a fraction of an A10 ({size.gpu}), unfit for CUDA training.",
                         "use Standard_NV36ads_A10_v5 (a whole A10) or a T4/A100 size")
    nodes = _int("gpu_nodes", values["gpu_nodes"], 1, 100)
    if not IMAGE_RE.match(values["runner_image"]):
        raise _bad("runner_image", values["runner_image"])
    user = values["source_registry_user"].strip()
    if user and not SOURCE_USER_RE.match(user):
        raise _bad("source_registry_user", user)
    replicas = _int("runner_replicas", values["runner_replicas"], 0, 10_000)
    if replicas > nodes * size.gpus:
        raise _bad("runner_replicas", replicas, f"{nodes} x {size.name} has {nodes * size.gpus} GPU(s) and each "
                   "runner takes one")
    if not isinstance(values["admin_user"], bool):
        raise _bad("admin_user", values["admin_user"])
    if values["pull_auth"] not in ("secret", "attach"):
        raise _bad("pull_auth", values["pull_auth"])
    if values["currency"].upper() not in CURRENCIES:
        raise _bad("currency", values["currency"])
    if not INTERFACE_RE.match(values["interface"]):
        raise _bad("interface", values["interface"])
    cidrs = _cidrs(values["client_cidrs"])
    if values["gpu_priority"] not in ("regular", "spot"):
        raise _bad("gpu_priority", values["gpu_priority"])
    if not isinstance(values["scale_to_zero"], bool):
        raise _bad("scale_to_zero", values["scale_to_zero"])
    return Answers(subscription=sub, region=values["region"], uniq_id=values["uniq_id"], gpu_sku=size.name,
                   gpu_nodes=nodes, runner_image=values["runner_image"], source_registry_user=user,
                   runner_replicas=replicas,
                   admin_user=values["admin_user"], pull_auth=values["pull_auth"],
                   currency=values["currency"].upper(), interface=values["interface"],
                   client_cidrs=cidrs, gpu_priority=values["gpu_priority"],
                   scale_to_zero=values["scale_to_zero"])


def _cidrs(value: Any) -> tuple[str, ...]:
    """``client_cidrs``: IPv4 networks in canonical form (a bare address is its /32), sorted, no repeats."""
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise _bad("client_cidrs", value, "it must be a list")
    if len(value) > MAX_CIDRS:
        raise _bad("client_cidrs", value, f"{len(value)} networks")
    out = set()
    for item in value:
        if not isinstance(item, str):
            raise _bad("client_cidrs", item, "each entry must be a string")
        try:
            net = ipaddress.IPv4Network(item.strip(), strict=True)
        except ipaddress.NetmaskValueError:
            raise _bad("client_cidrs", item, "not a network mask") from None
        except ValueError as err:
            if "host bits" not in str(err):
                raise _bad("client_cidrs", item, "not an IPv4 address or network") from None
            fixed = ipaddress.IPv4Network(item.strip(), strict=False)
            raise _bad("client_cidrs", item, f"host bits set; the network holding it is {fixed}") from None
        out.add(str(net))
    return tuple(sorted(out, key=lambda n: ipaddress.IPv4Network(n)))


def load_answers(path: Path | None) -> Answers:
    """Read and validate an answers file (TOML); ``None`` gives the defaults."""
    if path is None:
        return Answers()
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read the answers file {path}: {err.strerror}.", "check the path") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise InputError(f"{path} is not UTF-8 text: byte {err.start} (line {line}) is 0x{data[err.start]:02x}.",
                         "save the answers file as UTF-8 (TOML files are UTF-8)") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"{path} is not valid TOML: {err}.", "fix the line it names") from None
    return validate(raw)


def image_parts(image: str) -> tuple[str, str, str]:
    """``(registry host, repository, tag)``; Docker Hub names get ``docker.io`` and ``library/``."""
    m = IMAGE_RE.match(image)
    if m is None:
        raise _bad("runner_image", image)
    host, repo = m.group("host") or "docker.io", m.group("repo")
    if host == "docker.io" and "/" not in repo:
        repo = f"library/{repo}"
    return host, repo, m.group("tag")
