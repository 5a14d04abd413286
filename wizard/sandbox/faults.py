"""Fault injection for the sandbox: ``kind=rate`` pairs such as ``429=0.05,500=0.02,seed=7``.

Kinds: ``429`` (throttled, with Retry-After), ``500``, ``503``, ``reset`` (the connection is dropped
without an answer) and ``lro_fail`` (a long-running operation ends Failed). ``seed=N`` makes the
sequence of faults repeatable.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

KINDS = ("429", "500", "503", "reset", "lro_fail")


class FaultSpecError(ValueError):
    """The fault specification is malformed."""


@dataclass
class Faults:
    """Parsed fault rates and the random source that rolls them."""

    rates: dict[str, float] = field(default_factory=dict)
    seed: int | None = None
    rng: random.Random = field(default_factory=random.Random)

    @classmethod
    def parse(cls, spec: str | None) -> Faults:
        """Parse ``429=0.05,500=0.02,seed=7``; raise FaultSpecError naming the bad part."""
        rates: dict[str, float] = {}
        seed = None
        for part in (spec or "").split(","):
            part = part.strip()
            if not part:
                continue
            kind, sep, value = part.partition("=")
            if not sep:
                raise FaultSpecError(f"'{part}' is not kind=rate (kinds: {', '.join(KINDS)}, seed)")
            if kind == "seed":
                try:
                    seed = int(value)
                except ValueError:
                    raise FaultSpecError(f"seed must be a whole number, not '{value}'") from None
                continue
            if kind not in KINDS:
                raise FaultSpecError(f"unknown fault kind '{kind}' (kinds: {', '.join(KINDS)}, seed)")
            try:
                rate = float(value)
            except ValueError:
                raise FaultSpecError(f"rate for {kind} must be a number from 0 to 1, not '{value}'") from None
            if not 0 <= rate <= 1:
                raise FaultSpecError(f"rate for {kind} must be from 0 to 1, not {rate}")
            rates[kind] = rate
        if sum(r for k, r in rates.items() if k != "lro_fail") > 1:
            raise FaultSpecError("the request fault rates add up to more than 1")
        return cls(rates, seed, random.Random(seed))

    def roll(self) -> str | None:
        """Which request fault (if any) hits the next request."""
        if not any(k != "lro_fail" for k in self.rates):
            return None
        x = self.rng.random()
        acc = 0.0
        for kind in ("429", "500", "503", "reset"):
            acc += self.rates.get(kind, 0.0)
            if x < acc:
                return kind
        return None
