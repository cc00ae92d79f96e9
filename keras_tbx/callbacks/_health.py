"""Training-health parts: gradients and activations on a probe batch, weight histograms
at a step frequency, and the NaN / Inf guard.

Everything here is chief-only work (plain eager calls on a fixed probe, no collective),
scheduled by a `Frequency` (every N epochs, or every N optimizer steps through the
per-batch hooks). A failure while computing warns once and turns the part off; it never
stops `fit`.
"""

from __future__ import annotations

import logging
import math
import numbers
import warnings

import numpy as np

from keras_tbx._core.context import LogContext, Part
from keras_tbx._core.frequency import Frequency

_log = logging.getLogger("keras_tbx")
ALERT_TAG = "health/alerts"
NAN_GUARD_MODES = (None, "warn", "stop")


# -- constructor checks (Keras' message template) ---------------------------------------
def check_probe(value):
    """`None`, `(x, y)` or `(x, y, sample_weight)` with as many samples in each."""
    if value is None:
        return None
    if not isinstance(value, (tuple, list)) or len(value) not in (2, 3):
        raise TypeError("Argument `probe` must be a tuple (x, y) or (x, y, sample_weight). "
                        f"Received: probe={type(value).__name__}")
    lengths = {len(v) for v in value if v is not None and hasattr(v, "__len__")}
    if len(lengths) > 1:
        raise ValueError("Argument `probe` must hold as many samples in x, y (and sample_weight). "
                         f"Received: probe with lengths {sorted(lengths)}")
    if 0 in lengths:
        raise ValueError("Argument `probe` must be a non-empty batch. Received: probe with 0 samples")
    return tuple(value) if len(value) == 3 else (value[0], value[1], None)


def check_thresholds(value):
    """`(vanishing, exploding)`: two positive numbers, vanishing < exploding."""
    ok = (isinstance(value, (tuple, list)) and len(value) == 2
          and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value)
          and 0 <= value[0] < value[1])
    if not ok:
        raise ValueError("Argument `gradient_thresholds` must be a pair (vanishing, exploding) of "
                         f"numbers with 0 <= vanishing < exploding. Received: gradient_thresholds={value!r}")
    return float(value[0]), float(value[1])


def check_nan_guard(value):
    if value not in NAN_GUARD_MODES or isinstance(value, bool):
        raise ValueError('Argument `nan_guard` must be None, "warn" or "stop". '
                         f"Received: nan_guard={value!r}")
    return value


def check_layer_names(value):
    if value is None:
        return None
    if isinstance(value, str) or not all(isinstance(v, str) for v in value) or not value:
        raise TypeError("Argument `activation_layers` must be None or a non-empty list of layer "
                        f"names. Received: activation_layers={value!r}")
    return list(value)


def write_alert(ctx: LogContext, step: int, title: str, lines) -> None:
    """Writes a markdown alert (`health/alerts` in `train/`) and flushes it to disk."""
    from keras_tbx.summary._text import text_pb

    body = f"**{title}**\n\n" + "\n".join(f"- {line}" for line in lines)
    writer = ctx.writers.run("train")
    writer.write_pb(text_pb(ALERT_TAG, body), step)
    writer.flush()


class _Scheduled(Part):
    """A part that acts every `freq`: at epoch ends (epoch frequency, at the epoch step)
    or after due optimizer steps (step frequency, through the per-batch hooks)."""

    sync = True  # its batch work calls the model: not on Keras' async dispatch thread

    def __init__(self, freq: Frequency, what: str):
        self.freq = freq
        self.batch_hooks = freq.per_step
        self._what = what
        self._first_step = 1
        self._failed = False
        self.epoch = 0

    def act(self, ctx: LogContext, step: int) -> None:
        raise NotImplementedError

    def _run(self, ctx, step):
        if self._failed or not ctx.writers.chief:
            return
        try:
            self.act(ctx, step)
        except Exception as e:  # noqa: BLE001 - diagnostics must never stop training
            self._failed = True
            warnings.warn(f"keras_tbx.TensorBoard could not compute {self._what} at step {step}: "
                          f"{type(e).__name__}: {e}. They are off for the rest of this run; "
                          "training goes on.", RuntimeWarning, stacklevel=2)

    def epoch_begin(self, ctx, epoch):
        self.epoch = epoch

    def batch_begin(self, ctx, first_step):
        self._first_step = first_step

    def batch_end(self, ctx, step, logs):
        due = self.freq.due_between(self._first_step, step)
        if due is not None:
            self._run(ctx, due)

    def epoch_end(self, ctx, epoch, logs):
        if self.freq.at_epoch(epoch):
            self._run(ctx, epoch)


