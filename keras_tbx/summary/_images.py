"""Image summaries with per-image contrast stretching."""

from __future__ import annotations

import numbers

import numpy as np

# Larger images are refused before anything is allocated: (64 Mi pixels, e.g. 8192 x 8192;
# TensorBoard would have to decode them in the browser).
MAX_IMAGE_PIXELS = 1 << 26


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

    check_images("data", data, channels=(1, 3, 4))
    if isinstance(max_outputs, bool) or not isinstance(max_outputs, numbers.Integral) or max_outputs < 1:
        raise ValueError(f"Argument `max_outputs` must be an integer >= 1. Received: max_outputs={max_outputs!r}")
    return bool(
        tf.summary.image(
            name, normalize_images(data), step=step, max_outputs=max_outputs, description=description
        )
    )


def check_images(arg, data, *, channels=(1, 3, 4)) -> None:
    """Refuses what is not a `(k, h, w, c)` batch of real-valued images, or is too large,
    before any copy is made."""
    dtype = getattr(data, "dtype", None)
    if dtype is None:
        data = np.asarray(data)
        dtype = data.dtype
    shape = tuple(np.shape(data))
    if len(shape) != 4 or shape[-1] not in channels:
        raise ValueError(f"Argument `{arg}` must be a batch of images of shape (k, h, w, c) with c in "
                         f"{set(channels)}. Received: {arg} of shape {shape}")
    kind = np.dtype(dtype).kind if not hasattr(dtype, "as_numpy_dtype") else np.dtype(dtype.as_numpy_dtype).kind
    if kind not in "biuf":
        raise TypeError(f"Argument `{arg}` must hold real numbers (bool, int or float). "
                        f"Received: {arg} of dtype {dtype}")
    if shape[1] * shape[2] > MAX_IMAGE_PIXELS:
        raise ValueError(f"Argument `{arg}` must hold images of at most {MAX_IMAGE_PIXELS} pixels "
                         f"each. Received: {arg} of shape {shape}")
