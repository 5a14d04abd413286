"""The RabbitMQ configuration the RabbitMQ VM's cloud-init places, loaded by a real RabbitMQ (Debian's
rabbitmq-server, started privately by the test): its definitions make the runner's, the admin's and the
experimenters' users with the passwords the keyring holds, the package's guest user does not exist, and the check
tool's AMQP login (the one the VM check and the probe pod run) passes with the right password and is refused with a
wrong one, in RabbitMQ's words. Its AMQPS listener serves the certificate the install CA signed: an experimenter
trusting only that CA connects, declares and publishes to an rmq_ queue and is refused any other; the runner's user
consumes what was published; the check tool's TLS check reads the certificate's end date.

Only what cannot be the same on this host is changed: the files' paths in rabbitmq.conf and the ports."""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import amqp
import pytest
import yaml

from tests.engine.helpers import check_tool
from wizard import tls, vmconfig

NAME = "studioml-rabbitmq-1a2b3c4d.eastus.cloudapp.azure.com"

SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[dict[str, object]]:
    """rabbitmq-server run from the RabbitMQ VM's own files (paths and port aside) in a folder of the test."""
    if not SERVER.exists():
        pytest.fail("rabbitmq-server is not installed: ./test.sh installs it (as root), or apt-get install "
                    "rabbitmq-server")
    ca_key, ca_pem = tls.new_ca("1a2b3c4d")
    cert = tls.issue(ca_key, ca_pem, NAME, [NAME], ["10.20.16.4", "127.0.0.1"])
    material = vmconfig.Tls(ca_pem, cert.cert, cert.key, NAME)
    settings = vmconfig.rabbitmq_settings("runner-secret", "admin-secret", "experimenter-secret", material)
    doc = yaml.safe_load(vmconfig.rabbitmq("ssh-ed25519 AAAA test", settings))
    files = {f["path"]: f["content"] for f in doc["write_files"]}
    port, tls_port, dist, epmd = _free_port(), _free_port(), _free_port(), _free_port()
    (tmp_path / "definitions.json").write_text(files["/etc/studioml/definitions.json"])
    (tmp_path / "tls").mkdir()
    for name in ("ca.pem", "server.pem", "server.key"):  # as the configure script installs them from /etc/studioml
        (tmp_path / "tls" / name).write_text(files[f"{vmconfig.TLS_DIR}/{name}"])
    conf = files["/etc/studioml/rabbitmq.conf"]
    assert "load_definitions = /etc/rabbitmq/definitions.json" in conf and "listeners.tcp.default = 5672" in conf
    assert "listeners.ssl.default = 5671" in conf
    conf = conf.replace("/etc/rabbitmq/definitions.json", str(tmp_path / "definitions.json")).replace(
        "= 5672", f"= {port}").replace("= 5671", f"= {tls_port}").replace("/etc/rabbitmq/tls/", f"{tmp_path}/tls/")
    (tmp_path / "rabbitmq.conf").write_text(conf)
    (tmp_path / "plugins").write_text("[].\n")
    node = f"studioml{uuid.uuid4().hex[:6]}@localhost"
    env = {**os.environ, "HOME": str(tmp_path), "RABBITMQ_NODENAME": node,
           "RABBITMQ_CONFIG_FILE": str(tmp_path / "rabbitmq"), "RABBITMQ_MNESIA_BASE": str(tmp_path / "mnesia"),
           "RABBITMQ_LOG_BASE": str(tmp_path / "log"), "RABBITMQ_ENABLED_PLUGINS_FILE": str(tmp_path / "plugins"),
           "RABBITMQ_DIST_PORT": str(dist), "ERL_EPMD_PORT": str(epmd)}
    proc = subprocess.Popen([str(SERVER)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            start_new_session=True)
    ctl = [str(SERVER.parent / "rabbitmqctl"), "-n", node]
    try:
        deadline = time.monotonic() + 90
        while True:  # the node answers its CLI once it has booted (await_startup needs it running already)
            waited = subprocess.run([*ctl, "await_startup", "--timeout", "60"], env=env, capture_output=True,
                                    text=True, check=False, timeout=90)
            if waited.returncode == 0:
                break
            assert proc.poll() is None and time.monotonic() < deadline, waited.stderr[-2000:]
            time.sleep(1)
        yield {"port": port, "tls_port": tls_port, "ctl": ctl, "env": env, "ca": str(tmp_path / "tls" / "ca.pem"),
               "check": json.loads(files["/etc/studioml/check.json"])}
    finally:
        subprocess.run([*ctl, "stop"], env=env, capture_output=True, check=False, timeout=60)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
        subprocess.run(["epmd", "-kill"], env=env, capture_output=True, check=False)
        shutil.rmtree(tmp_path / "mnesia", ignore_errors=True)


def test_the_vms_definitions_make_the_users_and_the_amqp_check_logs_in(broker: dict[str, object]) -> None:
    tool, port = check_tool(), int(broker["port"])  # type: ignore[call-overload]
    users = subprocess.run([*broker["ctl"], "list_users", "--formatter", "json"],  # type: ignore[misc]
                           env=broker["env"], capture_output=True, text=True, check=True)  # type: ignore[arg-type]
    listed = {u["user"]: u["tags"] for u in json.loads(users.stdout)}
    assert set(listed) == {"runner", "admin", "experimenter"} and "administrator" in listed["admin"], listed  # no guest
    check = broker["check"]["amqp"]  # type: ignore[index]
    assert check["user"] == "runner" and check["password"] == "runner-secret"
    assert tool.amqp("127.0.0.1", port, check["user"], check["password"]) == f"runner@127.0.0.1:{port}, vhost /"
    assert tool.amqp("127.0.0.1", port, "admin", "admin-secret").startswith("admin@")
    for user, password in (("runner", "admin-secret"), ("guest", "guest")):
        with pytest.raises(tool.Failed, match="ACCESS_REFUSED - Login was refused"):
            tool.amqp("127.0.0.1", port, user, password)
    with pytest.raises(tool.Failed, match="NOT_ALLOWED - vhost /other not found"):
        tool.amqp("127.0.0.1", port, "runner", "runner-secret", "/other")


def _connect(port: int, user: str, password: str, ca: str | None = None) -> amqp.Connection:
    ssl_opts = {"context": {"cafile": ca, "check_hostname": True}, "server_hostname": NAME} if ca else False
    conn = amqp.Connection(host=f"127.0.0.1:{port}", userid=user, password=password, virtual_host="/",
                           ssl=ssl_opts, connect_timeout=10)
    conn.connect()
    return conn


def test_experimenters_use_amqps_trusting_only_the_install_ca_and_only_rmq_queues(broker: dict[str, object]) -> None:
    tls_port, port, ca = int(broker["tls_port"]), int(broker["port"]), str(broker["ca"])  # type: ignore[call-overload]
    exp = _connect(tls_port, "experimenter", "experimenter-secret", ca)
    try:
        assert exp.transport.sock.version() in ("TLSv1.2", "TLSv1.3")  # type: ignore[union-attr]
        ch = exp.channel()
        # as the StudioML client: its topic exchange, an rmq_ queue and its _response queue, bound and published to
        ch.exchange_declare("StudioML.topic", "topic", durable=True, auto_delete=False)
        for queue in ("rmq_test_exp", "rmq_test_exp_response"):
            ch.queue_declare(queue, durable=True, auto_delete=False)
            ch.queue_bind(queue, "StudioML.topic", routing_key=f"StudioML.{queue}")
        ch.basic_publish(amqp.Message(b"an experiment"), exchange="StudioML.topic",
                         routing_key="StudioML.rmq_test_exp")
        ch.basic_publish(amqp.Message(b"direct"), exchange="", routing_key="rmq_test_exp")
        refused = "ACCESS_REFUSED - access to queue 'other' in vhost '/' refused for user 'experimenter'"
        with pytest.raises(amqp.exceptions.AccessRefused, match=refused):
            exp.channel().queue_declare("other", durable=True, auto_delete=False)
    finally:
        exp.close()
    runner = _connect(port, "runner", "runner-secret")  # the runners stay on the plain port inside the VNet
    try:
        ch = runner.channel()
        got = [ch.basic_get("rmq_test_exp", no_ack=True) for _ in range(2)]
        assert sorted(m.body for m in got if m) == [b"an experiment", b"direct"]
    finally:
        runner.close()
    other_ca, _pem = tls.new_ca("ffffffff")
    with pytest.raises(ssl.SSLCertVerificationError):  # a client that trusts another CA (or the system's) refuses it
        _connect(tls_port, "experimenter", "experimenter-secret", _write_ca(Path(ca).parent, _pem))
    with pytest.raises(amqp.exceptions.AccessRefused):
        _connect(tls_port, "experimenter", "wrong", ca)
    tool = check_tool()
    assert "certificate valid until" in tool.tls("127.0.0.1", tls_port, NAME, ca)
    with pytest.raises(tool.Failed, match="Hostname mismatch|certificate not trusted"):
        tool.tls("127.0.0.1", tls_port, "other.example.com", ca)


def _write_ca(folder: Path, pem: str) -> str:
    path = folder / "other-ca.pem"
    path.write_text(pem)
    return str(path)
