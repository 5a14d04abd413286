"""Secrets in the OS keyring, and nowhere else.

Every generated or once-returned secret is written to the keyring, read back and compared, and only then
used. Entries live under the service ``studioml-azure`` with the user name ``<tenant>/<uniq_id>/<key>``,
so installs on different tenants (and sandboxes) never collide. Values are never logged or returned by
anything that prints.
"""

from __future__ import annotations

import secrets as _random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import keyring
import keyring.errors

from .errors import SecretStoreError

T = TypeVar("T")
try:  # the Secret Service backend's "that item path is gone": the service renumbered its items under us
    from secretstorage.exceptions import ItemNotFoundException as _Vanished
except ImportError:  # pragma: no cover - no secretstorage on this platform
    class _Vanished(Exception):  # type: ignore[no-redef]
        """Never raised where secretstorage is absent."""
try:  # the Secret Service went away mid-call (a daemon restarted by D-Bus activation answers the next call)
    from jeepney.wrappers import DBusErrorResponse as _Dropped  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover
    class _Dropped(Exception):  # type: ignore[no-redef]
        """Never raised where jeepney is absent."""
try:  # secretstorage's words for a bus peer that went away without answering ("Message recipient disconnected")
    from secretstorage.exceptions import SecretServiceNotAvailableException as _Gone
except ImportError:  # pragma: no cover
    class _Gone(Exception):  # type: ignore[no-redef]
        """Never raised where secretstorage is absent."""
_LOST_SERVICE = ("noreply", "nosession", "serviceunknown", "disconnected")
ATTEMPTS = 9  # about 12 s in all: what a restarted daemon takes to answer (D-Bus activation, keyring unlock)

SERVICE = "studioml-azure"
_LOCK = threading.RLock()  # steps run on threads: one keyring call at a time, and no secret generated twice

SP_PASSWORD = "sp-password"
RABBITMQ_ADMIN = "rabbitmq-admin-password"
RABBITMQ_USER = "rabbitmq-runner-password"
S3_ADMIN_KEY = "s3-admin-access-key"
S3_ADMIN_SECRET = "s3-admin-secret-key"
S3_RUNNER_KEY = "s3-runner-access-key"
S3_RUNNER_SECRET = "s3-runner-secret-key"
RUNNER_PRIVATE_KEY = "runner-private-key"
RUNNER_PUBLIC_KEY = "runner-public-key"
RUNNER_PASSPHRASE = "runner-passphrase"
SSH_PRIVATE_KEY = "admin-ssh-private-key"
SOURCE_TOKEN = "source-registry-token"
RABBITMQ_EXPERIMENTER = "rabbitmq-experimenter-password"
RABBITMQ_KEDA = "rabbitmq-keda-password"
S3_EXPERIMENTER_KEY = "s3-experimenter-access-key"
S3_EXPERIMENTER_SECRET = "s3-experimenter-secret-key"
TLS_CA_KEY = "tls-ca-key"
TLS_CA_CERT = "tls-ca-certificate"


def tls_key(role: str) -> str:
    """The keyring key of a service's TLS private key."""
    return f"tls-{role}-key"


def tls_cert(role: str) -> str:
    """The keyring key of a service's TLS certificate (not secret; kept beside its key)."""
    return f"tls-{role}-certificate"


# Every secret an install keeps, and what it is for (the order the secrets screen and status show them).
PURPOSES: dict[str, str] = {
    SP_PASSWORD: "password of the registry's service principal (image pulls)",
    RABBITMQ_ADMIN: "RabbitMQ administrator (user admin)",
    RABBITMQ_USER: "RabbitMQ user of the runners (AMQP_URL)",
    S3_ADMIN_KEY: "file server (S3) administrator's access key",
    S3_ADMIN_SECRET: "file server (S3) administrator's secret key",
    S3_RUNNER_KEY: "file server (S3) access key of the runners (their buckets only)",
    S3_RUNNER_SECRET: "file server (S3) secret key of the runners",
    RUNNER_PRIVATE_KEY: "runners' message-decryption key (RSA 4096, encrypted with the passphrase)",
    RUNNER_PUBLIC_KEY: "runners' public key (for the people who send experiments)",
    RUNNER_PASSPHRASE: "passphrase of the runners' private key",
    SSH_PRIVATE_KEY: "SSH key of the service VMs (made only when this host had none)",
    SOURCE_TOKEN: "access token of source_registry_user at the image's source registry (given by you, not made)",
    RABBITMQ_EXPERIMENTER: "RabbitMQ user of the experimenters (user experimenter; rmq_ queues only)",
    RABBITMQ_KEDA: "RabbitMQ monitoring user of KEDA (user keda; reads queue lengths, scale_to_zero only)",
    S3_EXPERIMENTER_KEY: "file server (S3) access key of the experimenters (the experiment buckets only)",
    S3_EXPERIMENTER_SECRET: "file server (S3) secret key of the experimenters",
    TLS_CA_KEY: "private key of the install's CA (signs the services' TLS certificates)",
    TLS_CA_CERT: "the install's CA certificate (not secret: experimenters trust it)",
    tls_key("rabbitmq"): "RabbitMQ's TLS private key (AMQPS)",
    tls_cert("rabbitmq"): "RabbitMQ's TLS certificate (not secret)",
    tls_key("files"): "the file server's TLS private key (S3 over HTTPS)",
    tls_cert("files"): "the file server's TLS certificate (not secret)",
}
# Secrets of earlier versions: the MinIO VM's root user and password (MinIO is archived; its VM is replaced by the
# file server, and these go with it).
LEGACY = ("minio-root-user", "minio-root-password")
HINT = ("start a Secret Service (gnome-keyring or KeePassXC) and unlock it; on a headless host: "
        "dbus-run-session -- sh -c 'gnome-keyring-daemon --unlock --components=secrets; studioml-azure ...'")


