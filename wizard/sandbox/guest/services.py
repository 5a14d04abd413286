"""The services a sandbox VM can run, as their real counterparts behave when started: RabbitMQ (Ubuntu 24.04's
rabbitmq-server 3.12) and SeaweedFS's ``weed server`` with its S3 gateway, plus ssh.

RabbitMQ reads ``/etc/rabbitmq/rabbitmq.conf`` as the rabbitmq user (a file it cannot read, or a key it does not
know, stops it), loads ``load_definitions`` (users with salted password hashes, vhosts, permissions: "Definitions"
in the RabbitMQ docs) on top of what its database holds, and listens on ``listeners.tcp.*`` (5672 on every address
by default). The package starts it at once with the default ``guest`` user, which may log in from localhost only.

``weed server`` refuses flags it does not define (Go's flag package), runs as the unit's ``User=``, needs its
``-dir`` writable, reads ``-s3.config`` (``identities`` with credentials and actions) and serves S3 on ``-s3.port``
(8333) at ``-s3.ip.bind`` (else ``-ip.bind``, else ``-ip``, else the host's address); with ``-s3.key.file`` and
``-s3.port.https`` also HTTPS there (its pemfile provider reads the key and certificate as the unit's user).

TLS listeners (RabbitMQ's ``listeners.ssl.*`` with ``ssl_options.certfile/keyfile/cacertfile``, weed's HTTPS port)
fail their service's start when a file is missing or unreadable by the service's user, or when the key is not the
certificate's; a port below 1024 is bound only by root or with ``AmbientCapabilities=CAP_NET_BIND_SERVICE``
("bind: permission denied", as Linux refuses it).
"""

from __future__ import annotations

import base64
import hashlib
import json
import shlex
from typing import Any

from .machine import SSH_PORT, Machine

RABBIT_CONF = "/etc/rabbitmq/rabbitmq.conf"
RABBIT_PLUGINS = "/etc/rabbitmq/enabled_plugins"  # rabbitmq-plugins' file: an Erlang list, [rabbitmq_management].
RABBIT_KEYS = ("listeners.", "ssl_options.", "load_definitions", "definitions.", "loopback_users", "log.",
               "default_user", "default_pass", "default_vhost", "management.", "vm_memory_high_watermark",
               "disk_free_limit", "consumer_timeout", "heartbeat", "auth_mechanisms.", "channel_max",
               "max_message_size")
WEED_FLAGS = ("ip", "ip.bind", "dir", "volume.max", "master.dir", "master.volumeSizeLimitMB", "s3", "s3.port",
              "s3.ip.bind", "s3.config", "s3.port.iceberg", "s3.port.lance", "s3.port.grpc", "filer", "metricsIp",
              "metricsPort", "volume.port", "master.port", "filer.port", "volume.index", "master.defaultReplication",
              "s3.domainName", "s3.allowEmptyFolder", "idleTimeout", "dataCenter", "rack", "whiteList",
              "s3.port.https", "s3.cert.file", "s3.key.file", "s3.cacert.file", "s3.tlsVerifyClientCert")
GUEST_HASH = "rabbit_password_hashing_sha256"


def password_hash(password: str, salt: bytes) -> str:
    """RabbitMQ's ``rabbit_password_hashing_sha256``: base64(salt + sha256(salt + password))."""
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def password_matches(user: dict[str, Any], password: str) -> bool:
    """Whether ``password`` is the one the user's hash was made from (sha256 and sha512 schemes)."""
    try:
        raw = base64.b64decode(user.get("password_hash", ""), validate=True)
    except ValueError:
        return False
    algo = {"rabbit_password_hashing_sha256": hashlib.sha256,
            "rabbit_password_hashing_sha512": hashlib.sha512}.get(user.get("hashing_algorithm", GUEST_HASH))
    if algo is None or len(raw) < 5:
        return False
    return raw[4:] == algo(raw[:4] + password.encode()).digest()


def installed_broker() -> dict[str, Any]:
    """What the package's first start leaves: vhost ``/`` and ``guest`` (password ``guest``, localhost only)."""
    return {"users": {"guest": {"password_hash": password_hash("guest", b"\x01\x02\x03\x04"),
                                "hashing_algorithm": GUEST_HASH, "tags": ["administrator"]}},
            "vhosts": ["/"], "permissions": {"guest|/": [".*", ".*", ".*"]}, "port": 5672, "bind": "0.0.0.0",
            "loopback_users": ["guest"]}


