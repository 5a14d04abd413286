"""uniq_id and every resource name, keeping the seed's conventions.

The seed computes ``md5sum <(echo $subscription_id $(ip maddress show eth0)) | cut -c1-8``: the unquoted
``$(...)`` splits the command's output into words that ``echo`` joins with single spaces and ends with a
newline. Without ``eth0`` the command prints nothing on stdout, so the seed hashes the subscription id alone.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

TAG = "studioml-uniq-id"
NAMESPACE = "gpu-resources"
PULL_SECRET = "studioml-go-docker-key"


@dataclass(frozen=True)
class Derivation:
    """A derived uniq_id and how it was derived (shown to the person)."""

    uniq_id: str
    interface: str | None
    note: str


def multicast_words(interface: str = "eth0") -> list[str] | None:
    """The words of ``ip maddress show <interface>``, or ``None`` when there is no such interface or no ``ip``."""
    ip = shutil.which("ip")
    if ip is None:
        return None
    try:
        proc = subprocess.run([ip, "maddress", "show", interface], capture_output=True, text=True, timeout=10,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0 or not proc.stdout.strip():
        return None
    return proc.stdout.split()


def uniq_id_from(subscription_id: str, words: list[str] | None) -> str:
    """The seed's hash: md5 of the echoed line, first 8 hex characters."""
    line = " ".join([subscription_id, *(words or [])]) + "\n"
    return hashlib.md5(line.encode(), usedforsecurity=False).hexdigest()[:8]


def network_interfaces() -> list[str]:
    """This host's network interfaces, sorted (what ``interface`` may name)."""
    try:
        return sorted(p.name for p in Path("/sys/class/net").iterdir())
    except OSError:
        return []


def derive_uniq_id(subscription_id: str, interface: str = "eth0") -> Derivation:
    """Derive the uniq_id as the seed does on this host (its ``ip`` command is needed: without it the seed's line
    would hash an error away and give another id than on a host that has it)."""
    if shutil.which("ip") is None:
        raise InputError("the ip command (iproute2) is missing here, so the install id cannot be derived as the "
                         "seed derives it.", "install it (apt-get install iproute2), or give the id in the answers: "
                         "uniq_id = \"<8 hex characters>\"")
    words = multicast_words(interface)
    if words is None:
        return Derivation(uniq_id_from(subscription_id, None), None,
                          f"no multicast list for {interface} here: derived from the subscription id alone, as the "
                          "seed's command does then")
    return Derivation(uniq_id_from(subscription_id, words), interface,
                      f"derived from the subscription id and the multicast memberships of {interface}")


@dataclass(frozen=True)
class Names:
    """Every name the wizard gives, for one uniq_id and home region."""

    uniq_id: str
    home_region: str

    @property
    def registry_rg(self) -> str:
        """The registry's resource group."""
        return f"studioml-{self.uniq_id}"

    @property
    def registry(self) -> str:
        """The ACR name (global)."""
        return f"leafai{self.uniq_id}"

    @property
    def sp(self) -> str:
        """The service principal's display name (no ``http://`` prefix: that naming is deprecated)."""
        return f"registry-acr-principal-{self.uniq_id}"

    def cluster_rg(self, region: str) -> str:
        """The cluster resource group of a region (the first region keeps the seed's name)."""
        return f"leafai-{self.uniq_id}" if region == self.home_region else f"leafai-{self.uniq_id}-{region}"

    @property
    def cluster(self) -> str:
        """The AKS cluster name."""
        return f"leafai-cluster-{self.uniq_id}"

    @property
    def vnet(self) -> str:
        """The home VNet (in the registry resource group)."""
        return f"studioml-vnet-{self.uniq_id}"

    def region_vnet(self, region: str) -> str:
        """The VNet of a region after the first (in its cluster resource group, peered with the home VNet)."""
        return f"studioml-vnet-{self.uniq_id}-{region}"

    @property
    def nsg(self) -> str:
        """The services subnet's NSG."""
        return f"studioml-services-nsg-{self.uniq_id}"

    def vm(self, role: str) -> str:
        """A service VM's name (``rabbitmq``, ``files``; ``minio`` was the file server of earlier versions)."""
        return f"studioml-{role}-{self.uniq_id}"

    @property
    def nat(self) -> str:
        """The services subnet's NAT gateway."""
        return f"studioml-nat-{self.uniq_id}"

    @property
    def nat_ip(self) -> str:
        """The NAT gateway's public IP."""
        return f"studioml-nat-ip-{self.uniq_id}"

    def service_ip(self, role: str) -> str:
        """A service VM's public IP (only when experimenters connect from outside the VNet)."""
        return f"studioml-{role}-ip-{self.uniq_id}"

    def dns_label(self, role: str) -> str:
        """The DNS label of a service's public IP: ``<label>.<region>.cloudapp.azure.com`` in Azure's public cloud
        (unique per region; the install id makes it ours)."""
        return f"studioml-{role}-{self.uniq_id}"


def install_tags(uniq_id: str) -> dict[str, str]:
    """The tags on everything the wizard makes."""
    return {TAG: uniq_id, "managed-by": "studioml-azure"}
