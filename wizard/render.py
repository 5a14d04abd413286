"""A stencil-compatible template renderer for the runner's manifests.

The runner's own deployment files are ``stencil`` templates: Go ``text/template`` with sprig functions,
of which the files use ``{{ expandenv "$VAR" }}`` (Go's ``os.ExpandEnv``: ``$VAR`` and ``${VAR}``, an unset
variable becomes empty), ``{{ env "VAR" }}``, ``{{ .duat.module }}`` / ``{{ .duat.version }}`` and sprig's
``default``. This renders that subset: actions with ``{{-``/``-}}`` trimming, comments, pipelines
(``x | default "1"`` passes ``x`` as the last argument), string and number literals and dotted fields.
Variables come from the mapping given to :func:`render`, never from the process environment, so no
secret has to pass through it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from .errors import WizardError

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_TOKEN = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|`([^`]*)`|(\|)|(\.[A-Za-z0-9_.]*)|([A-Za-z_][A-Za-z0-9_]*)|(-?\d+))')
_ENV = re.compile(r"\$(?:\{([^}]*)\}|([A-Za-z0-9_]+))")


class TemplateError(WizardError):
    """A template that cannot be parsed or refers to something unknown."""


def expand_env(text: str, env: Mapping[str, str]) -> str:
    """Go's ``os.Expand`` over ``env``: ``$NAME`` and ``${NAME}``; unknown names expand to ``""``."""
    return _ENV.sub(lambda m: env.get(m.group(1) if m.group(1) is not None else m.group(2), ""), text)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == 0 or value is False or value == [] or value == {}


def _functions(env: Mapping[str, str]) -> dict[str, Callable[..., Any]]:
    return {
        "expandenv": lambda s: expand_env(str(s), env),
        "env": lambda name: env.get(str(name), ""),
        "default": lambda dflt, value=None: dflt if _empty(value) else value,
    }


def _field(data: Mapping[str, Any], path: str, where: str) -> Any:
    value: Any = data
    for part in [p for p in path.split(".") if p]:
        if not isinstance(value, Mapping) or part not in value:
            raise TemplateError(f"template {where}: no value for {path}",
                                "supply it in the template data (.duat.module, .duat.version)")
        value = value[part]
    return value


def _tokens(expr: str, where: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    expr = expr.rstrip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if m is None or m.end() == pos:
            raise TemplateError(f"template {where}: cannot parse {expr[pos:]!r}",
                                "only strings, numbers, .fields, functions and | are supported")
        pos = m.end()
        dq, bq, pipe, fld, ident, num = m.groups()
        if dq is not None:
            out.append(("str", bytes(dq, "utf-8").decode("unicode_escape")))
        elif bq is not None:
            out.append(("str", bq))
        elif pipe:
            out.append(("pipe", "|"))
        elif fld is not None:
            out.append(("field", fld))
        elif ident is not None:
            out.append(("ident", ident))
        else:
            out.append(("num", num or "0"))
    return out


def _evaluate(expr: str, data: Mapping[str, Any], funcs: dict[str, Callable[..., Any]], where: str) -> Any:
    commands: list[list[tuple[str, str]]] = [[]]
    for tok in _tokens(expr, where):
        if tok[0] == "pipe":
            commands.append([])
        else:
            commands[-1].append(tok)
    result: Any = None
    for i, cmd in enumerate(commands):
        if not cmd:
            raise TemplateError(f"template {where}: empty command in {expr!r}", "check the | in this action")
        args: list[Any] = []
        for kind, text in cmd[1:] if cmd[0][0] == "ident" else cmd:
            if kind == "ident":
                raise TemplateError(f"template {where}: nested call {text!r} needs parentheses, unsupported",
                                    "use a pipeline instead")
            args.append(text if kind == "str" else int(text) if kind == "num" else _field(data, text, where))
        if i > 0:
            args.append(result)
        if cmd[0][0] == "ident":
            fn = funcs.get(cmd[0][1])
            if fn is None:
                raise TemplateError(f"template {where}: function {cmd[0][1]!r} not defined",
                                    f"supported: {', '.join(sorted(funcs))}")
            result = fn(*args)
        elif len(args) == 1:
            result = args[0]
        else:
            raise TemplateError(f"template {where}: {expr!r} is not a function call", "start it with a function")
    return result


def render(template: str, *, env: Mapping[str, str], data: Mapping[str, Any] | None = None,
           name: str = "template") -> str:
    """Render ``template`` with ``env`` (for ``expandenv``/``env``) and ``data`` (for ``.fields``)."""
    funcs = _functions(env)
    out: list[str] = []
    pos = 0
    for m in _ACTION.finditer(template):
        text = template[pos:m.start()]
        if m.group(1):
            text = text.rstrip()
        out.append(text)
        pos = m.end()
        if m.group(3):
            rest = template[pos:]
            pos += len(rest) - len(rest.lstrip())
        body = m.group(2).strip()
        if body.startswith("/*") and body.endswith("*/"):
            continue
        line = template.count("\n", 0, m.start()) + 1
        value = _evaluate(body, data or {}, funcs, f"{name}:{line}")
        out.append("<no value>" if value is None else str(value))
    out.append(template[pos:])
    return "".join(out)
