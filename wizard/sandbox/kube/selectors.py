"""Label and field selectors, as list and watch take them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .objects import KubeError

Test = Callable[[dict[str, Any]], bool]


def _split(text: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return parts


def _in(key: str, values: set[str], negate: bool) -> Test:
    return lambda o: (_labels(o).get(key) in values) != negate


def _equals(key: str, value: str, negate: bool) -> Test:
    return lambda o: (_labels(o).get(key) == value) != negate


def _exists(key: str, negate: bool) -> Test:
    return lambda o: (key in _labels(o)) != negate


def label_selector(text: str) -> Test:
    """Parse ``a=b,c!=d,e in (x,y),!f,g``."""
    tests: list[Test] = []
    for part in _split(text or ""):
        m = re.match(r"^([\w./-]+)\s+(in|notin)\s+\((.*)\)$", part)
        if m:
            tests.append(_in(m.group(1), {v.strip() for v in m.group(3).split(",")}, m.group(2) == "notin"))
            continue
        m = re.match(r"^([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)$", part)
        if m:
            tests.append(_equals(m.group(1), m.group(3), m.group(2) == "!="))
            continue
        m = re.match(r"^(!?)([\w./-]+)$", part)
        if m:
            tests.append(_exists(m.group(2), bool(m.group(1))))
            continue
        raise KubeError(400, "BadRequest", f"unable to parse requirement: {part!r}")
    return lambda o: all(t(o) for t in tests)


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return obj.get("metadata", {}).get("labels") or {}


def field_selector(text: str) -> Test:
    """Parse ``metadata.name=x,spec.nodeName!=y`` over dotted paths."""
    tests: list[Test] = []
    for part in _split(text or ""):
        m = re.match(r"^([\w.]+)\s*(==|=|!=)\s*(.*)$", part)
        if not m:
            raise KubeError(400, "BadRequest", f"invalid field selector: {part!r}")
        path, op, value = m.groups()
        tests.append(_field(path.split("."), value, op == "!="))
    return lambda o: all(t(o) for t in tests)


def _field(steps: list[str], value: str, negate: bool) -> Test:
    return lambda o: (str(_dig(o, steps)) == value) != negate


def _dig(obj: Any, path: list[str]) -> Any:
    for p in path:
        obj = obj.get(p, "") if isinstance(obj, dict) else ""
    return obj


def matches_selector(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A LabelSelector object (matchLabels, matchExpressions) against labels."""
    if not selector:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), set(expr.get("values") or [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True
