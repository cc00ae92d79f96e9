"""Classification diagnostics: confusion matrix, per-class metrics and PR curves.

Everything here is NumPy in, NumPy or a `Summary` proto out; only the writers import
TensorFlow (lazily). The PR-curve bucketing is the one TensorBoard's `pr_curve` summary
uses, and the one keras_tbx's in-graph accumulator uses, so counts gathered during
`fit` and counts computed here from scores agree exactly.
"""

from __future__ import annotations

import numpy as np
from tensorboard.compat.proto import summary_pb2
from tensorboard.plugins.pr_curve import metadata as pr_metadata
from tensorboard.util import tensor_util

from keras_tbx.summary._scalars import _safe_component, scalars, scalars_pb, split_metric

# TensorBoard's pr_curve summary divides by max(_MINIMUM_COUNT, denominator): 0/0 -> 0.
_MINIMUM_COUNT = 1e-7
_METRICS = ("accuracy", "precision", "recall", "f1")


def _class_indices(values, num_classes: int, arg: str, fn: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        array = array.reshape(-1)
    if array.size and not np.issubdtype(array.dtype, np.integer):
        as_float = array.astype(np.float64)
        if not np.all(np.isfinite(as_float)) or np.any(as_float != np.round(as_float)):
            raise ValueError(
                f"`{fn}`: argument `{arg}` must hold integer class indices. "
                f"Received dtype {array.dtype} with non-integer values."
            )
        array = as_float
    array = array.astype(np.int64)
    bad = (array < 0) | (array >= num_classes)
    if np.any(bad):
        raise ValueError(
            f"`{fn}`: argument `{arg}` must hold class indices in [0, {num_classes}). "
            f"Received {array[bad][:5].tolist()} (first {min(5, int(bad.sum()))} of "
            f"{int(bad.sum())} out of range)."
        )
    return array


def _at_least(value, minimum: int, arg: str, fn: str) -> int:
    if int(value) < minimum:
        raise ValueError(f"`{fn}`: argument `{arg}` must be >= {minimum}. Received: {arg}={value!r}")
    return int(value)


def _weights(sample_weight, n: int, fn: str) -> np.ndarray:
    if sample_weight is None:
        return np.ones(n, dtype=np.float64)
    weight = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
    if weight.shape != (n,):
        raise ValueError(
            f"`{fn}`: argument `sample_weight` must have one weight per example ({n}). "
            f"Received shape {np.shape(sample_weight)}."
        )
    return weight


def confusion_matrix_counts(labels, predictions, num_classes: int, sample_weight=None) -> np.ndarray:
    """Counts (or weighs) every `(true class, predicted class)` pair.

    Args:
        labels: Integer class indices, any shape (flattened), in `[0, num_classes)`.
        predictions: Integer class indices of the same size, in `[0, num_classes)`.
        num_classes: Number of classes `n`.
        sample_weight: Optional weight per example (default 1).

    Returns:
        A float64 `(n, n)` array: rows are true classes, columns predicted classes, as in
        `sklearn.metrics.confusion_matrix`.

    Raises:
        ValueError: If `labels` or `predictions` hold values outside `[0, n)` or
            non-integers, if their sizes differ, or if `sample_weight` has the wrong size.

    Example:
        >>> confusion_matrix_counts([0, 1, 1], [0, 1, 0], 2)
        array([[1., 0.],
               [1., 1.]])
    """
    fn = "confusion_matrix_counts"
    n = _at_least(num_classes, 1, "num_classes", fn)
    true = _class_indices(labels, n, "labels", fn)
    pred = _class_indices(predictions, n, "predictions", fn)
    if true.shape != pred.shape:
        raise ValueError(
            f"`{fn}`: arguments `labels` and `predictions` must have the same size. "
            f"Received {true.size} labels and {pred.size} predictions."
        )
    weight = _weights(sample_weight, true.size, fn)
    flat = np.bincount(true * n + pred, weights=weight, minlength=n * n)
    return flat.reshape(n, n).astype(np.float64)


def _square(matrix, fn: str) -> np.ndarray:
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(
            f"`{fn}`: argument `matrix` must be a square (n, n) confusion matrix. "
            f"Received shape {np.shape(matrix)}."
        )
    if not np.all(np.isfinite(m)) or np.any(m < 0):
        raise ValueError(
            f"`{fn}`: argument `matrix` must hold finite counts >= 0. Received "
            f"{int(np.sum(~np.isfinite(m)))} non-finite and {int(np.sum(m < 0))} negative entries."
        )
    return m


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0 (sklearn's zero_division=0)."""
    out = np.zeros_like(numerator, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def per_class_metrics(matrix) -> dict[str, np.ndarray]:
    """Per-class accuracy, precision, recall, F1 and support of a confusion matrix.

    A division by zero gives 0.0, as `sklearn.metrics.precision_recall_fscore_support(...,
    zero_division=0)` does: a class never predicted has precision 0, a class with no
    examples has recall 0, and F1 is `2 tp / (2 tp + fp + fn)` (0 when that is 0/0).

    Args:
        matrix: `(n, n)` confusion matrix, rows true classes, columns predicted classes.

    Returns:
        A dict of float64 `(n,)` arrays: "accuracy" (per-class accuracy, which is the
        class's recall: the fraction of its examples predicted correctly), "precision",
        "recall", "f1" and "support" (examples, or total weight, per true class).

    Raises:
        ValueError: If `matrix` is not square.

    Example:
        >>> m = per_class_metrics([[2, 0], [1, 1]])
        >>> m["precision"].tolist(), m["recall"].tolist()
        ([0.6666666666666666, 1.0], [1.0, 0.5])
    """
    m = _square(matrix, "per_class_metrics")
    tp = np.diag(m).copy()
    return metrics_from_counts(tp, m.sum(axis=0) - tp, m.sum(axis=1) - tp)


def metrics_from_counts(tp, fp, fn) -> dict[str, np.ndarray]:
    """`per_class_metrics` from true positive, false positive and false negative counts.

    For multi-label models (no confusion matrix), e.g. one threshold's column of
    `pr_counts`; the same zero-division rule as `per_class_metrics`.

    Args:
        tp, fp, fn: Arrays of one shape (e.g. `(n,)`, one entry per class).

    Returns:
        A dict of float64 arrays of that shape: "accuracy" (= recall), "precision",
        "recall", "f1" and "support" (`tp + fn`).

    Example:
        >>> metrics_from_counts([2.0], [0.0], [2.0])["f1"].tolist()
        [0.6666666666666666]
    """
    tp, fp, fn = (np.asarray(a, dtype=np.float64) for a in (tp, fp, fn))
    support = tp + fn
    recall = _ratio(tp, support)
    return {
        "accuracy": recall,
        "precision": _ratio(tp, tp + fp),
        "recall": recall.copy(),
        "f1": _ratio(2.0 * tp, support + tp + fp),
        "support": support,
    }


def macro_metrics(matrix) -> dict[str, float]:
    """Macro averages (unweighted mean over all classes) and the overall accuracy.

    Classes with no examples count, with the zeros `per_class_metrics` gives them, as in
    sklearn's `average="macro"` with `zero_division=0`.

    Args:
        matrix: `(n, n)` confusion matrix.

    Returns:
        A dict of floats: "accuracy", "precision", "recall", "f1" (macro averages; macro
        accuracy is the balanced accuracy) and "accuracy_overall" (trace / total, 0 for an
        empty matrix).

    Raises:
        ValueError: If `matrix` is not square.

    Example:
        >>> macro_metrics([[2, 0], [1, 1]])["accuracy_overall"]
        0.75
    """
    m = _square(matrix, "macro_metrics")
    per_class = per_class_metrics(m)
    out = {key: float(np.mean(per_class[key])) for key in _METRICS}
    total = m.sum()
    out["accuracy_overall"] = float(np.trace(m) / total) if total else 0.0
    return out


def display_names(class_names, num_classes: int, fn: str) -> list[str]:
    """Class names as strings, `"0".."n-1"` when None.

    Raises:
        ValueError: If the number of names is not `num_classes` (naming `fn`).
    """
    if class_names is None:
        return [str(i) for i in range(num_classes)]
    names = [str(name) for name in class_names]
    if len(names) != num_classes:
        raise ValueError(
            f"`{fn}`: argument `class_names` must have one name per class ({num_classes}). "
            f"Received {len(names)} names."
        )
    return names


def class_tag_names(class_names, num_classes: int, fn: str) -> list[str]:
    """`display_names` sanitized for tags by `split_metric`'s rule, checked unique.

    Raises:
        ValueError: If the number of names is not `num_classes`, or two names are the
            same once sanitized ('/' and whitespace become '_'): their tags would collide.
    """
    names = display_names(class_names, num_classes, fn)
    seen: dict[str, str] = {}
    for name in names:
        tag = _safe_component(name)
        if tag in seen:
            raise ValueError(
                f"`{fn}`: argument `class_names` must be unique as tags. Received "
                f"{seen[tag]!r} and {name!r}, both tagged {tag!r}."
            )
        seen[tag] = name
    return list(seen)


def _per_class_values(matrix, class_names, prefix: str, fn: str) -> dict[str, float]:
    m = _square(matrix, fn)
    names = class_tag_names(class_names, m.shape[0], fn)
    per_class = per_class_metrics(m)
    values = {}
    for key in _METRICS:
        values.update(split_metric(f"{prefix}/{key}", per_class[key], names))
    macro = macro_metrics(m)
    values.update({f"{prefix}/macro/{key}": macro[key] for key in _METRICS})
    return values


def per_class_scalars_pb(matrix, class_names=None, *, prefix: str = "per_class", description=None):
    """Per-class and macro accuracy, precision, recall and F1 as one scalars `Summary`.

    Tags: `<prefix>/<metric>/<class name>` for metric in accuracy, precision, recall, f1,
    and `<prefix>/macro/<metric>`. Values are float32 rank-0 tensors under the `scalars`
    plugin (what `tf.summary.scalar` writes).

    Args:
        matrix: `(n, n)` confusion matrix.
        class_names: `n` names (sanitized for tags like `split_metric` does), or None for
            "0".."n-1".
        prefix: First tag component.
        description: Optional markdown description attached to every tag.

    Returns:
        A `Summary` proto with `4 * (n + 1)` values.

    Raises:
        ValueError: If `matrix` is not square, or `class_names` has the wrong length or
            names that collide once sanitized.

    Example:
        >>> pb = per_class_scalars_pb([[2, 0], [1, 1]], ["cat", "dog"])
        >>> [v.tag for v in pb.value][:2]
        ['per_class/accuracy/cat', 'per_class/accuracy/dog']
    """
    values = _per_class_values(matrix, class_names, prefix, "per_class_scalars_pb")
    return scalars_pb(values, description=description)


def per_class_scalars(name: str, matrix, step=None, *, class_names=None, description=None) -> bool:
    """Writes per-class and macro accuracy, precision, recall and F1 in one op.

    Args:
        name: Tag prefix (e.g. "per_class"); see `per_class_scalars_pb` for the tags.
        matrix: `(n, n)` confusion matrix.
        step: Step; defaults to `tf.summary.experimental.get_step()`.
        class_names: `n` class names, or None for "0".."n-1".
        description: Optional markdown description attached to every tag.

    Returns:
        True if written, False if no default writer is set or recording is off.

    Raises:
        ValueError: As `per_class_scalars_pb`.

    Example:
        >>> import tensorflow as tf
        >>> with tf.summary.create_file_writer("/tmp/logs").as_default():
        ...     per_class_scalars("per_class", [[2, 0], [1, 1]], step=1, class_names=["a", "b"])
        True
    """
    values = _per_class_values(matrix, class_names, name, "per_class_scalars")
    return scalars(values, step, description=description)


def most_confused_classes(matrix, max_classes: int) -> np.ndarray:
    """The classes with the most off-diagonal mass (row plus column), in original order.

    A class scores the examples of it that were predicted as something else plus the
    examples of other classes predicted as it. The `max_classes` highest scores are kept
    (ties: larger support, then lower index); classes with a score of 0 are left out,
    unless no class is confused at all, when the first `max_classes` classes are returned.

    Args:
        matrix: `(n, n)` confusion matrix.
        max_classes: Most classes to return.

    Returns:
        Sorted int64 class indices, at most `max_classes` of them (all `n` when
        `n <= max_classes`).

    Raises:
        ValueError: If `matrix` is not square or `max_classes` < 1.

    Example:
        >>> most_confused_classes([[5, 0, 0], [0, 5, 2], [0, 1, 5]], 2)
        array([1, 2])
    """
    m = _square(matrix, "most_confused_classes")
    max_classes = _at_least(max_classes, 1, "max_classes", "most_confused_classes")
    n = m.shape[0]
    if n <= max_classes:
        return np.arange(n)
    diag = np.diag(m)
    score = (m.sum(axis=1) - diag) + (m.sum(axis=0) - diag)
    order = np.lexsort((np.arange(n), -m.sum(axis=1), -score))[:max_classes]
    if score[order[0]] > 0:
        order = order[score[order] > 0]
    else:
        order = np.arange(max_classes)
    return np.sort(order)


def _indicator(labels, num_classes: int, fn: str) -> np.ndarray:
    """(n, C) float indicator from sparse indices or one-/multi-hot rows."""
    array = np.asarray(labels)
    if array.ndim == 2 and array.shape[1] == num_classes:
        return array.astype(np.float64)
    if num_classes == 1:  # a single sigmoid unit: labels are the 0/1 indicator itself
        return array.reshape(-1, 1).astype(np.float64)
    index = _class_indices(array, num_classes, "labels", fn)
    out = np.zeros((index.size, num_classes), dtype=np.float64)
    out[np.arange(index.size), index] = 1.0
    return out


def _pr_buckets(scores, num_thresholds: int) -> np.ndarray:
    """Bucket index `clip(floor(s * (T - 1)), 0, T - 1)` of each score (int64, same shape).

    The product is taken in the scores' own float dtype, as a float32 graph and
    TensorBoard's `pr_curve` summary take it, so float32 scores on a bucket edge land in
    the same bucket here and there.
    """
    s = np.asarray(scores)
    if np.isnan(s).any():
        raise ValueError("`pr_counts`: argument `scores` must not contain NaN.")
    top = num_thresholds - 1
    return np.clip(np.floor(s * s.dtype.type(top)), 0, top).astype(np.int64)


def pr_counts(labels, scores, num_thresholds: int = 101, sample_weight=None):
    """True/false positive/negative counts per class at evenly spaced thresholds.

    Threshold `i` is `t_i = i / (T - 1)`. A score `s` falls in bucket
    `b = clip(floor(s * (T - 1)), 0, T - 1)` and counts as a positive prediction at every
    threshold `i <= b` (TensorBoard's `pr_curve` bucketing, and keras_tbx's in-graph one).

    Args:
        labels: Sparse class indices `(n,)`, or one-hot / multi-hot rows `(n, C)`. With a
            single score column (a sigmoid unit), `(n,)` 0/1 labels.
        scores: `(n, C)` probabilities (or `(n,)` for one sigmoid unit); buckets are
            computed in their float dtype (float32 scores as a float32 graph does).
        num_thresholds: Number of thresholds `T` >= 2.
        sample_weight: Optional weight per example.

    Returns:
        `(tp, fp, tn, fn)`, each a float64 `(C, T)` array.

    Raises:
        ValueError: If `num_thresholds` < 2, labels are out of range, shapes disagree, or
            scores contain NaN.

    Example:
        >>> tp, fp, tn, fn = pr_counts([0, 1], [[0.8, 0.2], [0.3, 0.7]], num_thresholds=3)
        >>> tp[0].tolist(), fp[0].tolist()
        ([1.0, 1.0, 0.0], [1.0, 0.0, 0.0])
    """
    fn = "pr_counts"
    T = _at_least(num_thresholds, 2, "num_thresholds", fn)
    s = np.asarray(scores)
    s = s if s.dtype.kind == "f" else s.astype(np.float64)
    if s.ndim == 1:
        s = s.reshape(-1, 1)
    if s.ndim != 2:
        raise ValueError(f"`{fn}`: argument `scores` must be (n, classes). Received shape {s.shape}.")
    n, C = s.shape
    positive = _indicator(labels, C, fn)
    if positive.shape != (n, C):
        raise ValueError(
            f"`{fn}`: arguments `labels` and `scores` disagree. Received labels of shape "
            f"{np.shape(labels)} for scores of shape {s.shape}."
        )
    weight = _weights(sample_weight, n, fn)[:, None]
    flat = (_pr_buckets(s, T) + np.arange(C) * T).reshape(-1)
    pos = np.bincount(flat, weights=(positive * weight).reshape(-1), minlength=C * T)
    neg = np.bincount(flat, weights=((1.0 - positive) * weight).reshape(-1), minlength=C * T)
    return pr_counts_from_histograms(pos.reshape(C, T), neg.reshape(C, T))


def pr_counts_from_histograms(pos_hist, neg_hist):
    """PR counts from per-bucket histograms of positive and negative examples' scores.

    Args:
        pos_hist: `(C, T)` count (or weight) of class-c positives whose score fell in
            bucket `i` (see `pr_counts` for the bucketing).
        neg_hist: `(C, T)` likewise for negatives.

    Returns:
        `(tp, fp, tn, fn)`, each float64 `(C, T)`: `tp[c, i]` = positives in buckets `>= i`
        (a reverse cumulative sum), `fn` = positives - `tp`; `fp`, `tn` likewise.

    Raises:
        ValueError: If the histograms are not 2-D arrays of the same shape.

    Example:
        >>> tp, fp, tn, fn = pr_counts_from_histograms([[0, 1, 2]], [[3, 0, 1]])
        >>> tp.tolist(), fn.tolist()
        ([[3.0, 3.0, 2.0]], [[0.0, 0.0, 1.0]])
    """
    pos = np.asarray(pos_hist, dtype=np.float64)
    neg = np.asarray(neg_hist, dtype=np.float64)
    if pos.ndim != 2 or pos.shape != neg.shape:
        raise ValueError(
            "`pr_counts_from_histograms`: arguments `pos_hist` and `neg_hist` must both be "
            f"(classes, thresholds). Received shapes {pos.shape} and {neg.shape}."
        )
    tp = np.cumsum(pos[:, ::-1], axis=1)[:, ::-1]
    fp = np.cumsum(neg[:, ::-1], axis=1)[:, ::-1]
    return tp, fp, fp[:, :1] - fp, tp[:, :1] - tp


def pr_curves_pb(tp, fp, tn, fn, class_names=None, *, tag_prefix: str = "pr_curve", description=None):
    """One PR curve per class for TensorBoard's PR Curves dashboard, without writing.

    Each class gets the value `tensorboard.plugins.pr_curve.summary.raw_data_pb` builds
    for the name `<tag_prefix>/<class name>` (tag `<tag_prefix>/<class name>/pr_curves`,
    a float32 `(6, T)` tensor of tp, fp, tn, fn, precision, recall), without importing
    TensorFlow. Precision and recall divide by `max(1e-7, denominator)` as TensorBoard's
    own pr_curve summary does, so 0/0 gives 0.

    Args:
        tp, fp, tn, fn: `(C, T)` counts, as returned by `pr_counts`.
        class_names: `C` class names (sanitized like `split_metric` does), or None.
        tag_prefix: First tag component.
        description: Optional markdown description.

    Returns:
        A `Summary` proto with one value per class.

    Raises:
        ValueError: If the counts' shapes differ or are not `(C, T)` with T >= 2, or the
            class names do not fit.

    Example:
        >>> pb = pr_curves_pb(*pr_counts([0, 1], [[0.8, 0.2], [0.3, 0.7]]), ["cat", "dog"])
        >>> pb.value[1].tag
        'pr_curve/dog/pr_curves'
    """
    counts = [np.asarray(a, dtype=np.float64) for a in (tp, fp, tn, fn)]
    shape = counts[0].shape
    if len(shape) != 2 or shape[1] < 2 or any(a.shape != shape for a in counts):
        raise ValueError(
            "`pr_curves_pb`: arguments `tp`, `fp`, `tn`, `fn` must share one (classes, "
            f"thresholds >= 2) shape. Received shapes {[a.shape for a in counts]}."
        )
    names = class_tag_names(class_names, shape[0], "pr_curves_pb")
    tp_, fp_, _, fn_ = counts
    precision = tp_ / np.maximum(_MINIMUM_COUNT, tp_ + fp_)
    recall = tp_ / np.maximum(_MINIMUM_COUNT, tp_ + fn_)
    data = np.stack(counts + [precision, recall], axis=1).astype(np.float32)  # (C, 6, T)
    summary = summary_pb2.Summary()
    for c, name in enumerate(names):
        display = f"{tag_prefix}/{name}"
        meta = pr_metadata.create_summary_metadata(
            display_name=display, description=description or "", num_thresholds=shape[1]
        )
        summary.value.add(
            tag=f"{display}/pr_curves", metadata=meta, tensor=tensor_util.make_tensor_proto(data[c])
        )
    return summary


def pr_curves(name: str, data, step=None, *, class_names=None, description=None) -> bool:
    """Writes one PR curve per class from `(tp, fp, tn, fn)` counts.

    Args:
        name: Tag prefix; tags are `<name>/<class name>/pr_curves`.
        data: `(tp, fp, tn, fn)`, each `(C, T)`, as returned by `pr_counts` or
            `pr_counts_from_histograms`.
        step: Step; defaults to `tf.summary.experimental.get_step()`.
        class_names: `C` class names, or None for "0".."C-1".
        description: Optional markdown description.

    Returns:
        True if written, False if no default writer is set or recording is off.

    Raises:
        ValueError: As `pr_curves_pb`.

    Example:
        >>> import tensorflow as tf
        >>> counts = pr_counts([0, 1], [[0.8, 0.2], [0.3, 0.7]])
        >>> with tf.summary.create_file_writer("/tmp/logs").as_default():
        ...     pr_curves("pr_curve", counts, step=1, class_names=["cat", "dog"])
        True
    """
    tp, fp, tn, fn = data
    return write_pb(pr_curves_pb(tp, fp, tn, fn, class_names, tag_prefix=name, description=description), step)


def write_pb(pb, step=None) -> bool:
    """Writes a `Summary` proto to the default `tf.summary` writer in one op.

    Returns:
        True if written, False if no default writer is set or recording is off.
    """
    import tensorflow as tf

    return bool(tf.summary.experimental.write_raw_pb(pb.SerializeToString(), step=step))