def _conf(text: str) -> tuple[dict[str, str], str]:
    out = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key.startswith(RABBIT_KEYS):
            return {}, f"rabbitmq.conf line {n}: unknown or malformed setting '{line}'"
        out[key] = value.strip()
    return out, ""


def import_definitions(broker: dict[str, Any], text: str) -> str:
    """Merge a definitions document into the broker (as ``import_definitions`` does); '' or what is wrong."""
    try:
        doc = json.loads(text)
    except ValueError as err:
        return f"definitions are not valid JSON: {err}"
    if not isinstance(doc, dict):
        return "definitions must be a JSON object"
    for vhost in doc.get("vhosts") or []:
        if vhost.get("name") not in broker["vhosts"]:
            broker["vhosts"].append(vhost.get("name"))
    for user in doc.get("users") or []:
        if not user.get("name") or not user.get("password_hash"):
            return f"user {user.get('name')!r} has no name or password_hash"
        tags = user.get("tags") or []
        broker["users"][user["name"]] = {"password_hash": user["password_hash"], "hashing_algorithm": user.get(
            "hashing_algorithm", GUEST_HASH), "tags": tags.split(",") if isinstance(tags, str) else list(tags)}
    for perm in doc.get("permissions") or []:
        if perm.get("user") not in broker["users"]:
            return f"no_such_user: {perm.get('user')}"
        if perm.get("vhost") not in broker["vhosts"]:
            return f"no_such_vhost: {perm.get('vhost')}"
        broker["permissions"][f"{perm['user']}|{perm['vhost']}"] = [perm.get("configure", ""), perm.get("write", ""),
                                                                     perm.get("read", "")]
    return ""


def tls_problem(m: Machine, user: str, cert: str, key: str, ca: str | None = None) -> str:
    """'' when ``user`` can read a matching key and certificate (and the CA file, if named)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    for path in (cert, key, *([ca] if ca else [])):
        if m.read(path) is None:
            return f"{path}: no such file"
        if not m.can_read(user, path):
            return f"{path}: permission denied for the {user} user"
    try:
        certificate = x509.load_pem_x509_certificate((m.read(cert) or "").encode())
        private = serialization.load_pem_private_key((m.read(key) or "").encode(), None)
    except ValueError as err:
        return f"TLS key or certificate unreadable: {err}"
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if certificate.public_key().public_bytes(serialization.Encoding.DER, spki) != \
            private.public_key().public_bytes(serialization.Encoding.DER, spki):
        return f"{key} is not the key of {cert} (key values mismatch)"
    return ""


def _may_bind(m: Machine, user: str, port: int, unit: str = "") -> str:
    if port >= 1024 or user == "root":
        return ""
    text = m.read(f"/etc/systemd/system/{unit}.service") or "" if unit else ""
    caps = " ".join(ln.split("=", 1)[1] for ln in text.splitlines() if ln.startswith("AmbientCapabilities="))
    return "" if "CAP_NET_BIND_SERVICE" in caps else f"listen tcp :{port}: bind: permission denied"


def start_rabbitmq(m: Machine) -> str:
    """Start or restart rabbitmq-server on ``m``: '' or why it failed (the broker state is recorded)."""
    if "rabbitmq-server" not in m.packages:
        return "Unit rabbitmq-server.service not found."
    broker = json.loads(json.dumps(m.broker or installed_broker()))
    if m.read(RABBIT_CONF) is not None:
        if not m.can_read("rabbitmq", RABBIT_CONF):
            return f"{RABBIT_CONF}: permission denied (it must be readable by the rabbitmq user)"
        conf, problem = _conf(m.read(RABBIT_CONF) or "")
        if problem:
            return problem
        plugins = m.read(RABBIT_PLUGINS) or "[]."
        management = "rabbitmq_management" in plugins
        if any(k.startswith("management.") for k in conf) and not management:  # the plugin brings that schema
            key = next(k for k in conf if k.startswith("management."))
            return f"Error: failed to parse {RABBIT_CONF}: unknown setting '{key}' (enable rabbitmq_management)"
        broker.pop("mgmt_port", None)
        if management:
            broker["mgmt_port"] = int(conf.get("management.tcp.port", "15672"))
        for key, value in conf.items():
            if key.startswith("listeners.tcp."):
                host, _, port = value.rpartition(":")
                broker["port"], broker["bind"] = int(port or value), host or "0.0.0.0"
            if key.startswith("listeners.ssl."):
                broker["tls_port"] = int(value.rpartition(":")[2] or value)
        if "tls_port" in broker:
            files = {k.removeprefix("ssl_options."): v for k, v in conf.items() if k.startswith("ssl_options.")}
            if not files.get("certfile") or not files.get("keyfile"):
                return "TLS listener without ssl_options.certfile and ssl_options.keyfile"
            problem = tls_problem(m, "rabbitmq", files["certfile"], files["keyfile"], files.get("cacertfile"))
            if problem:
                return f"failed to start the TLS listener on {broker['tls_port']}: {problem}"
            broker["tls_cert"] = files["certfile"]
        path = conf.get("load_definitions") or conf.get("definitions.local.path")
        if path:
            if m.read(path) is None:
                return f"definitions file {path} does not exist"
            if not m.can_read("rabbitmq", path):
                return f"definitions file {path}: permission denied (eacces) for the rabbitmq user"
            problem = import_definitions(broker, m.read(path) or "")
            if problem:
                return f"failed to import definitions from {path}: {problem}"
    m.record("broker", "state", broker)
    return ""


def _weed_args(m: Machine, unit: str) -> tuple[dict[str, str], str, str]:
    """(flags, user, problem) of a ``weed server`` unit's ExecStart."""
    text = m.read(f"/etc/systemd/system/{unit}.service") or ""
    exec_line = next((ln.split("=", 1)[1] for ln in text.splitlines() if ln.startswith("ExecStart=")), "")
    user = next((ln.split("=", 1)[1].strip() for ln in text.splitlines() if ln.startswith("User=")), "root")
    argv = shlex.split(exec_line)
    if not argv:
        return {}, user, f"{unit}.service has no ExecStart"
    binary = m.read_bytes(argv[0])
    entry = m.files.get(argv[0], {})
    if binary is None or not int(str(entry.get("mode", "0")), 8) & 0o111:
        return {}, user, f"{argv[0]}: no such executable (status=203/EXEC)"
    if b"weed" not in binary:
        return {}, user, f"{argv[0]} is not the weed binary"
    if len(argv) < 2 or argv[1] != "server":
        return {}, user, "weed: the unit must run 'weed server'"
    flags = {}
    for a in argv[2:]:
        name, _, value = a.lstrip("-").partition("=")
        if name not in WEED_FLAGS:
            return {}, user, f"flag provided but not defined: -{name}"
        flags[name] = value or "true"
    return flags, user, ""


