"""HParams part: one HParams session per log dir, and the experiment config.

What it writes, all at step 0 in the run folder itself (`log_dir`, the session):

- at train begin: the session start (the values and the trial group);
- after the first epoch: the experiment config, with the metrics taken from that epoch's
  logs (`epoch_<metric>` under `train` and `validation`) and the macro averages of the
  classification part (`per_class/macro/<metric>`) — only then are they known;
- at train end: the session end, "success", or "failure" when the last loss logged is
  not finite (a run stopped by `keras.callbacks.TerminateOnNaN`).

Keras calls no callback when `fit()` raises, so a failure by exception is recorded by
whoever sees the exception: `with keras_tbx.TensorBoard(...) as tb:` around `fit()`, or
`keras_tbx.hparams.sweep`. TensorBoard keeps the first status a run records, so none is
written while training runs (the dashboard shows the session as "unknown" meanwhile).
Later `fit()` calls with the same callback continue the same session.
"""

from __future__ import annotations

import dataclasses
import math
import re

from keras_tbx._core.context import AfterFirstEpoch, LogContext
from keras_tbx.summary._hparams import (
    default_group_name,
    experiment_pb,
    final_metrics,
    metrics_from_logs,
    normalize_hparams,
    session_end_pb,
    session_start_pb,
)

_MACRO = re.compile(r"^per_class/macro/[^/]+$")


@dataclasses.dataclass
class HParamsSpec:
    """What the part records.

    Attributes:
        values: Hyperparameter values by name.
        domains: Declared domains by name (None where not declared).
        group_name: The trial the session belongs to (sessions of one group are averaged).
        write_session: Write the session start and end (a sweep writes them itself).
        write_config: Write the experiment config (a sweep writes one for all trials).
        observe: An object told each epoch's logs (`epoch_logs(logs)`) and, once, the
            metrics (`metrics_known(metrics)`): how a sweep's `Trial` learns them.
    """

    values: dict
    domains: dict
    group_name: str | None = None
    write_session: bool = True
    write_config: bool = True
    observe: object = None


class HParamsSession(AfterFirstEpoch):
    """Records one HParams session in the callback's run folder."""

    def __init__(self, spec: HParamsSpec):
        self.spec = spec
        self.started = self.ended = False
        self.last_logs = {}

    def _write(self, ctx: LogContext, pb) -> None:
        ctx.writers.run("").write_pb(pb, 0)
        ctx.writers.run("").flush()

    def train_begin(self, ctx: LogContext) -> None:
        if self.spec.write_session and not self.started:
            group = self.spec.group_name or default_group_name(self.spec.values)
            self._write(ctx, session_start_pb(self.spec.values, group_name=group))
        self.started = True

    def epoch_end(self, ctx: LogContext, epoch: int, logs: dict) -> None:
        super().epoch_end(ctx, epoch, logs)
        self.last_logs = dict(logs or {})
        if self.spec.observe is not None:
            self.spec.observe.epoch_logs(self.last_logs)

    def first_epoch_logged(self, ctx: LogContext) -> None:
        metrics = metrics_from_logs(self.last_logs) + macro_metrics(ctx.writers)
        if self.spec.observe is not None:
            self.spec.observe.metrics_known(metrics)
        if self.spec.write_config:
            hparams = {n: self.spec.domains.get(n) or v for n, v in self.spec.values.items()}
            self._write(ctx, experiment_pb(hparams, metrics))

    def train_end(self, ctx: LogContext) -> None:
        super().train_end(ctx)
        loss = final_metrics(self.last_logs).get("loss")
        self.end(ctx, "failure" if loss is not None and not math.isfinite(loss) else "success")

    def end(self, ctx: LogContext, status: str) -> None:
        """Writes the session end once (TensorBoard would keep only the first anyway)."""
        if self.spec.write_session and self.started and not self.ended:
            self._write(ctx, session_end_pb(status))
        self.ended = self.ended or self.started


def macro_metrics(writers) -> list:
    """`(per_class/macro/<metric>, run)` for the macro averages written to `train` and
    `validation` (by the classification part), as HParams metrics."""
    return [
        (tag, run)
        for run in ("train", "validation")
        for tag in sorted(writers.run(run).scalar_tags)
        if _MACRO.match(tag)
    ]


def hparams_spec(hparams) -> HParamsSpec | None:
    """The spec for `keras_tbx.TensorBoard(hparams=...)`: None, a mapping (validated by
    `keras_tbx.summary.normalize_hparams`), or a `keras_tbx.hparams.Trial`."""
    if hparams is None:
        return None
    from_trial = getattr(hparams, "_hparams_spec", None)
    if from_trial is not None:
        return from_trial()
    values, domains = normalize_hparams(hparams)
    return HParamsSpec(values, domains)
