"""Classification part: per-class scalars, confusion matrices, PR curves and prediction
images, from counts accumulated inside Keras' own train and validation passes."""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import warnings

import numpy as np

from keras_tbx._core.context import LogContext, Part

_log = logging.getLogger("keras_tbx")

_REGRESSION_LOSSES = ("mean_squared", "mean_absolute", "huber", "log_cosh", "cosine_similarity",
                      "poisson", "squared_hinge", "mse", "mae", "mape", "msle")
_MULTI_LABEL_LOSSES = ("binary_crossentropy", "binary_focal_crossentropy")


def _loss_for(model, output):
    loss = getattr(model, "loss", None)
    if isinstance(loss, dict):
        return loss.get(output)
    if isinstance(loss, (list, tuple)):
        names = list(getattr(model, "output_names", []) or [])
        index = names.index(output) if output in names else output
        return loss[index] if isinstance(index, int) and index < len(loss) else None
    return loss


def _loss_facts(loss):
    """`(snake_case name, from_logits)` of a Keras loss given as str, object or function."""
    if loss is None:
        return "", False
    name = loss if isinstance(loss, str) else (
        getattr(loss, "name", None) or getattr(loss, "__name__", None) or type(loss).__name__)
    from_logits = False
    if hasattr(loss, "get_config"):
        try:
            from_logits = bool(loss.get_config().get("from_logits", False))
        except Exception:  # noqa: BLE001 - a loss without config: probabilities assumed
            pass
    return str(name).lower(), from_logits


