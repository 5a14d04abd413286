"""The shell builtins of the sandbox's VMs: ``set -e``/``-o pipefail``, ``echo``, ``printf``, ``exit``,
``trap CMD ERR``, ``export``, ``true``, ``:``, ``false``, as bash does them (they act on the shell itself)."""

from __future__ import annotations

import re

from .shell import ExitScript, Program, Result, Shell


def _set(sh: Shell, argv: list[str], _stdin: str) -> Result:
    args = iter(argv[1:])
    for a in args:
        if a.startswith("-") and a != "-o":
            sh.errexit = sh.errexit or "e" in a
        if a == "-o" or (a.startswith("-") and a.endswith("o")):
            sh.pipefail = sh.pipefail or next(args, "") == "pipefail"
    return Result(0)


def _echo(_sh: Shell, argv: list[str], _stdin: str) -> Result:
    args = argv[1:]
    newline = not (args and args[0] == "-n")
    if not newline:
        args = args[1:]
    return Result(0, " ".join(args) + ("\n" if newline else ""))


def _printf(_sh: Shell, argv: list[str], _stdin: str) -> Result:
    if len(argv) < 2:
        return Result(2, "", "printf: usage: printf format [arguments]\n")
    fmt, args = argv[1].replace("\\n", "\n"), list(argv[2:])
    if "%s" not in fmt:
        return Result(0, fmt)
    out = ""
    while True:
        piece = re.sub(r"%s", lambda _m: args.pop(0) if args else "", fmt)
        out += piece
        if not args:
            return Result(0, out)


def _exit(sh: Shell, argv: list[str], _stdin: str) -> Result:
    raise ExitScript(int(argv[1]) if len(argv) > 1 else sh.status)


def _trap(sh: Shell, argv: list[str], _stdin: str) -> Result:
    if len(argv) >= 3 and argv[-1] == "ERR":
        sh.err_trap = argv[1]
    return Result(0)


def _export(sh: Shell, argv: list[str], _stdin: str) -> Result:
    for a in argv[1:]:
        name, sep, value = a.partition("=")
        if sep:
            sh.env[name] = value
    return Result(0)


BUILTINS: dict[str, Program] = {
    "set": _set, "echo": _echo, "printf": _printf, "exit": _exit, "trap": _trap, "export": _export,
    "true": lambda _s, _a, _i: Result(0), ":": lambda _s, _a, _i: Result(0), "false": lambda _s, _a, _i: Result(1),
}
