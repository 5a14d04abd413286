"""Coreutils and friends on a sandbox VM: files, folders, owners, users, mounts, and running a script file."""

from __future__ import annotations

from .shell import Program, Result, Shell


def _opts(argv: list[str], with_value: tuple[str, ...]) -> tuple[dict[str, str], list[str]]:
    opts, rest = {}, []
    args = iter(argv[1:])
    for a in args:
        if a in with_value:
            opts[a] = next(args, "")
        elif a.startswith("--") and "=" in a:
            name, _, value = a.partition("=")
            opts[name] = value
        elif a.startswith("-") and a != "-":
            for ch in a[1:] if not a.startswith("--") else [a]:
                opts[f"-{ch}" if ch != a else a] = "true"
        else:
            rest.append(a)
    return opts, rest


def cat(sh: Shell, argv: list[str], stdin: str) -> Result:
    """``cat FILE...`` (stdin without files)."""
    if len(argv) == 1:
        return Result(0, stdin)
    out = ""
    for path in argv[1:]:
        text = sh.machine.read(path)
        if text is None:
            return Result(1, out, f"cat: {path}: No such file or directory\n")
        out += text
    return Result(0, out)


def tail(sh: Shell, argv: list[str], stdin: str) -> Result:
    """``tail -n N FILE``."""
    opts, rest = _opts(argv, ("-n",))
    count = int(opts.get("-n", "10"))
    text = stdin if not rest else sh.machine.read(rest[0])
    if text is None:
        return Result(1, "", f"tail: cannot open '{rest[0]}' for reading: No such file or directory\n")
    lines = text.splitlines(keepends=True)
    return Result(0, "".join(lines[-count:]))


def mkdir(sh: Shell, argv: list[str], _stdin: str) -> Result:
    """``mkdir [-p] [-m MODE] DIR...``."""
    opts, rest = _opts(argv, ("-m",))
    for path in rest:
        parent = path.rstrip("/").rsplit("/", 1)[0] or "/"
        if "-p" not in opts and not sh.machine.is_dir(parent):
            return Result(1, "", f"mkdir: cannot create directory '{path}': No such file or directory\n")
        if not sh.machine.is_dir(path):
            sh.machine.mkdir(path, mode=opts.get("-m", "0755"))
    return Result(0)


def install(sh: Shell, argv: list[str], _stdin: str) -> Result:
    """``install [-o USER] [-g GROUP] [-m MODE] [-d] SRC DST``."""
    m = sh.machine
    opts, rest = _opts(argv, ("-o", "-g", "-m"))
    owner, group, mode = opts.get("-o", "root"), opts.get("-g", ""), opts.get("-m", "0755")
    if owner not in m.users:
        return Result(1, "", f"install: invalid user '{owner}'\n")
    if group and group not in m.users.values() and group not in m.users:
        return Result(1, "", f"install: invalid group '{group}'\n")
    group = group or m.users[owner]
    if "-d" in opts:
        for path in rest:
            m.mkdir(path, owner, group, mode)
        return Result(0)
    if len(rest) != 2:
        return Result(1, "", "install: missing destination file operand\n")
    src, dst = rest
    data = m.read_bytes(src)
    if data is None:
        return Result(1, "", f"install: cannot stat '{src}': No such file or directory\n")
    if m.is_dir(dst):
        dst = f"{dst.rstrip('/')}/{src.rsplit('/', 1)[-1]}"
    entry = m.files[src]
    if entry.get("blob") is not None:
        m.write(dst, "", mode=mode, owner=owner, group=group, blob=data)
    else:
        m.write(dst, str(entry.get("text", "")), mode=mode, owner=owner, group=group)
    return Result(0)


def chown(sh: Shell, argv: list[str], _stdin: str) -> Result:
    """``chown [-R] USER[:GROUP] PATH...``."""
    _opts_, rest = _opts(argv, ())
    if len(rest) < 2:
        return Result(1, "", "chown: missing operand\n")
    user, _, group = rest[0].partition(":")
    if user not in sh.machine.users:
        return Result(1, "", f"chown: invalid user: '{rest[0]}'\n")
    for path in rest[1:]:
        if path not in sh.machine.files and not sh.machine.is_dir(path):
            return Result(1, "", f"chown: cannot access '{path}': No such file or directory\n")
        if path not in sh.machine.files:
            sh.machine.mkdir(path)
        sh.machine.chown(path, user, group or None)
    return Result(0)


def chmod(sh: Shell, argv: list[str], _stdin: str) -> Result:
    """``chmod MODE PATH...`` (octal modes)."""
    _o, rest = _opts(argv, ())
    for path in rest[1:]:
        if path not in sh.machine.files:
            return Result(1, "", f"chmod: cannot access '{path}': No such file or directory\n")
        sh.machine.chmod(path, rest[0].rjust(4, "0"))
    return Result(0)


def rm(sh: Shell, argv: list[str], _stdin: str) -> Result:
    """``rm [-f] [-r] PATH...``."""
    opts, rest = _opts(argv, ())
    for path in rest:
        if path not in sh.machine.files:
            if "-f" not in opts:
                return Result(1, "", f"rm: cannot remove '{path}': No such file or directory\n")
            continue
        sh.machine.record("file", path, None)
    return Result(0)


