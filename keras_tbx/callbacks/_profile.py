"""Profiler part: traces optimizer steps (a range, or a whole epoch) into `train/plugins/profile/`.

Every profiled step is wrapped in a step marker (`"train"` with `step_num`), so the Profile
tab's overview page and trace viewer show step times; Keras 3 writes none. Profiler errors
are logged, never raised into training.
"""

from __future__ import annotations

import logging
import math
import warnings

from keras_tbx._core.context import LogContext, Part
from keras_tbx._core.profiling import backend_profiler, safely
from keras_tbx._core.validation import default_profiler_options

_log = logging.getLogger("keras_tbx")
_warmed_up = False  # the profiler's one-time set-up is done in this process


def profiler_part(steps, epoch, options):
    """The TensorBoard facade's profiler part, or None when there is nothing to do.

    Args:
        steps: `(start, stop)` optimizer steps, or None.
        epoch: Epoch index, or None.
        options: Dict of every `ProfilerOptions` field.

    A profiler server started by `keras_tbx.profiler.start_server` before this is called
    turns on a step marker for every training step, for on-demand captures.
    """
    from keras_tbx import profiler as server

    wanted = steps is not None or epoch is not None
    if not wanted and server.server_port() is None:
        return None
    backend, why_not = backend_profiler()
    if backend is None:
        if wanted:
            warnings.warn(
                f"keras_tbx.TensorBoard: {why_not}; `profile_batch` / `profile_epoch` "
                "is ignored.",
                stacklevel=3,
            )
        return None
    return StepProfiler(backend, steps, epoch, options, server.server_port() is not None)


def _steps_per_call(model) -> int:
    """Optimizer steps Keras runs per call of the batch hooks (`steps_per_execution`)."""
    return max(1, int(getattr(model, "steps_per_execution", 1) or 1))


class StepProfiler(Part):
    """Profiles a range of optimizer steps or one whole epoch, with a marker on every step.

    Args:
        profiler: The backend's profiler (`keras_tbx._core.profiling.backend_profiler`).
        steps: `(start, stop)` optimizer steps to profile (inclusive), or None.
        epoch: Epoch index (as on the `epoch_*` charts) to profile from its start to its
            end, validation included, or None.
        options: Profiler options, a dict of every `ProfilerOptions` field.
        mark_every_step: Wrap every training step in a marker, also outside the range, so
            an on-demand capture sees steps too.

    Every process of a distributed job profiles the same steps: the chief into
    `<log_dir>/train`, the others into `<log_dir>/workers/<task>_<id>/train` (see
    `WriterPool.own_dir`), so the Profile tab lists each worker's trace as its own run.
    """

    batch_hooks = True

    def __init__(self, profiler, steps=None, epoch=None, options=None, mark_every_step=False):
        self._profiler = profiler
        self.start, self.stop = steps or (math.inf, -math.inf)
        self.epoch = epoch
        self.options = options or default_profiler_options()
        self.mark_every_step = mark_every_step
        self._pending = steps is not None or epoch is not None
        self._active = False
        self._marker = None

    def train_begin(self, ctx: LogContext) -> None:
        global _warmed_up
        if not self._pending:
            return
        if not _warmed_up:
            _warmed_up = True
            try:
                self._profiler.warm_up()
            except Exception as e:  # noqa: BLE001 - best effort (e.g. a capture is running)
                _log.debug("keras_tbx: profiler warm-up skipped: %s", e)
        if self.options != default_profiler_options() and safely(
            "profiler options probe", self._profiler.ignores_options
        ):
            warnings.warn(
                "keras_tbx: this TensorFlow ignores profiler options in local profiling "
                f"sessions, so {self.options} has no effect on `profile_batch` / "
                "`profile_epoch` traces (TensorFlow's defaults apply). On-demand capture "
                "(keras_tbx.profiler.capture, `keras-tbx profile`, TensorBoard's Capture "
                "button) applies them.",
                RuntimeWarning,
                stacklevel=2,
            )

    def epoch_begin(self, ctx: LogContext, epoch: int) -> None:
        if self._pending and epoch == self.epoch:
            self.start, self.stop = ctx.steps.epoch_base + 1, math.inf
            self._start(ctx)

    def batch_begin(self, ctx: LogContext, first_step: int) -> None:
        if self._pending and not self._active:
            if first_step + _steps_per_call(ctx.model) - 1 >= self.start and first_step <= self.stop:
                self._start(ctx)
        if self._active or self.mark_every_step:
            self._marker = safely("opening a step marker", self._profiler.marker, first_step)

    def batch_end(self, ctx: LogContext, step: int, logs: dict) -> None:
        self._close_marker()
        if self._active and step >= self.stop:
            self._stop()

    def epoch_end(self, ctx: LogContext, epoch: int, logs: dict) -> None:
        if self._active and epoch == self.epoch:
            self._stop()

    def train_end(self, ctx: LogContext) -> None:
        self._close_marker()
        if self._active:
            self._stop()

    def _close_marker(self) -> None:
        if self._marker is not None:
            marker, self._marker = self._marker, None
            safely("closing a step marker", marker.__exit__, None, None, None)

    def _start(self, ctx: LogContext) -> None:
        self._pending = False  # one attempt: a failed start is not retried every batch
        steps_in_call = _steps_per_call(ctx.model)
        if steps_in_call > 1:
            warnings.warn(
                f"keras_tbx: with steps_per_execution={steps_in_call} Keras runs each call's "
                "steps in a TensorFlow loop; the Profile tab then groups the trace by loop "
                "iteration and its overview page shows no step-time graph. The trace viewer "
                "has one `train` marker per call. Profile with steps_per_execution=1 to read "
                "step times.",
                RuntimeWarning,
                stacklevel=2,
            )
        try:
            self._profiler.start(ctx.writers.own_dir("train"), self.options)
            self._active = True
        except Exception as e:  # noqa: BLE001 - profiler failures never stop training
            warnings.warn(
                f"keras_tbx: could not start the profiler ({type(e).__name__}: {e}); training "
                "goes on without a profile. Is another profiling session running (a capture, "
                "tf.profiler.experimental.start)?", RuntimeWarning, stacklevel=2)

    def _stop(self) -> None:
        self._active = False
        safely("stopping the profiler", self._profiler.stop)