def start_weed(m: Machine, unit: str) -> str:
    """Start a ``weed server`` unit: '' or why it failed."""
    flags, user, problem = _weed_args(m, unit)
    if problem:
        return problem
    if user not in m.users:
        return f"Failed to determine user credentials: No such process (user {user}; status=217/USER)"
    folder = flags.get("dir", "/tmp")
    entry = m.files.get(folder.rstrip("/"), {})
    if not m.is_dir(folder) or (user != "root" and entry.get("owner") != user):
        return f"weed: {folder} is not a folder the {user} user can write (check its owner)"
    config: dict[str, Any] = {"identities": []}
    if flags.get("s3.config"):
        path = flags["s3.config"]
        if not m.can_read(user, path):
            return f"s3: cannot read {path} as {user}"
        try:
            config = json.loads(m.read(path) or "")
        except ValueError as err:
            return f"s3: {path} is not valid JSON: {err}"
    bind = flags.get("s3.ip.bind") or flags.get("ip.bind") or flags.get("ip") or "0.0.0.0"
    https = int(flags.get("s3.port.https", "0") or 0)
    if flags.get("s3.key.file"):
        problem = tls_problem(m, user, flags.get("s3.cert.file", ""), flags["s3.key.file"])
        if problem:
            return f"s3: pemfile.NewProvider failed: {problem}"
        problem = _may_bind(m, user, https or int(flags.get("s3.port", "8333")), unit)
        if problem:
            return f"S3 API Server listener error: {problem}"
    m.record("svcconf", unit, {"s3_port": int(flags.get("s3.port", "8333")), "bind": bind,
                               "identities": config.get("identities") or [], "s3": "s3" in flags,
                               "https_port": https if flags.get("s3.key.file") else 0,
                               "tls_cert": flags.get("s3.cert.file", "")})
    return ""