class GradientSummaries(_Scheduled):
    """Loss gradients on the probe: `gradients/global_norm`, `gradients/norm/<layer>`
    scalars, `gradients/<weight path>` histograms, and a `health/alerts` text when a norm
    is not finite, vanishing or exploding (`train/`)."""

    def __init__(self, freq, probe, thresholds=(1e-7, 1e3), guard=None):
        super().__init__(freq, "gradient summaries")
        self.probe = probe
        self.vanishing, self.exploding = thresholds
        self.guard = guard

    def act(self, ctx, step):
        from keras_tbx.summary._health import gradient_health, gradient_norms
        from keras_tbx.summary._weights import histograms_pb

        x, y, sample_weight = self.probe
        norms = gradient_norms(ctx.model, x, y, sample_weight=sample_weight)
        writer = ctx.writers.run("train")
        scalars = {"gradients/global_norm": norms["global_norm"]}
        scalars.update({f"gradients/norm/{name}": v for name, v in norms["layer_norms"].items()})
        writer.add_scalars(scalars, step)
        writer.write_pb(histograms_pb((f"gradients/{path}", g) for path, g in norms["gradients"].items()), step)
        alerts = gradient_health(norms, vanishing=self.vanishing, exploding=self.exploding)
        if alerts:
            write_alert(ctx, step, f"Gradient alert at step {step} (epoch {self.epoch})", alerts)
            _log.warning("keras_tbx: gradient alert at step %s: %s", step, "; ".join(alerts))
        if self.guard is not None and not math.isfinite(norms["global_norm"]):
            self.guard.report(ctx, step, {"gradients/global_norm": norms["global_norm"]})


class ActivationSummaries(_Scheduled):
    """Layer outputs on the probe inputs as `activations/<layer>` histograms, and the
    per-head entropy of `MultiHeadAttention` layers as `attention/entropy/<layer>` (mean
    over heads) and `attention/entropy/<layer>/head_<i>` scalars (`train/`)."""

    def __init__(self, freq, x, layer_names=None):
        super().__init__(freq, "activation summaries")
        self.x = x
        self.layer_names = layer_names
        self._submodel = None

    def act(self, ctx, step):
        from keras_tbx.summary._health import (
            activation_model, activations, attention_entropy, default_activation_layers)
        from keras_tbx.summary._weights import histograms_pb

        model = ctx.model
        if self._submodel is None:
            if self.layer_names is None:
                self.layer_names = default_activation_layers(model)
            self._submodel = activation_model(model, self.layer_names)
        values = activations(model, self.layer_names, self.x, submodel=self._submodel)
        writer = ctx.writers.run("train")
        writer.write_pb(histograms_pb((f"activations/{name}", a) for name, a in values.items()), step)
        entropy = attention_entropy(model, self.x)
        scalars = {}
        for name, heads in entropy.items():
            scalars[f"attention/entropy/{name}"] = float(np.mean(heads))
            scalars.update({f"attention/entropy/{name}/head_{i}": float(h) for i, h in enumerate(heads)})
        writer.add_scalars(scalars, step)


class WeightFrequency(_Scheduled):
    """`histogram_freq="N steps"`: the weight histograms (and images) of
    `WeightSummaries`, after every N-th optimizer step."""

    def __init__(self, freq, weights_part):
        super().__init__(freq, "weight histograms")
        self.weights_part = weights_part

    def _run(self, ctx, step):
        self.weights_part.write(ctx, step)  # reads on every process (collective safety)


def _finite(value) -> bool:
    try:
        return bool(np.all(np.isfinite(np.asarray(value, dtype=np.float64))))
    except (TypeError, ValueError):
        return True  # not a number: nothing to check


class NanGuard(Part):
    """Checks every batch's logs (and each epoch's, validation included) and the probe
    gradients for NaN / Inf. The first non-finite value writes a `health/alerts` text
    naming the step, the epoch, what went bad and the last finite values, flushed at
    once; warns once; with `mode="stop"` sets `model.stop_training` (as
    `keras.callbacks.TerminateOnNaN`)."""

    batch_hooks = True
    sync = True

    def __init__(self, mode: str):
        self.mode = mode
        self.fired = False
        self.epoch = 0
        self._last = {}  # name -> (value, step)

    def epoch_begin(self, ctx, epoch):
        self.epoch = epoch

    def batch_end(self, ctx, step, logs):
        self._check(ctx, step, logs, f"batch ending at step {step}")

    def epoch_end(self, ctx, epoch, logs):
        self._check(ctx, ctx.steps.last_step, logs, f"end of epoch {epoch}")

    def _check(self, ctx, step, logs, where):
        if self.fired:
            return
        bad = {k: v for k, v in logs.items() if not _finite(v)}
        if bad:
            self.report(ctx, step, bad, where)
            return
        for key, value in logs.items():
            self._last[key] = (value, step)

    def report(self, ctx, step, bad: dict, where: str | None = None) -> None:
        if self.fired:
            return
        self.fired = True
        where = where or f"step {step}"
        lines = [f"`{k}` = {_show(v)} (last finite: {_last(self._last.get(k))})" for k, v in sorted(bad.items())]
        ok = [f"`{k}` = {_show(v)} (step {s})" for k, (v, s) in sorted(self._last.items()) if k not in bad]
        if ok:
            lines.append("last finite values of the others: " + ", ".join(ok))
        action = "training stopped (`nan_guard=\"stop\"`)" if self.mode == "stop" else "training goes on"
        title = f"Non-finite values at step {step} (epoch {self.epoch}, {where}); {action}"
        write_alert(ctx, step, title, lines)
        warnings.warn(f"keras_tbx.TensorBoard: {title}: {', '.join(sorted(bad))}. "
                      f"See the `{ALERT_TAG}` text in TensorBoard.", RuntimeWarning, stacklevel=2)
        if self.mode == "stop" and ctx.model is not None:
            ctx.model.stop_training = True


def _show(value):
    array = np.asarray(value)
    return f"{float(array):.6g}" if array.ndim == 0 else np.array2string(array, precision=4)


def _last(entry):
    return "never" if entry is None else f"{_show(entry[0])} at step {entry[1]}"
