"""Scalar parts: `epoch_*` and `batch_*` metrics, learning rate, steps per second."""

from __future__ import annotations

import time

import numpy as np

from keras_tbx._core.context import LogContext, Part
from keras_tbx._core.steps import optimizer_iterations
from keras_tbx._core.writers import MAX_PENDING_SECONDS
from keras_tbx.summary._scalars import split_metric

# Batch scalars wait for this many steps, then their learning rates come from one schedule call.
_LR_CHUNK = 256


def metric_scalars(logs: dict, prefix: str, class_names=None) -> dict:
    """`{prefix + name: float}` for every numeric entry of `logs`, vectors split."""
    values = {}
    for name, value in (logs or {}).items():
        values.update(split_metric(prefix + name, value, class_names))
    return values


def _optimizers(model):
    """`(log name, optimizer)` pairs the way Keras names learning rates."""
    optimizer = getattr(model, "optimizer", None)
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer
    if optimizer is None:
        return []
    if hasattr(optimizer, "optimizers"):
        return [(f"learning_rate_{o.name}", o) for o in optimizer.optimizers]
    if hasattr(optimizer, "learning_rate"):
        return [("learning_rate", optimizer)]
    return []


def current_learning_rates(model) -> dict:
    from keras import ops

    rates = {}
    for name, optimizer in _optimizers(model):
        try:
            rates[name] = float(np.asarray(ops.convert_to_numpy(optimizer.learning_rate)))
        except Exception:  # noqa: BLE001 - an exotic optimizer simply has no rate to log
            continue
    return rates


def learning_rates_at(optimizer, steps) -> np.ndarray:
    """The learning rate `optimizer` uses at each optimizer step in `steps`.

    A `LearningRateSchedule` is evaluated once on the whole vector of steps when it
    vectorizes, else step by step; a constant (or callable) rate is read once.
    """
    from keras import ops
    from keras.optimizers.schedules import LearningRateSchedule

    steps = np.asarray(steps, dtype=np.int64)
    schedule = getattr(optimizer, "_learning_rate", None)
    if not isinstance(schedule, LearningRateSchedule):
        rate = float(np.asarray(ops.convert_to_numpy(optimizer.learning_rate)))
        return np.full(steps.shape, rate)
    try:
        rates = np.asarray(ops.convert_to_numpy(schedule(ops.convert_to_tensor(steps))))
        if rates.shape == steps.shape:
            return rates.astype(np.float64)
    except Exception:  # noqa: BLE001 - schedules with scalar-only control flow
        pass
    return np.array([float(np.asarray(ops.convert_to_numpy(schedule(int(s))))) for s in steps])


class EpochScalars(Part):
    """`epoch_<metric>` under `train/` and `validation/`, the learning rate and, when
    asked, `epoch_steps_per_second`; `evaluation_<metric>_vs_iterations` after each
    validation, as Keras writes them."""

    def __init__(self, write_steps_per_second: bool):
        self.write_steps_per_second = write_steps_per_second
        self._epoch_start = None

    def epoch_begin(self, ctx: LogContext, epoch: int) -> None:
        self._epoch_start = (time.perf_counter(), ctx.steps.last_step)

    def test_end(self, ctx: LogContext, logs: dict) -> None:
        if not logs or getattr(ctx.model, "optimizer", None) is None:
            return
        step = ctx.steps.optimizer_step(optimizer_iterations(ctx.model))
        values = {}
        for name, value in logs.items():
            values.update(split_metric(f"evaluation_{name}_vs_iterations", value, ctx.class_names))
        ctx.writers.run("validation").add_scalars(values, step)

    def epoch_end(self, ctx: LogContext, epoch: int, logs: dict) -> None:
        logs = logs or {}
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        train_values = metric_scalars(train, "epoch_", ctx.class_names)
        train_values.update(
            {f"epoch_{k}": v for k, v in current_learning_rates(ctx.model).items()}
        )
        if self.write_steps_per_second and self._epoch_start is not None:
            start_time, start_step = self._epoch_start
            steps_done = ctx.steps.optimizer_step(optimizer_iterations(ctx.model)) - start_step
            elapsed = time.perf_counter() - start_time
            if elapsed > 0:
                train_values["epoch_steps_per_second"] = steps_done / elapsed
        ctx.writers.run("train").add_scalars(train_values, epoch)
        ctx.writers.run("validation").add_scalars(
            metric_scalars(val, "epoch_", ctx.class_names), epoch
        )


class BatchScalars(Part):
    """`batch_<metric>` every `update_freq` optimizer steps, with the learning rate in
    force at that step (`batch_learning_rate`) and, when asked, `batch_steps_per_second`.

    Steps wait here until a chunk is full (or a few seconds passed, or the epoch ended);
    then the learning rates of the whole chunk come from one schedule call and each step
    goes out as one record holding all its scalars.
    """

    batch_hooks = True

    def __init__(self, update_freq: int, write_steps_per_second: bool):
        self.update_freq = update_freq
        self.write_steps_per_second = write_steps_per_second
        self._batch_start = None
        self._pending = []  # (step, {tag: value})
        self._last_write = time.monotonic()

    def batch_begin(self, ctx: LogContext, first_step: int) -> None:
        if self.write_steps_per_second:
            self._batch_start = time.perf_counter()

    def batch_end(self, ctx: LogContext, step: int, logs: dict) -> None:
        steps_in_call = max(1, int(getattr(ctx.model, "steps_per_execution", 1) or 1))
        first = max(step - steps_in_call, ctx.steps.epoch_base)
        if step // self.update_freq == first // self.update_freq:
            return  # no multiple of update_freq among the steps this call ran
        values = metric_scalars(logs, "batch_", ctx.class_names)
        if self.write_steps_per_second and self._batch_start is not None:
            elapsed = time.perf_counter() - self._batch_start
            if elapsed > 0:
                values["batch_steps_per_second"] = (step - first) / elapsed
        self._pending.append((step, values))
        if len(self._pending) >= _LR_CHUNK or time.monotonic() - self._last_write >= MAX_PENDING_SECONDS:
            self._write(ctx)

    def _write(self, ctx: LogContext) -> None:
        pending, self._pending = self._pending, []
        self._last_write = time.monotonic()
        if not pending:
            return
        steps = np.array([step for step, _ in pending])
        offset = ctx.steps.optimizer_step(0)
        for name, optimizer in _optimizers(ctx.model):
            try:
                rates = learning_rates_at(optimizer, steps - offset)
            except Exception:  # noqa: BLE001 - no rate to log for this optimizer
                continue
            for (_, values), rate in zip(pending, rates):
                values[f"batch_{name}"] = float(rate)
        writer = ctx.writers.run("train")
        for step, values in pending:
            writer.add_scalars(values, step)

    def epoch_end(self, ctx: LogContext, epoch: int, logs: dict) -> None:
        self._write(ctx)

    def drain(self, ctx: LogContext) -> None:
        """Hands the waiting steps to the writers (when fit died; see `WriterPool.add_drain`)."""
        self._write(ctx)

    def train_end(self, ctx: LogContext) -> None:
        self._write(ctx)
