"""Image summaries with per-image contrast stretching."""

from __future__ import annotations

import numpy as np


def normalize_images(images) -> np.ndarray:
    """Scales each image of a `(k, h, w, c)` float batch to [0, 1] on its own min and max.

    `tf.summary.image` clips floats to [0, 1], which turns raw weights or activations
    into flat black and white; stretching each image keeps its structure visible. A
    constant image becomes 0.5 grey.

    Returns:
        A float32 array of the same shape with values in [0, 1].
    """
    x = np.asarray(images, dtype=np.float32)
    axes = tuple(range(1, x.ndim))
    lo = x.min(axis=axes, keepdims=True)
    hi = x.max(axis=axes, keepdims=True)
    span = hi - lo
    flat = span == 0
    out = (x - lo) / np.where(flat, 1.0, span)
    return np.where(flat, np.float32(0.5), out).astype(np.float32)


def image(name, data, step=None, *, max_outputs=3, description=None) -> bool:
    """Writes a batch of images, each contrast-stretched to [0, 1] first.

    Args:
        name: Tag.
        data: `(k, h, w, c)` array with c in {1, 3, 4}; any float range.
        step: Step; defaults to `tf.summary.experimental.get_step()`.
        max_outputs: Most images written from the batch.
        description: Optional markdown description.

    Returns:
        True if written, False when no default writer is set.
    """
    import tensorflow as tf

    return bool(
        tf.summary.image(
            name, normalize_images(data), step=step, max_outputs=max_outputs, description=description
        )
    )
