"""Predictions on a fixed sample as images, and multi-label per-class scalars."""

from __future__ import annotations

import numpy as np

from keras_tbx.summary._scalars import _safe_component, scalars_pb


def _display(images) -> np.ndarray:
    """Images as floats in [0, 1] (each stretched on its own range when outside it)."""
    x = np.asarray(images)
    if x.dtype == np.uint8:
        return x
    x = x.astype(np.float32)
    if x.min() >= 0.0 and x.max() <= 1.0:
        return x
    from keras_tbx.summary._images import normalize_images

    return normalize_images(x if x.ndim == 4 else x[..., None])


def predicted_labels(probs) -> np.ndarray:
    """Class index per row: argmax, or `p >= 0.5` for a single sigmoid unit."""
    probs = np.asarray(probs)
    if probs.ndim == 2 and probs.shape[-1] == 1:
        return (probs[:, 0] >= 0.5).astype(np.int64)
    return np.argmax(probs, axis=-1)


def class_probabilities(probs) -> np.ndarray:
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim == 2 and probs.shape[-1] == 1:
        return np.concatenate([1.0 - probs, probs], axis=-1)
    return probs


def prediction_grids(images, labels, probs, class_names, *, max_mistakes=8) -> dict:
    """The images of a prediction grid and of a most-confident-mistakes gallery.

    Args:
        images: `(k, h, w[, c])` inputs of the sample.
        labels: `(k,)` integer labels or `(k, n)` one-hot.
        probs: `(k, n)` model outputs (probabilities or a single sigmoid unit).
        class_names: Names of the n classes.
        max_mistakes: Most mistakes shown in the gallery.

    Returns:
        `{"grid": uint8 image, "confident_mistakes": uint8 image or None}`.
    """
    from keras_tbx.summary._render import image_grid, most_confident_mistakes

    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[-1] > 1:
        labels = np.argmax(labels, axis=-1)
    labels = labels.reshape(-1).astype(np.int64)
    predicted = predicted_labels(probs)
    p = class_probabilities(probs)
    images = _display(images)
    captions = [
        f"true {class_names[t]} / pred {class_names[q]} ({p[i, q]:.2f})"
        for i, (t, q) in enumerate(zip(labels, predicted))
    ]
    wrong = predicted != labels
    out = {"grid": image_grid(images, captions, mistakes=wrong), "confident_mistakes": None}
    worst = most_confident_mistakes(labels, p, max_mistakes)
    if len(worst):
        out["confident_mistakes"] = image_grid(
            images[worst], [captions[i] for i in worst], mistakes=np.ones(len(worst), bool))
    return out


def prediction_images(name, images, labels, probs, step=None, *, class_names, description=None) -> bool:
    """Writes `<name>/grid` (every sample image, mistakes marked) and
    `<name>/confident_mistakes` (the mistakes the model was surest of).

    Returns:
        True if written, False when no default writer is set.
    """
    import tensorflow as tf

    grids = prediction_grids(images, labels, probs, class_names)
    written = False
    for kind, image in grids.items():
        if image is not None:
            written |= bool(tf.summary.image(f"{name}/{kind}", image[None], step=step,
                                             description=description))
    return written


def multi_label_scalars_pb(tp, fp, tn, fn, class_names, *, threshold_index=None, prefix="per_class"):
    """Per-class precision / recall / F1 of a multi-label model at one threshold.

    Args:
        tp, fp, tn, fn: `(n, T)` counts per class and threshold (see `pr_counts`).
        class_names: Names of the n classes.
        threshold_index: Column of the decision threshold; the middle one (0.5) by default.

    Returns:
        A `Summary` with `per_class/{precision,recall,f1}/<name>` and
        `per_class/macro/{precision,recall,f1}`.
    """
    tp, fp, fn = (np.asarray(a, dtype=np.float64) for a in (tp, fp, fn))
    i = tp.shape[1] // 2 if threshold_index is None else threshold_index
    tp, fp, fn = tp[:, i], fp[:, i], fn[:, i]
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        recall = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    values = {}
    for metric, array in (("precision", precision), ("recall", recall), ("f1", f1)):
        for name, v in zip(class_names, array):
            values[f"{prefix}/{metric}/{_safe_component(name)}"] = float(v)
        values[f"{prefix}/macro/{metric}"] = float(array.mean())
    return scalars_pb(values)
