"""Run text part: the model summary, the compile config (with hyperparameters) and run
metadata, written once as markdown in `train/` when training first begins."""

from __future__ import annotations

import datetime
import warnings

from keras_tbx._core.context import LogContext, Part


class RunText(Part):
    """Writes `run/model_summary`, `run/config` and `run/metadata` (Text tab, `train/`,
    step 0) at the first `on_train_begin` of the callback, on the chief only."""

    def __init__(self, hparams=None):
        self.hparams = hparams
        self._written = False

    def train_begin(self, ctx: LogContext) -> None:
        if self._written or not ctx.writers.chief:
            return
        self._written = True
        from keras_tbx.summary._text import (
            compile_config, config_markdown, model_summary_markdown, run_metadata_markdown, text_pb)

        writer = ctx.writers.run("train")
        for tag, build in (
            ("run/model_summary", lambda: model_summary_markdown(ctx.model)),
            ("run/config", lambda: config_markdown(compile_config(ctx.model), self.hparams)),
            ("run/metadata", lambda: run_metadata_markdown(datetime.datetime.now().astimezone())),
        ):
            try:
                writer.write_pb(text_pb(tag, build()), 0)
            except Exception as e:  # noqa: BLE001 - text is a nicety; never stop training
                warnings.warn(f"keras_tbx.TensorBoard could not write `{tag}`: "
                              f"{type(e).__name__}: {e}", RuntimeWarning, stacklevel=2)
