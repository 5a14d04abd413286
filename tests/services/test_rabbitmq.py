"""The RabbitMQ configuration the RabbitMQ VM's cloud-init places, loaded by a real RabbitMQ (Debian's
rabbitmq-server, started privately by the test): its definitions make the runner's and the admin's users with the
passwords the keyring holds, the package's guest user does not exist, and the check tool's AMQP login (the one the
VM check and the probe pod run) passes with the right password and is refused with a wrong one, in RabbitMQ's words.

Only what cannot be the same on this host is changed: the definitions file's path in rabbitmq.conf and the port."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.services.test_check_tool import _tool
from wizard import vmconfig

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
    doc = yaml.safe_load(vmconfig.rabbitmq("ssh-ed25519 AAAA test", "runner-secret", "admin-secret"))
    files = {f["path"]: f["content"] for f in doc["write_files"]}
    port, dist, epmd = _free_port(), _free_port(), _free_port()
    (tmp_path / "definitions.json").write_text(files["/etc/studioml/definitions.json"])
    conf = files["/etc/studioml/rabbitmq.conf"]
    assert "load_definitions = /etc/rabbitmq/definitions.json" in conf and "listeners.tcp.default = 5672" in conf
    conf = conf.replace("/etc/rabbitmq/definitions.json", str(tmp_path / "definitions.json")).replace(
        "= 5672", f"= {port}")
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
        yield {"port": port, "ctl": ctl, "env": env, "check": json.loads(files["/etc/studioml/check.json"])}
    finally:
        subprocess.run([*ctl, "stop"], env=env, capture_output=True, check=False, timeout=60)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
        subprocess.run(["epmd", "-kill"], env=env, capture_output=True, check=False)
        shutil.rmtree(tmp_path / "mnesia", ignore_errors=True)


def test_the_vms_definitions_make_the_users_and_the_amqp_check_logs_in(broker: dict[str, object]) -> None:
    tool, port = _tool(), int(broker["port"])  # type: ignore[call-overload]
    users = subprocess.run([*broker["ctl"], "list_users", "--formatter", "json"],  # type: ignore[misc]
                           env=broker["env"], capture_output=True, text=True, check=True)  # type: ignore[arg-type]
    listed = {u["user"]: u["tags"] for u in json.loads(users.stdout)}
    assert set(listed) == {"runner", "admin"} and "administrator" in listed["admin"], listed  # no guest user
    check = broker["check"]["amqp"]  # type: ignore[index]
    assert check["user"] == "runner" and check["password"] == "runner-secret"
    assert tool.amqp("127.0.0.1", port, check["user"], check["password"]) == f"runner@127.0.0.1:{port}, vhost /"
    assert tool.amqp("127.0.0.1", port, "admin", "admin-secret").startswith("admin@")
    for user, password in (("runner", "admin-secret"), ("guest", "guest")):
        with pytest.raises(tool.Failed, match="ACCESS_REFUSED - Login was refused"):
            tool.amqp("127.0.0.1", port, user, password)
    with pytest.raises(tool.Failed, match="NOT_ALLOWED - vhost /other not found"):
        tool.amqp("127.0.0.1", port, "runner", "runner-secret", "/other")
