"""`*_freq` arguments: every N epochs (Keras' meaning of an int) or every N optimizer steps.

Accepted values:
- `0` or `None`: off.
- a positive int N, or `"epoch"` (= 1): at the end of every N-th epoch (epoch index % N == 0,
  as Keras' `histogram_freq`).
- `"N steps"` / `"N step"` / `"Nsteps"`, or `"batch"` (= every step): after every N-th
  optimizer step (step % N == 0). Only parts that get per-batch hooks act on these.
"""

from __future__ import annotations

import dataclasses
import numbers
import re

_STEPS = re.compile(r"^\s*(\d+)\s*steps?\s*$")
_CONSTRAINT = '0, a positive integer (epochs), "epoch", "batch" or a string "N steps"'


@dataclasses.dataclass(frozen=True)
class Frequency:
    """A parsed `*_freq`: exactly one of `epochs`, `steps` is set, or neither (off)."""

    epochs: int = 0
    steps: int = 0

    def __bool__(self) -> bool:
        return bool(self.epochs or self.steps)

    @property
    def per_step(self) -> bool:
        """True when the frequency counts optimizer steps (needs per-batch hooks)."""
        return bool(self.steps)

    def at_epoch(self, epoch: int) -> bool:
        """Whether to act at the end of epoch `epoch` (its step on the epoch axis)."""
        return bool(self.epochs) and epoch % self.epochs == 0

    def at_step(self, step: int) -> bool:
        """Whether to act after optimizer step `step`."""
        return bool(self.steps) and step % self.steps == 0

    def due_between(self, first_step: int, last_step: int) -> int | None:
        """The last step in `[first_step, last_step]` that is due (for
        `steps_per_execution` > 1, where one batch hook covers several steps), or None."""
        if not self.steps or last_step < first_step:
            return None
        due = last_step - last_step % self.steps
        return due if due >= first_step else None

    def __str__(self) -> str:
        if self.steps:
            return f"{self.steps} steps"
        return f"{self.epochs} epochs" if self.epochs else "off"


def check_freq(name: str, value) -> Frequency:
    """Parses a `*_freq` argument, raising with Keras' template when it is invalid."""
    if value is None:
        return Frequency()
    if isinstance(value, str):
        if value == "epoch":
            return Frequency(epochs=1)
        if value == "batch":
            return Frequency(steps=1)
        match = _STEPS.match(value)
        if match and int(match.group(1)) > 0:
            return Frequency(steps=int(match.group(1)))
        raise ValueError(f"Argument `{name}` must be {_CONSTRAINT}. Received: {name}={value!r}")
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"Argument `{name}` must be {_CONSTRAINT}. Received: {name}={value!r}")
    if value < 0:
        raise ValueError(f"Argument `{name}` must be {_CONSTRAINT}. Received: {name}={value!r}")
    return Frequency(epochs=int(value))