def _lost(err: BaseException) -> bool:
    """Whether the Secret Service dropped the call (it exited or restarted), rather than refusing it."""
    text = f"{type(err).__name__} {err} {err.__cause__!r}".lower()
    return isinstance(err, _Gone) or any(word in text for word in _LOST_SERVICE)


def keyring_call(fn: Callable[[], T]) -> T:
    """One keyring call, serialised. gnome-keyring, while other clients create and delete items, can answer a
    search with an item path it then says does not exist, and a daemon that exited mid-call leaves it unanswered
    (D-Bus activation starts it again for the next call): such a call is made again, after a growing pause, until the
    service answers or about 12 s have passed; then it is the keyring's error (exit 2), never an unexpected one."""
    for attempt in range(ATTEMPTS):
        try:
            with _LOCK:
                return fn()
        except _Vanished:
            if attempt == ATTEMPTS - 1:
                raise keyring.errors.KeyringError("the Secret Service kept losing the item") from None
        except (_Dropped, _Gone, keyring.errors.InitError, keyring.errors.KeyringError) as err:
            if not _lost(err):
                raise
            if attempt == ATTEMPTS - 1:
                raise keyring.errors.KeyringError(f"the Secret Service went away ({type(err).__name__})") from None
        time.sleep(min(3.0, 0.1 * 2 ** attempt))
    raise AssertionError("unreachable")


def random_password(length: int = 32) -> str:
    """A URL-safe random password (safe inside amqp:// URLs and shell-free configs)."""
    return _random.token_urlsafe(length)[:length]


def access_key() -> str:
    """An S3 access key id: 20 upper-case letters and digits, as S3 tools expect them."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    return "".join(_random.choice(alphabet) for _ in range(20))


@dataclass(frozen=True)
class SecretRef:
    """The keyring address of a secret (safe to print)."""

    service: str
    username: str

    def __str__(self) -> str:
        return f"keyring:{self.service}/{self.username}"


class SecretStore:
    """The keyring entries of one install."""

    def __init__(self, tenant_id: str, uniq_id: str) -> None:
        self.prefix = f"{tenant_id}/{uniq_id}"
        self._known: dict[str, str] = {}  # values this store read or wrote and read back: one run's steps ask often

    def ref(self, key: str) -> SecretRef:
        """Where ``key`` is kept."""
        return SecretRef(SERVICE, f"{self.prefix}/{key}")

    def get(self, key: str, *, fresh: bool = False) -> str | None:
        """The secret, or ``None`` when it was never stored (a value this store already read or wrote is not asked
        for again unless ``fresh``: the Secret Service is slow, and steps on several threads ask for the same)."""
        if not fresh and key in self._known:
            return self._known[key]
        try:
            value = keyring_call(lambda: keyring.get_password(SERVICE, self.ref(key).username))
        except keyring.errors.KeyringError as err:
            raise SecretStoreError(f"the OS keyring cannot be read ({type(err).__name__}).", HINT) from None
        if value is not None:
            self._known[key] = value
        return value

    def put(self, key: str, value: str) -> str:
        """Store, read back and compare; returns the value as read back (the one to use)."""
        try:
            keyring_call(lambda: keyring.set_password(SERVICE, self.ref(key).username, value))
        except keyring.errors.KeyringError as err:
            raise SecretStoreError(f"the OS keyring refused to store {self.ref(key)} ({type(err).__name__}).",
                                   HINT) from None
        self._known.pop(key, None)
        back = self.get(key, fresh=True)
        if back != value:
            raise SecretStoreError(f"the OS keyring did not return {self.ref(key)} as stored.", HINT)
        return back

    def ensure(self, key: str, make: Callable[[], str]) -> str:
        """The stored secret, or a new one from ``make`` stored (and read back) first."""
        with _LOCK:
            value = self.get(key)
            return value if value is not None else self.put(key, make())

    def delete(self, key: str) -> None:
        """Forget a secret (missing is fine)."""
        self._known.pop(key, None)
        try:
            keyring_call(lambda: keyring.delete_password(SERVICE, self.ref(key).username))
        except keyring.errors.PasswordDeleteError:
            pass
        except keyring.errors.KeyringError as err:
            raise SecretStoreError(f"the OS keyring cannot delete {self.ref(key)} ({type(err).__name__}).",
                                   HINT) from None

    def check_usable(self) -> None:
        """Fail early, before anything is made, when no real keyring backend is available."""
        backend = keyring.get_keyring()
        name = type(backend).__module__ + "." + type(backend).__name__
        if "fail" in name.lower() or "null" in name.lower() or "chainer" in name.lower() and not getattr(
                backend, "backends", None):
            raise SecretStoreError(f"no usable OS keyring (backend {name}).", HINT)
        probe = "probe"
        self.put(probe, random_password(12))
        self.delete(probe)