class Classification(Part):
    """Diagnostics for a classifier, written every epoch for `train/` and `validation/`.

    Counts accumulate in-graph during the passes `fit` runs anyway (zero extra forward
    passes over the data); only the fixed `sample` is run through the model, once per
    epoch. Under a multi-worker strategy, reading the counts sums them across workers (a
    collective: every worker reads, in the same order, before the chief check) and the
    sample is predicted on every worker too; rendering and writing happen on a
    background thread of the chief only.
    """

    def __init__(self, class_names, *, output=None, sample=None, max_images=16,
                 num_thresholds=101, max_classes=30, multi_label=None, display=None):
        self.class_names = list(class_names)
        self.output, self.sample, self.max_images = output, sample, max_images
        self.num_thresholds, self.max_classes, self.multi_label = num_thresholds, max_classes, multi_label
        self.display = dict(display or {})  # how sample images are shown (`display_images`)
        self._hook = None
        self._counts = {}
        self._validation = None
        self.last_counts = {}
        self._executor = None
        self._warned = set()

    # -- set-up ---------------------------------------------------------------------
    def train_begin(self, ctx: LogContext) -> None:
        from keras_tbx._core.accumulate import ClassificationCounts, Hook

        model = ctx.model
        name, from_logits = _loss_facts(_loss_for(model, self.output))
        if any(key in name for key in _REGRESSION_LOSSES):
            raise ValueError(
                "Argument `class_names` needs a classification model, but the loss is "
                f"{name!r} (a regression loss: no class axis). Received: class_names="
                f"{self.class_names!r}")
        multi_label = self.multi_label
        if multi_label is None:
            multi_label = any(key in name for key in _MULTI_LABEL_LOSSES) and len(self.class_names) > 2
        self._multi_label = multi_label
        if self._hook is None:
            strategy = getattr(model, "distribute_strategy", None)
            scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
            with scope:
                self._counts = {
                    phase: ClassificationCounts(len(self.class_names), "multi_label" if multi_label else "sparse",
                                                from_logits=from_logits, num_thresholds=self.num_thresholds,
                                                name=f"keras_tbx_{phase}_counts")
                    for phase in ("train", "validation")
                }
            self._hook = Hook(self._counts, self._select)
        self._hook.install(model)
        for counts in self._counts.values():
            counts.reset_state()  # from here on each read leaves them reset
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="keras_tbx")

    def _select(self, y, y_pred, sample_weight):
        """Picks the classified output; checks its width against `class_names` (at trace
        time, so a mismatch stops `fit` at its first batch with a clear message)."""
        if isinstance(y_pred, dict) or isinstance(y_pred, (list, tuple)):
            key = self.output
            if key is None:
                raise ValueError(
                    "Argument `classification_output` must name the classified output of a "
                    f"multi-output model. Received: classification_output=None")
            if isinstance(y_pred, (list, tuple)) and isinstance(key, str):
                key = list(self._hook.model.output_names).index(key)
            y, y_pred = y[key], y_pred[key]
            sample_weight = sample_weight[key] if isinstance(sample_weight, (dict, list, tuple)) else sample_weight
        width, n = y_pred.shape[-1], len(self.class_names)
        if width == 1 and not self._multi_label:
            if n != 2:
                raise ValueError(
                    "Argument `class_names` must have 2 names for a model with one sigmoid "
                    f"output. Received: class_names={self.class_names!r}")
            mode = "binary"
        elif width != n:
            raise ValueError(
                f"Argument `class_names` must have one name per output unit ({width}). "
                f"Received: class_names of length {n}")
        elif self._multi_label:
            mode = "multi_label"
        else:
            mode = "one_hot" if len(y.shape) >= 2 and y.shape[-1] == n and n > 1 else "sparse"
        for counts in self._counts.values():
            counts.mode = mode
        return y, y_pred, sample_weight

    # -- events ---------------------------------------------------------------------
    # Counts are reset at train begin and by every read, so an epoch's (or a validation
    # pass's) counts are exactly what its steps added.
    def epoch_begin(self, ctx: LogContext, epoch: int) -> None:
        self._validation = None

    def test_end(self, ctx: LogContext, logs: dict) -> None:
        if self._counts:
            self._validation = self._counts["validation"].read_and_reset()

    def epoch_end(self, ctx: LogContext, epoch: int, logs: dict) -> None:
        results = {"train": self._counts["train"].read_and_reset(), "validation": self._validation}
        self.last_counts = results  # what this epoch wrote, kept for inspection
        sample = self._predict_sample(ctx)
        if not ctx.writers.chief:
            return
        for run, counts in results.items():
            if counts is None:
                continue
            if counts["pos_hist"].sum() == 0:
                self._warn_once("empty", "keras_tbx.TensorBoard saw no predictions to count: the "
                                "model's train_step/test_step does not call `compute_metrics`.")
                continue
            if counts["out_of_range"]:
                self._warn_once("range", f"{int(counts['out_of_range'])} labels were outside "
                                f"[0, {len(self.class_names)}) and were not counted; check "
                                "Argument `class_names` against the labels.")
            self._submit(ctx, run, epoch, counts)
        if sample is not None:
            self._submit_sample(ctx, epoch, *sample)

    def train_end(self, ctx: LogContext) -> None:
        if self._hook is not None:
            self._hook.uninstall()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    # -- work -----------------------------------------------------------------------
    def _predict_sample(self, ctx):
        if self.sample is None:
            return None
        from keras import ops

        x, y = self.sample
        x, y = x[: self.max_images], np.asarray(y)[: self.max_images]
        # A plain eager call outside `fit`'s functions: mirrored weights are read locally
        # and no collective runs, so it cannot deadlock; it runs on every worker anyway,
        # so a layer with synchronized-on-read state would still be joined by all of them.
        # (`model.predict` here would be a collective: fatal if only the chief ran it.)
        y_pred = ctx.model(x, training=False)
        if isinstance(y_pred, dict) or isinstance(y_pred, (list, tuple)):
            key = self.output
            if isinstance(y_pred, (list, tuple)) and isinstance(key, str):
                key = list(ctx.model.output_names).index(key)
            y_pred = y_pred[key]
        return np.asarray(x), y, np.asarray(ops.convert_to_numpy(y_pred))

    def _submit(self, ctx, run, epoch, counts):
        writer = ctx.writers.run(run)
        names, multi_label, max_classes = self.class_names, self._multi_label, self.max_classes

        def job():
            from keras_tbx import summary
            from keras_tbx.summary._predictions import multi_label_scalars_pb

            tp, fp, tn, fn = summary.pr_counts_from_histograms(counts["pos_hist"], counts["neg_hist"])
            writer.write_pb(summary.pr_curves_pb(tp, fp, tn, fn, names), epoch)
            if multi_label:
                writer.write_pb(multi_label_scalars_pb(tp, fp, fn, names), epoch)
                return
            matrix = counts["confusion"]
            writer.write_pb(summary.per_class_scalars_pb(matrix, names), epoch)
            writer.write_pb(summary.confusion_matrix_pb(
                "confusion_matrix", matrix, class_names=names, max_classes=max_classes), epoch)

        self._run(job)

    def _submit_sample(self, ctx, epoch, x, y, probs):
        writer = ctx.writers.run("validation")
        names, display = self.class_names, self.display

        def job():
            from keras_tbx.summary._predictions import prediction_images_pb

            writer.write_pb(prediction_images_pb("predictions", x, y, probs, class_names=names,
                                                 display=display), epoch)

        self._run(job)

    def _run(self, job):
        def guarded():
            try:
                job()
            except Exception as e:  # noqa: BLE001 - diagnostics never stop training
                self._warn_once("render", f"keras_tbx.TensorBoard could not write classification "
                                f"summaries: {type(e).__name__}: {e}")

        self._executor.submit(guarded)

    def _warn_once(self, key, message):
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(message, RuntimeWarning, stacklevel=2)
