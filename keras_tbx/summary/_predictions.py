"""Predictions on a fixed sample as images, and multi-label per-class scalars."""

from __future__ import annotations

import numpy as np

from keras_tbx.summary._classification import class_tag_names, metrics_from_counts
from keras_tbx.summary._analysis import display_images
from keras_tbx.summary._images import normalize_images
from keras_tbx.summary._grids import (
    _class_probabilities,
    image_grid,
    most_confident_mistakes,
    prediction_captions,
)
from keras_tbx.summary._render import png_summary_pb
from keras_tbx.summary._scalars import scalars_pb, split_metric


def _display(images) -> np.ndarray:
    """uint8 images as they are; floats outside [0, 1] stretched per image."""
    x = np.asarray(images)
    if x.dtype == np.uint8:
        return x
    x = x.astype(np.float32)
    if x.min() >= 0.0 and x.max() <= 1.0:
        return x
    return normalize_images(x if x.ndim == 4 else x[..., None])


def prediction_images_pb(name, images, labels, probs, *, class_names=None, max_mistakes=8,
                         description=None, display=None):
    """The prediction grid of a fixed sample and its most-confident-mistakes gallery.

    Args:
        name: Tag prefix; writes `<name>/grid` and, when there are mistakes,
            `<name>/confident_mistakes`.
        images: `(k, h, w[, c])` inputs of the sample (uint8, or floats in any range).
        labels: `(k,)` class indices or `(k, n)` one-hot rows.
        probs: `(k, n)` model outputs, or `(k, 1)` for one sigmoid unit.
        class_names: Display names of the classes.
        max_mistakes: Most images in the gallery.
        description: Optional markdown description.
        display: Optional keyword arguments of `display_images` (`denormalize`,
            `channel_order`, `data_format`, `value_range`) that turn the inputs back into
            pictures; without them uint8 images are shown as they are, floats in [0, 1]
            scaled, and other floats stretched per image.

    Returns:
        A `Summary` proto with one or two PNG images.
    """
    p = _class_probabilities(probs)
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == p.shape[1] and p.shape[1] > 1:
        labels = labels.argmax(axis=1)
    labels = labels.reshape(-1).astype(np.int64)
    predicted = p.argmax(axis=1)
    captions, wrong = prediction_captions(labels, predicted, class_names,
                                          confidence=p[np.arange(len(p)), predicted])
    # Images get `display`; other inputs (feature vectors) are drawn as they are.
    shown = display_images(images, **display) if display and np.ndim(images) >= 3 else _display(images)
    images_by_tag = {f"{name}/grid": image_grid(shown, captions, mistakes=wrong)}
    worst = most_confident_mistakes(labels, p, max_mistakes)
    if len(worst):
        images_by_tag[f"{name}/confident_mistakes"] = image_grid(
            shown[worst], [captions[i] for i in worst], mistakes=np.ones(len(worst), bool))
    return png_summary_pb(images_by_tag, description=description)


def multi_label_scalars_pb(tp, fp, fn, class_names=None, *, threshold_index=None, prefix="per_class"):
    """Per-class and macro precision / recall / F1 of a multi-label model at one threshold.

    Args:
        tp, fp, fn: `(n, T)` counts per class and threshold (see `pr_counts`).
        class_names: Names of the n classes.
        threshold_index: Column of the decision threshold; the middle one (0.5) by default.
        prefix: First tag component.

    Returns:
        A `Summary` with `<prefix>/{accuracy,precision,recall,f1}/<name>` and
        `<prefix>/macro/<metric>`.
    """
    tp, fp, fn = (np.asarray(a, dtype=np.float64) for a in (tp, fp, fn))
    i = tp.shape[1] // 2 if threshold_index is None else threshold_index
    metrics = metrics_from_counts(tp[:, i], fp[:, i], fn[:, i])
    names = class_tag_names(class_names, tp.shape[0], "multi_label_scalars_pb")
    values = {}
    for key in ("accuracy", "precision", "recall", "f1"):
        values.update(split_metric(f"{prefix}/{key}", metrics[key], names))
        values[f"{prefix}/macro/{key}"] = float(metrics[key].mean())
    return scalars_pb(values)
