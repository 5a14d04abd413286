"""The programs of a sandbox VM (Ubuntu 24.04 LTS): what each prints, exits with and changes, and how long it takes.

Anything that fetches from the internet (apt, curl, wget) needs outbound (:func:`.network.outbound`); without it the
connection times out, with the words and exit codes of the real tools (apt-get 100, curl 28, wget 4). Downloads get
what :mod:`.downloads` says the URL serves. Durations are real-VM seconds, scaled by the sandbox's speed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from . import checks, downloads, services
from .network import outbound
from .shell import Program, Result, Shell

APT_HOST = "azure.archive.ubuntu.com"
# What Ubuntu 24.04 (noble) offers that the sandbox models; anything else is "Unable to locate package".
NOBLE = {"rabbitmq-server": "3.12.1-1ubuntu1", "erlang-base": "1:25.3.2.8+dfsg-1ubuntu4", "jq": "1.7.1-3build1",
         "curl": "8.5.0-2ubuntu10", "python3": "3.12.3-0ubuntu2", "ca-certificates": "20240203", "wget": "1.21.4",
         "unzip": "6.0-28ubuntu4", "openssl": "3.0.13-0ubuntu3"}
CONNECT_TIMEOUT = 130.0  # a SYN nobody answers: the kernel's retries give up after about two minutes


def _online(sh: Shell) -> bool:
    vm = sh.machine.sbx.get_resource(str(sh.machine.guest.get("vm_id", "")))
    return vm is not None and outbound(sh.machine.sbx, vm)[0]


def apt_get(sh: Shell, argv: list[str], _stdin: str) -> Result:
    """``apt-get update`` and ``apt-get install -y PKG...``."""
    m = sh.machine
    words = [a for a in argv[1:] if not a.startswith("-")]
    if not words:
        return Result(100, "", "E: Invalid operation\n")
    if words[0] == "update":
        if not _online(sh):
            m.advance(CONNECT_TIMEOUT)
            err = (f"Err:1 http://{APT_HOST}/ubuntu noble InRelease\n  Could not connect to {APT_HOST}:80 "
                   f"(40.119.46.219), connection timed out\n")
            return Result(0, "Reading package lists...\n", err + f"W: Failed to fetch http://{APT_HOST}/ubuntu/dists/"
                          f"noble/InRelease  Could not connect to {APT_HOST}:80 (40.119.46.219), connection timed out\n"
                          "W: Some index files failed to download. They have been ignored, or old ones used "
                          "instead.\n")
        m.advance(20)
        m.record("apt", "lists", True)
        return Result(0, f"Hit:1 http://{APT_HOST}/ubuntu noble InRelease\nReading package lists...\n")
    if words[0] != "install":
        return Result(100, "", f"E: Invalid operation {words[0]}\n")
    if "-y" not in argv and "--yes" not in argv and "-qy" not in argv and "-yq" not in argv:
        return Result(1, "Do you want to continue? [Y/n] Abort.\n")
    for pkg in words[1:]:
        if pkg in m.packages:
            continue
        if not m.apt_lists or pkg not in NOBLE:
            return Result(100, "Reading package lists...\n", f"E: Unable to locate package {pkg}\n")
    if not _online(sh) and any(p not in m.packages for p in words[1:]):
        m.advance(CONNECT_TIMEOUT)
        return Result(100, "", f"E: Failed to fetch http://{APT_HOST}/ubuntu/pool/main/{words[1][0]}/{words[1]}  "
                      f"Could not connect to {APT_HOST}:80, connection timed out\nE: Unable to fetch some archives\n")
    out = ""
    for pkg in words[1:]:
        if pkg in m.packages:
            continue
        m.advance(45)
        m.record("pkg", pkg, NOBLE[pkg])
        out += f"Setting up {pkg} ({NOBLE[pkg]}) ...\n"
        if pkg == "rabbitmq-server":  # the package makes its user and starts the broker with its defaults
            m.record("user", "rabbitmq", "rabbitmq")
            m.mkdir("/etc/rabbitmq", "rabbitmq", "rabbitmq")
            m.record("broker", "state", services.installed_broker())
            m.record("svc", "rabbitmq-server", "active")
            m.record("enable", "rabbitmq-server", True)
    return Result(0, out)


def _fetch(sh: Shell, url: str, attempts: int, tool: str, connect: float = CONNECT_TIMEOUT, delay: float = 1.0
           ) -> tuple[int, bytes, str]:
    """(HTTP status or 0 for a timeout, body, error text) of a GET, with ``attempts`` tries on a timeout, each
    giving up after ``connect`` seconds, ``delay`` seconds apart."""
    if not url.startswith(("http://", "https://")):
        return -1, b"", f"{tool}: unsupported URL {url}"
    host = urlsplit(url).hostname or ""
    if host in ("127.0.0.1", "localhost") or not _online(sh):
        tries = 1 if host in ("127.0.0.1", "localhost") else attempts
        sh.machine.advance(connect * tries + delay * (tries - 1))
        return 0, b"", f"Failed to connect to {host} port 443 after {int(connect * 1000)} ms: Connection timed out"
    sh.machine.advance(10)
    got = downloads.answer(url, sh.machine.sbx.store.data.setdefault("downloads", {}))
    return got.status, got.body, got.reason


def curl(sh: Shell, argv: list[str], _stdin: str) -> Result:
    """``curl [-fsSL] [--connect-timeout S] [--retry N] [--retry-delay S] [-o FILE] URL``."""
    out_file, url, fail, retries, connect, delay = None, "", False, 0, CONNECT_TIMEOUT, 1.0
    args = iter(argv[1:])
    for a in args:
        if a in ("-o", "--output"):
            out_file = next(args, "")
        elif a in ("--retry", "--retry-delay", "--max-time", "--connect-timeout", "-m"):
            value = next(args, "0")
            if a == "--retry":
                retries = int(value)
            elif a == "--connect-timeout":
                connect = min(connect, float(value))
            elif a == "--retry-delay":
                delay = float(value)
        elif a.startswith("--"):
            fail = fail or a == "--fail"
        elif a.startswith("-"):
            fail = fail or "f" in a
            if "o" in a[1:]:
                out_file = next(args, "")
        else:
            url = a
    status, body, reason = _fetch(sh, url, retries + 1, "curl", connect, delay)
    if status == -1:
        return Result(1, "", f"curl: (1) Protocol not supported: {url}\n")
    if status == 0:
        return Result(28, "", f"curl: (28) {reason}\n")
    if status >= 400 and fail:
        return Result(22, "", f"curl: (22) The requested URL returned error: {status}\n")
    if out_file:
        sh.machine.write(out_file, "", blob=body)
        return Result(0)
    return Result(0, body.decode(errors="replace"))


def wget(sh: Shell, argv: list[str], _stdin: str) -> Result:
    """``wget [-q] -O FILE URL``."""
    out_file, url = None, ""
    args = iter(argv[1:])
    for a in args:
        if a == "-O":
            out_file = next(args, "")
        elif not a.startswith("-"):
            url = a
    status, body, reason = _fetch(sh, url, 20, "wget")
    if status == 0:
        return Result(4, "", "failed: Connection timed out.\n")
    if status >= 400:
        return Result(8, "", f"{url}\nERROR {status}: {reason}.\n")
    sh.machine.write(out_file or url.rsplit("/", 1)[-1], "", blob=body)
    return Result(0)


def checksum(algo: Callable[[bytes], Any], name: str) -> Program:
    """``md5sum``/``sha256sum``: print digests, or ``-c`` check lines of ``DIGEST  FILE`` (from stdin with ``-``)."""
    def run(sh: Shell, argv: list[str], stdin: str) -> Result:
        if "-c" not in argv and "--check" not in argv:
            files = [a for a in argv[1:] if not a.startswith("-")]
            out = ""
            for f in files:
                data = sh.machine.read_bytes(f)
                if data is None:
                    return Result(1, out, f"{name}: {f}: No such file or directory\n")
                out += f"{algo(data).hexdigest()}  {f}\n"
            return Result(0, out)
        sh.machine.advance(1)
        source = stdin if argv[-1] in ("-", "-c", "--check") else (sh.machine.read(argv[-1]) or "")
        out, bad = "", 0
        for line in source.splitlines():
            digest, _, path = line.strip().partition(" ")
            path = path.strip().lstrip("*")
            data = sh.machine.read_bytes(path)
            if data is None:
                return Result(1, out + f"{path}: FAILED open or read\n", f"{name}: {path}: No such file or directory\n"
                              f"{name}: WARNING: 1 listed file could not be read\n")
            ok = algo(data).hexdigest() == digest.lower()
            bad += not ok
            out += f"{path}: {'OK' if ok else 'FAILED'}\n"
        if not out:
            return Result(1, "", f"{name}: -: no properly formatted checksum lines found\n")
        return Result(1, out, f"{name}: WARNING: {bad} computed checksum did NOT match\n") if bad else Result(0, out)
    return run


def tar(sh: Shell, argv: list[str], _stdin: str) -> Result:
    """``tar -xzf FILE [-C DIR] [MEMBER...]``."""
    args, archive, folder, members = iter(argv[1:]), "", ".", []
    for a in args:
        if a == "-C":
            folder = next(args, ".")
        elif a.startswith("-") or a in ("xzf", "xf", "xvzf"):
            if a.endswith("f"):
                archive = next(args, "")
        else:
            members.append(a)
    data = sh.machine.read_bytes(archive)
    if data is None:
        return Result(2, "", f"tar: {archive}: Cannot open: No such file or directory\n")
    sh.machine.advance(2)
    inside = downloads.tarball_members(data)
    if not inside:
        return Result(2, "", "\ngzip: stdin: not in gzip format\ntar: Child returned status 1\n"
                      "tar: Error is not recoverable: exiting now\n")
    for member in members or inside:
        if member not in inside:
            return Result(2, "", f"tar: {member}: Not found in archive\ntar: Exiting with failure status due to "
                          "previous errors\n")
        sh.machine.write(f"{folder.rstrip('/')}/{member}", "", mode="0755", blob=b"weed " + data[2:])
    return Result(0)


def systemctl(sh: Shell, argv: list[str], _stdin: str) -> Result:
    """``systemctl daemon-reload | enable [--now] | start | restart | stop | is-active [--quiet] UNIT``."""
    m = sh.machine
    words = [a for a in argv[1:] if not a.startswith("-")]
    if not words:
        return Result(1, "", "Too few arguments.\n")
    verb, units = words[0], [u.removesuffix(".service") for u in words[1:]]
    if verb == "daemon-reload":
        return Result(0)
    if verb == "is-active":
        state = m.services.get(units[0], "inactive") if units else "inactive"
        return Result(0 if state == "active" else 3, "" if "--quiet" in argv else state + "\n")
    if verb == "stop":
        for u in units:
            m.record("svc", u, "inactive")
        return Result(0)
    if verb not in ("enable", "start", "restart"):
        return Result(1, "", f"Unknown command verb {verb}.\n")
    for unit in units:
        known = unit in ("ssh", "rabbitmq-server") or m.read(f"/etc/systemd/system/{unit}.service") is not None
        if not known or (unit == "rabbitmq-server" and unit not in m.packages):
            return Result(5, "", f"Failed to {verb} {unit}.service: Unit {unit}.service not found.\n")
        if verb == "enable":
            m.record("enable", unit, True)
            if "--now" not in argv:
                continue
        m.advance(8)
        problem = "" if unit == "ssh" else (services.start_rabbitmq(m) if unit == "rabbitmq-server"
                                            else services.start_weed(m, unit))
        m.record("svc", unit, "failed" if problem else "active")
        if problem:
            m.log(f"{unit}[1]: {problem}")
            return Result(1, "", f"Job for {unit}.service failed because the control process exited with error code."
                          f"\nSee \"systemctl status {unit}.service\" and \"journalctl -xeu {unit}.service\" for "
                          "details.\n")
    return Result(0)


def rabbitmqctl(sh: Shell, argv: list[str], _stdin: str) -> Result:
    """``rabbitmqctl await_startup | list_users | delete_user U | import_definitions FILE``."""
    m = sh.machine
    if "rabbitmq-server" not in m.packages:
        return Result(127, "", f"bash: line {sh.line}: rabbitmqctl: command not found\n")
    if m.services.get("rabbitmq-server") != "active":
        return Result(69, "", "Error: unable to perform an operation on node 'rabbit@localhost'. Please see "
                      "diagnostics information and suggestions below.\n")
    m.advance(3)
    words = [a for a in argv[1:] if not a.startswith("-")]
    broker = json.loads(json.dumps(m.broker))
    if words[:1] == ["await_startup"]:
        return Result(0)
    if words[:1] == ["list_users"]:
        return Result(0, "user\ttags\n" + "".join(f"{u}\t[{', '.join(v['tags'])}]\n"
                                                  for u, v in broker["users"].items()))
    if words[:1] == ["delete_user"] and len(words) == 2:
        if words[1] not in broker["users"]:
            return Result(70, f'Deleting user "{words[1]}" ...\n', f'Error:\nUser "{words[1]}" does not exist\n')
        del broker["users"][words[1]]
        broker["permissions"] = {k: v for k, v in broker["permissions"].items() if not k.startswith(words[1] + "|")}
        m.record("broker", "state", broker)
        return Result(0, f'Deleting user "{words[1]}" ...\n')
    if words[:1] == ["import_definitions"] and len(words) == 2:
        text = m.read(words[1])
        if text is None:
            return Result(66, "", f"Error: file {words[1]} does not exist\n")
        problem = services.import_definitions(broker, text)
        if problem:
            return Result(65, "", f"Error:\n{problem}\n")
        m.record("broker", "state", broker)
        return Result(0, f"Importing definitions in JSON from a file at \"{words[1]}\" ...\nSuccessfully started "
                      "definition import. This process is asynchronous and can take some time.\n")
    return Result(64, "", f"Error: unknown or unsupported command: {' '.join(words)}\n")


def cloud_init(sh: Shell, argv: list[str], _stdin: str) -> Result:
    """``cloud-init status [--wait] [--long]``: exit 0 done, 1 error, 0 (no --wait) running."""
    m = sh.machine
    if argv[1:2] != ["status"]:
        return Result(2, "", "usage: cloud-init status [--wait] [--long]\n")
    done_at = float(m.guest.get("boot_done_at", m.t))
    if "--wait" in argv and m.cloud_init.get("status") == "running":
        deadline = float(sh.env.get("__deadline", "inf"))
        m.wait_until(min(done_at, deadline))
    status = str(m.cloud_init.get("status", "running"))
    out = f"status: {status}\n"
    if "--long" in argv:
        errors = m.cloud_init.get("errors") or []
        out += (f"extended_status: {status}\nboot_status_code: enabled-by-generator\ndetail: DataSourceAzure "
                "[seed=/dev/sr0]\n" + ("errors:\n" + "".join(f"\t- {e}\n" for e in errors) if errors else
                                        "errors: []\n") + "recoverable_errors: {}\n")
    return Result(1 if status == "error" else 0, out)


def timeout(sh: Shell, argv: list[str], stdin: str) -> Result:
    """``timeout SECONDS CMD...``: 124 when CMD is still running at the deadline."""
    if len(argv) < 3:
        return Result(125, "", "timeout: missing operand\n")
    deadline = sh.machine.t + sh.machine.sbx.scaled(float(argv[1].rstrip("s")))
    saved = sh.env.get("__deadline")
    sh.env["__deadline"] = str(deadline)
    try:
        res = sh.call(argv[2:], stdin)
    finally:
        sh.env.pop("__deadline") if saved is None else sh.env.update(__deadline=saved)
    if sh.machine.t >= deadline and res.code != 0:
        return Result(124, res.out, res.err)
    return res


def python3(sh: Shell, argv: list[str], stdin: str) -> Result:
    """Only the install's own check tool is a Python program the sandbox can run."""
    if len(argv) < 2 or sh.machine.read(argv[1]) is None:
        return Result(2, "", f"python3: can't open file '{argv[1] if len(argv) > 1 else ''}': [Errno 2] No such file "
                      "or directory\n")
    if checks.MARKER not in (sh.machine.read(argv[1]) or ""):
        return Result(1, "", f"sandbox: {argv[1]} is not a program the sandbox simulates\n")
    return checks.run(sh, argv[2:])
