"""A small POSIX shell for the sandbox's VMs: enough of bash to run boot scripts and Run Command scripts line by line.

What it does as bash does: quoting, ``$VAR``/``${VAR}``/``$1``/``$@`` and ``$(...)`` expansion, pipelines, ``&&``/``||``
lists, ``;``, redirections (``>``, ``>>``, ``2>&1``, ``2>``, ``&>``, ``<``), ``VAR=value`` assignments and prefixes,
one-line function definitions, ``set -e``/``-o pipefail``, ``trap CMD ERR``, ``exec >>FILE 2>&1``, ``exit``.
What it does not model (``if``/``for``/``while``/``case`` blocks, here-documents, globs) is refused with exit 2, so a
script the sandbox cannot follow fails loudly instead of passing by luck. Commands are the programs of
:mod:`.programs`; anything else is ``command not found`` (127), as on a VM that lacks it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .machine import Machine

OPERATORS = ("&&", "||", "2>&1", "&>", ">>", "2>", ">", "<", "|", ";")
FUNCTION = re.compile(r"^\s*([A-Za-z_][\w-]*)\s*\(\)\s*\{(.*)\}\s*$")
UNSUPPORTED = ("if", "then", "fi", "for", "while", "until", "do", "done", "case", "esac", "select", "function")
ASSIGNMENT = re.compile(r"^[A-Za-z_]\w*=")


class ShellSyntaxError(Exception):
    """Shell the sandbox does not model."""


@dataclass
class Word:
    """A word after expansion, or an operator."""

    text: str
    op: bool = False


@dataclass
class Result:
    """How a command ended."""

    code: int = 0
    out: str = ""
    err: str = ""


Program = Callable[["Shell", list[str], str], Result]


@dataclass
class Shell:
    """One shell process on a guest: its variables, functions, options and where its output goes."""

    machine: Machine
    programs: dict[str, Program]
    env: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    functions: dict[str, str] = field(default_factory=dict)
    errexit: bool = False
    pipefail: bool = False
    err_trap: str = ""
    out_file: tuple[str, bool] | None = None  # exec >FILE / >>FILE: (path, append)
    err_to_out: bool = False
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    line: int = 0
    status: int = 0

    # --- running --------------------------------------------------------------------------------

    def run_script(self, text: str) -> int:
        """Run every line; returns the script's exit status (``exit`` and ``set -e`` end it early)."""
        try:
            for self.line, raw in enumerate(text.splitlines(), 1):
                if self._run_line(raw) is not None:
                    break
        except ExitScript as done:
            self.status = done.code
        return self.status

    def _run_line(self, raw: str) -> int | None:
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            return None
        fn = FUNCTION.match(stripped)
        if fn:
            self.functions[fn.group(1)] = fn.group(2).strip().rstrip(";")
            return None
        words = self.tokenize(stripped)
        if words and not words[0].op and words[0].text in UNSUPPORTED:
            raise ExitScript(self._fail(2, f"sandbox shell: line {self.line}: '{words[0].text}' blocks are not "
                                           "modelled"))
        for seq in _split(words, ";"):
            if seq:
                self._and_or(seq)
        return None

    def _and_or(self, words: list[Word]) -> None:
        parts: list[tuple[str, list[Word]]] = []
        current: list[Word] = []
        joiner = ""
        for w in words:
            if w.op and w.text in ("&&", "||"):
                parts.append((joiner, current))
                joiner, current = w.text, []
            else:
                current.append(w)
        parts.append((joiner, current))
        status, last_index = 0, -1
        for i, (join, cmd) in enumerate(parts):
            if (join == "&&" and status != 0) or (join == "||" and status == 0):
                continue
            status, last_index = self._pipeline(cmd), i
        self.status = status
        if status != 0 and last_index == len(parts) - 1:
            if self.err_trap:
                trap, self.err_trap = self.err_trap, ""
                self._run_line(trap)
                self.err_trap = trap
            if self.errexit:
                raise ExitScript(status)

    def _pipeline(self, words: list[Word]) -> int:
        stages = _split(words, "|")
        stdin, codes = "", []
        for n, stage in enumerate(stages):
            last = n == len(stages) - 1
            res = self._simple(stage, stdin, capture=not last)
            codes.append(res.code)
            stdin = res.out
        if self.pipefail:
            return next((c for c in reversed(codes) if c != 0), 0)
        return codes[-1]

    def _simple(self, words: list[Word], stdin: str, *, capture: bool) -> Result:
        argv: list[str] = []
        redirects: list[tuple[str, str]] = []
        prefix: dict[str, str] = {}
        i = 0
        while i < len(words):
            w = words[i]
            if w.op and w.text in (">", ">>", "2>", "&>", "<"):
                if i + 1 >= len(words):
                    return self._emit(Result(2, "", f"sandbox shell: line {self.line}: syntax error near "
                                                    f"'{w.text}'\n"), [], capture)
                redirects.append((w.text, words[i + 1].text))
                i += 2
                continue
            if w.op and w.text == "2>&1":
                redirects.append(("2>&1", ""))
            elif not argv and ASSIGNMENT.match(w.text):
                name, _, value = w.text.partition("=")
                prefix[name] = value
            else:
                argv.append(w.text)
            i += 1
        for op, target in redirects:
            if op == "<":
                stdin = self.machine.read(target) or ""
        if not argv:
            self.env.update(prefix)
            return Result(0)
        if argv[0] == "exec" and len(argv) == 1:
            for op, target in redirects:
                if op in (">", ">>", "&>"):
                    self.out_file = (target, op == ">>")
                    if op == "&>":
                        self.err_to_out = True
                elif op == "2>&1":
                    self.err_to_out = True
            return Result(0)
        saved = dict(self.env)
        self.env.update(prefix)
        try:
            res = self.call(argv, stdin)
        finally:
            if prefix:
                self.env = {**saved, **{k: v for k, v in self.env.items() if k not in prefix}}
        return self._emit(res, redirects, capture)

    def call(self, argv: list[str], stdin: str = "") -> Result:
        """Run one command: a builtin, a function of this script, or a program of the guest."""
        name = argv[0]
        if name in self.functions:
            saved, self.args = self.args, argv[1:]
            try:
                before = len(self.stdout), len(self.stderr)
                for seq in _split(self.tokenize(self.functions[name]), ";"):
                    if seq:
                        self._and_or(seq)
                out, err = "".join(self.stdout[before[0]:]), "".join(self.stderr[before[1]:])
                del self.stdout[before[0]:], self.stderr[before[1]:]
                return Result(self.status, out, err)
            finally:
                self.args = saved
        from .builtins import BUILTINS  # they act on the shell itself (set -e, trap, export, exit)

        builtin = BUILTINS.get(name)
        if builtin is not None:
            return builtin(self, argv, stdin)
        program = self.programs.get(name.rsplit("/", 1)[-1] if name.startswith(("/usr/bin/", "/bin/")) else name)
        if program is None and name.startswith("/"):
            return self.programs["__script__"](self, argv, stdin)
        if program is None:
            return Result(127, "", f"bash: line {self.line}: {name}: command not found\n")
        return program(self, argv, stdin)

    def _emit(self, res: Result, redirects: list[tuple[str, str]], capture: bool) -> Result:
        out, err = res.out, res.err
        to_out = self.err_to_out or any(op == "2>&1" for op, _ in redirects)
        for op, target in redirects:
            if op in (">", ">>", "&>"):
                if target != "/dev/null":
                    self.machine.write(target, out + (err if op == "&>" or to_out else ""), append=op == ">>")
                out = ""
                if op == "&>" or to_out:
                    err = ""
            elif op == "2>":
                if target != "/dev/null":
                    self.machine.write(target, err)
                err = ""
        if to_out and err:
            out, err = out + err, ""
        if capture:
            if err:
                self._write_err(err)
            return Result(res.code, out, "")
        self._write_out(out)
        self._write_err(err)
        return Result(res.code)

    def _write_out(self, text: str) -> None:
        if not text:
            return
        if self.out_file is not None:
            self.machine.write(self.out_file[0], text, append=True)
        else:
            self.stdout.append(text)

    def _write_err(self, text: str) -> None:
        if not text:
            return
        if self.err_to_out:
            self._write_out(text)
        else:
            self.stderr.append(text)

    def _fail(self, code: int, message: str) -> int:
        self._write_err(message + "\n")
        return code

    # --- words ----------------------------------------------------------------------------------

    def tokenize(self, text: str) -> list[Word]:
        """Split a line into words and operators, expanding variables and command substitutions as bash does
        (nothing inside single quotes; no word splitting of a quoted expansion)."""
        words: list[Word] = []
        buf, have, i, quote = "", False, 0, ""
        while i < len(text):
            c = text[i]
            if quote == "'" and c != "'":  # nothing is special inside single quotes
                buf, i = buf + c, i + 1
                continue
            if quote != "'" and c == "\\" and i + 1 < len(text):
                buf, have, i = buf + text[i + 1], True, i + 2
                continue
            if quote != "'" and c == "$":
                value, i = self._expand(text, i)
                buf, have = buf + value, True
                continue
            if quote and c == quote:
                quote, i = "", i + 1
                continue
            if quote:
                buf, i = buf + c, i + 1
                continue
            if c in "'\"":
                quote, have, i = c, True, i + 1
                continue
            if c.isspace():
                if have:
                    words.append(Word(buf))
                buf, have, i = "", False, i + 1
                continue
            op = next((o for o in OPERATORS if text.startswith(o, i)), None)
            if op is not None:
                if have:
                    words.append(Word(buf))
                words.append(Word(op, True))
                buf, have, i = "", False, i + len(op)
                continue
            buf, have, i = buf + c, True, i + 1
        if quote:
            raise ExitScript(self._fail(2, f"sandbox shell: line {self.line}: unterminated quote"))
        if have:
            words.append(Word(buf))
        return words

    def _expand(self, text: str, i: int) -> tuple[str, int]:
        if text.startswith("$(", i):
            depth, j = 0, i + 1
            while j < len(text):
                if text[j] == "(":
                    depth += 1
                elif text[j] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            inner = Shell(self.machine, self.programs, dict(self.env), list(self.args), dict(self.functions))
            inner.line = self.line
            inner.run_script(text[i + 2:j])
            self.machine.t = inner.machine.t
            return "".join(inner.stdout).rstrip("\n"), j + 1
        m = re.match(r"\$\{([A-Za-z_]\w*)\}|\$([A-Za-z_]\w*|[0-9@#?])", text[i:])
        if not m:
            return "$", i + 1
        name = m.group(1) or m.group(2)
        if name == "?":
            value = str(self.status)
        elif name == "@":
            value = " ".join(self.args)
        elif name == "#":
            value = str(len(self.args))
        elif name.isdigit():
            value = self.args[int(name) - 1] if 0 < int(name) <= len(self.args) else ""
        else:
            value = self.env.get(name, "")
        return value, i + m.end()


class ExitScript(Exception):
    """``exit N``: ends the script with N."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _split(words: list[Word], op: str) -> list[list[Word]]:
    out: list[list[Word]] = [[]]
    for w in words:
        if w.op and w.text == op:
            out.append([])
        else:
            out[-1].append(w)
    return out


def new_shell(machine: Machine, programs: dict[str, Program], **kw: Any) -> Shell:
    """A shell on ``machine`` with the guest's programs."""
    return Shell(machine, programs, **kw)
