"""Profiler part: traces a range of optimizer steps into `train/plugins/profile/`."""

from __future__ import annotations

import logging
import os

from keras_tbx._core.context import LogContext, Part

_log = logging.getLogger("keras_tbx")


class StepProfiler(Part):
    """Profiles optimizer steps `start..stop` (inclusive) with the TF profiler.

    Each profiled batch is wrapped in a `tf.profiler.experimental.Trace("train",
    step_num=...)` marker so the Profile tab can tell steps apart. Profiler errors are
    logged, never raised.
    """

    batch_hooks = True

    def __init__(self, start: int, stop: int):
        self.start, self.stop = start, stop
        self._active = False
        self._done = False
        self._trace = None

    def batch_begin(self, ctx: LogContext, first_step: int) -> None:
        if self._done or not ctx.writers.chief:
            return
        steps_in_call = max(1, int(getattr(ctx.model, "steps_per_execution", 1) or 1))
        last_step = first_step + steps_in_call - 1
        if not self._active and last_step >= self.start and first_step <= self.stop:
            self._start(ctx)
        if self._active:
            import tensorflow as tf

            try:
                self._trace = tf.profiler.experimental.Trace("train", step_num=first_step, _r=1)
                self._trace.__enter__()
            except Exception as e:  # noqa: BLE001
                _log.error("keras_tbx: could not open a profiler step marker: %s", e)
                self._trace = None

    def batch_end(self, ctx: LogContext, step: int, logs: dict) -> None:
        if not self._active:
            return
        if self._trace is not None:
            self._trace.__exit__(None, None, None)
            self._trace = None
        if step >= self.stop:
            self._stop()

    def _start(self, ctx: LogContext) -> None:
        import tensorflow as tf

        try:
            tf.profiler.experimental.start(os.path.join(ctx.writers.log_dir, "train"))
            self._active = True
        except Exception as e:  # noqa: BLE001 - profiler failures never stop training
            _log.error("keras_tbx: failed to start the profiler: %s", e)
            self._done = True

    def _stop(self) -> None:
        import tensorflow as tf

        self._active, self._done = False, True
        try:
            tf.profiler.experimental.stop()
        except Exception as e:  # noqa: BLE001
            _log.error("keras_tbx: failed to stop the profiler: %s", e)

    def train_end(self, ctx: LogContext) -> None:
        if self._active:
            if self._trace is not None:
                self._trace.__exit__(None, None, None)
                self._trace = None
            self._stop()