def listening(m: Machine) -> dict[int, str]:
    """Ports the guest serves from outside, by port: the address each is bound to."""
    ports = {SSH_PORT: "0.0.0.0"}
    if m.services.get("rabbitmq-server") == "active" and m.broker:
        ports[int(m.broker.get("port", 5672))] = str(m.broker.get("bind", "0.0.0.0"))
        if m.broker.get("tls_port"):
            ports[int(m.broker["tls_port"])] = "0.0.0.0"
        if m.broker.get("mgmt_port"):
            ports[int(m.broker["mgmt_port"])] = "0.0.0.0"
    for unit, state in m.services.items():
        conf = m.svcconf.get(unit)
        if state == "active" and conf and conf.get("s3"):
            ports[int(conf["s3_port"])] = str(conf["bind"])
            if conf.get("https_port"):
                ports[int(conf["https_port"])] = str(conf["bind"])
    return ports


def tls_served(m: Machine) -> dict[int, str]:
    """The guest's TLS ports, by port: the certificate file each serves (as it is now: weed's provider and a
    restarted RabbitMQ read it again)."""
    out = {}
    if m.services.get("rabbitmq-server") == "active" and m.broker.get("tls_port"):
        out[int(m.broker["tls_port"])] = str(m.broker.get("tls_cert", ""))
    for unit, state in m.services.items():
        conf = m.svcconf.get(unit)
        if state == "active" and conf and conf.get("https_port"):
            out[int(conf["https_port"])] = str(conf.get("tls_cert", ""))
    return out


def amqp_login(m: Machine, user: str, password: str, vhost: str, local: bool) -> str:
    """'' when this AMQP login works, else the broker's refusal."""
    users = (m.broker or {}).get("users", {})
    found = users.get(user)
    if found is None or not password_matches(found, password):
        return ("ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker "
                "logfile.")
    if user in (m.broker or {}).get("loopback_users", []) and not local:
        return f"ACCESS_REFUSED - user '{user}' can only connect via localhost"
    if vhost not in (m.broker or {}).get("vhosts", []):
        return f"NOT_ALLOWED - vhost {vhost} not found"
    if f"{user}|{vhost}" not in (m.broker or {}).get("permissions", {}):
        return f"NOT_ALLOWED - access to vhost '{vhost}' refused for user '{user}'"
    return ""


def s3_identity(m: Machine, access: str, secret: str) -> tuple[dict[str, Any] | None, str]:
    """The SeaweedFS identity these keys sign as, or the S3 error."""
    for unit, conf in m.svcconf.items():
        if m.services.get(unit) != "active":
            continue
        for ident in conf.get("identities", []):
            for cred in ident.get("credentials") or []:
                if cred.get("accessKey") == access:
                    if cred.get("secretKey") != secret:
                        return None, "SignatureDoesNotMatch"
                    return ident, ""
    return None, "InvalidAccessKeyId"


def queue_lengths(m: Machine, user: str, password: str, pattern: str) -> tuple[int | None, str]:
    """What RabbitMQ's management API (``GET /api/queues``) tells this user: the sum of the ready messages of the
    queues whose names match ``pattern`` (KEDA's ``useRegex`` with ``operation: sum``), or None and why not: the
    plugin off (nothing listens), a wrong password (401), a user without a management tag (monitoring,
    management or administrator) or without access to the vhost (it sees no queue there)."""
    import re

    broker = m.broker or {}
    if m.services.get("rabbitmq-server") != "active" or not broker.get("mgmt_port"):
        return None, "connection refused (no management listener)"
    found = broker.get("users", {}).get(user)
    if found is None or not password_matches(found, password):
        return None, "401 Unauthorized: Login failed"
    if not {"monitoring", "management", "administrator"} & set(found.get("tags") or []):
        return None, "401 Unauthorized: Not management user"
    if f"{user}|/" not in broker.get("permissions", {}):
        return 0, ""
    try:
        match = re.compile(pattern)
    except re.error as err:
        return None, f"400: invalid queue regex ({err})"
    return sum(int(n) for q, n in (broker.get("queues") or {}).items() if match.search(q)), ""


def set_queue(m: Machine, queue: str, messages: int) -> None:
    """Messages waiting in a queue of the VM's broker (what experimenters' submissions leave there)."""
    broker = json.loads(json.dumps(m.broker or installed_broker()))
    broker.setdefault("queues", {})[queue] = max(0, messages)
    m.record("broker", "state", broker)
