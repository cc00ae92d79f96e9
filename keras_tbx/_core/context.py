"""What a feature part sees of the training run, and the interface every part implements."""

from __future__ import annotations

import dataclasses

from keras_tbx._core.steps import StepAxis
from keras_tbx._core.writers import WriterPool


@dataclasses.dataclass
class LogContext:
    """Shared state of one callback: the model, its writers, its step axis.

    Attributes:
        writers: The run writers under `log_dir` (chief decision included).
        steps: The callback's step axis.
        model: The Keras model (set by `set_model`).
        params: Keras' `params` dict (`epochs`, `steps`, `verbose`).
        class_names: Names of the classes, when known.
    """

    writers: WriterPool
    steps: StepAxis = dataclasses.field(default_factory=StepAxis)
    model: object = None
    params: dict = dataclasses.field(default_factory=dict)
    class_names: list | None = None


class Part:
    """A feature of the TensorBoard callback: decides what to write at which event.

    Parts never build protos or figures inline; they call `keras_tbx.summary` functions and
    hand the result to `ctx.writers`. `batch_hooks` says whether the part needs the
    per-batch hooks at all; when no part does, the callback adds no per-batch work.
    """

    batch_hooks = False

    def train_begin(self, ctx: LogContext) -> None:
        pass

    def epoch_begin(self, ctx: LogContext, epoch: int) -> None:
        pass

    def batch_begin(self, ctx: LogContext, first_step: int) -> None:
        pass

    def batch_end(self, ctx: LogContext, step: int, logs: dict) -> None:
        pass

    def test_begin(self, ctx: LogContext) -> None:
        pass

    def test_end(self, ctx: LogContext, logs: dict) -> None:
        pass

    def epoch_end(self, ctx: LogContext, epoch: int, logs: dict) -> None:
        pass

    def train_end(self, ctx: LogContext) -> None:
        pass


class AfterFirstEpoch(Part):
    """A part that acts once all parts have logged the first epoch.

    Parts run in list order, so what a part sees in its own `epoch_end` may miss what later
    parts write then. `first_epoch_logged` runs at the first `epoch_begin` or `train_end`
    that follows an `epoch_end`, once per part. Subclasses that override these hooks call
    `super()`.
    """

    _due = False
    _done = False

    def first_epoch_logged(self, ctx: LogContext) -> None:
        pass

    def epoch_end(self, ctx: LogContext, epoch: int, logs: dict) -> None:
        self._due = not self._done

    def epoch_begin(self, ctx: LogContext, epoch: int) -> None:
        if self._due:
            self._due, self._done = False, True
            self.first_epoch_logged(ctx)

    def train_end(self, ctx: LogContext) -> None:
        AfterFirstEpoch.epoch_begin(self, ctx, 0)