def touch(sh: Shell, argv: list[str], _stdin: str) -> Result:
    """``touch FILE``."""
    for path in argv[1:]:
        if path not in sh.machine.files:
            sh.machine.write(path, "")
    return Result(0)


def useradd(sh: Shell, argv: list[str], _stdin: str) -> Result:
    """``useradd [--system] [...] NAME``."""
    _o, rest = _opts(argv, ("--shell", "-s", "--home-dir", "-d", "--gid", "-g", "-c", "--comment"))
    if not rest:
        return Result(2, "", "Usage: useradd [options] LOGIN\n")
    if rest[-1] in sh.machine.users:
        return Result(9, "", f"useradd: user '{rest[-1]}' already exists\n")
    sh.machine.record("user", rest[-1], rest[-1])
    return Result(0)


def id_(sh: Shell, argv: list[str], _stdin: str) -> Result:
    """``id NAME``."""
    name = argv[-1] if len(argv) > 1 else "root"
    if name not in sh.machine.users:
        return Result(1, "", f"id: '{name}': no such user\n")
    return Result(0, f"uid=999({name}) gid=999({sh.machine.users[name]}) groups=999({sh.machine.users[name]})\n")


def mountpoint(sh: Shell, argv: list[str], _stdin: str) -> Result:
    """``mountpoint [-q] DIR``."""
    path = argv[-1].rstrip("/")
    if path in sh.machine.mounts:
        return Result(0, "" if "-q" in argv else f"{path} is a mountpoint\n")
    return Result(32, "" if "-q" in argv else f"{path} is not a mountpoint\n")


def sleep(sh: Shell, argv: list[str], _stdin: str) -> Result:
    """``sleep SECONDS``."""
    sh.machine.advance(float(argv[1].rstrip("s")) if len(argv) > 1 else 0)
    return Result(0)


def script(sh: Shell, argv: list[str], _stdin: str) -> Result:
    """A script file run by path (it must be executable) or as ``bash FILE`` / ``sh FILE``, or ``sh -c 'CMD'``."""
    path, args = argv[0], argv[1:]
    if path in ("bash", "sh") and args[:1] == ["-c"]:  # sh -c 'COMMANDS' [NAME ARGS...]
        child = type(sh)(sh.machine, sh.programs, dict(sh.env), list(args[3:]))
        code = child.run_script(args[1] if len(args) > 1 else "")
        return Result(code, "".join(child.stdout), "".join(child.stderr))
    if path in ("bash", "sh"):
        if not args:
            return Result(0)
        path, args = args[0], args[1:]
    elif not int(str(sh.machine.files.get(path, {}).get("mode", "0")), 8) & 0o111:
        if path not in sh.machine.files:
            return Result(127, "", f"bash: line {sh.line}: {path}: No such file or directory\n")
        return Result(126, "", f"bash: line {sh.line}: {path}: Permission denied\n")
    text = sh.machine.read(path)
    if text is None:
        return Result(127, "", f"bash: {path}: No such file or directory\n")
    child = type(sh)(sh.machine, sh.programs, dict(sh.env), list(args))
    code = child.run_script(text)
    return Result(code, "".join(child.stdout), "".join(child.stderr))


def base64_(sh: Shell, argv: list[str], stdin: str) -> Result:
    """``base64 -d`` (decode standard input) or ``base64`` (encode it)."""
    import base64 as b64
    import binascii

    if "-d" in argv or "--decode" in argv:
        try:
            return Result(0, b64.b64decode("".join(stdin.split()), validate=True).decode())
        except (binascii.Error, ValueError, UnicodeDecodeError):
            return Result(1, "", "base64: invalid input\n")
    return Result(0, b64.b64encode(stdin.encode()).decode() + "\n")


def mv(sh: Shell, argv: list[str], _stdin: str) -> Result:
    """``mv SRC DST`` (a file; its owner and mode go with it)."""
    _opts_, rest = _opts(argv, ())
    if len(rest) != 2:
        return Result(1, "", "mv: missing destination file operand\n")
    src, dst = rest
    entry = sh.machine.files.get(src)
    if entry is None:
        return Result(1, "", f"mv: cannot stat '{src}': No such file or directory\n")
    sh.machine.record("file", dst, dict(entry))
    sh.machine.record("file", src, None)
    return Result(0)


def umask(sh: Shell, argv: list[str], _stdin: str) -> Result:
    """``umask MODE`` (the shell's new files are then chmod-ed by the scripts that care)."""
    return Result(0) if len(argv) == 2 and argv[1].isdigit() else Result(1, "", "umask: usage: umask [mode]\n")


def hostname(sh: Shell, _argv: list[str], _stdin: str) -> Result:
    """The VM's computer name."""
    return Result(0, str(sh.machine.guest.get("hostname", "localhost")) + "\n")


FILE_PROGRAMS: dict[str, Program] = {
    "cat": cat, "tail": tail, "mkdir": mkdir, "install": install, "chown": chown, "chmod": chmod, "rm": rm,
    "touch": touch, "useradd": useradd, "id": id_, "mountpoint": mountpoint, "sleep": sleep, "bash": script,
    "sh": script, "__script__": script, "hostname": hostname, "base64": base64_, "mv": mv, "umask": umask,
}
