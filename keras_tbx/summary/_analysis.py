"""Model-analysis images, as arrays: inputs made displayable, Grad-CAM overlays, generated
samples and autoencoder reconstructions.

Feature maps and Grad-CAM heat maps are in `_model_analysis`; the writers
(`input_grid_image`, ...) and the `*_pb` siblings in `_analysis_write`.
"""

from __future__ import annotations

import numpy as np

from keras_tbx.summary._images import normalize_images
from keras_tbx.summary._grids import image_grid

_ORDERS = ("rgb", "bgr")
_FORMATS = ("channels_last", "channels_first")
_SLACK = 1e-3  # float error allowed at the edges of [0, 1] / [-1, 1] (e.g. after denormalize)


def _data_format(data_format, fn):
    if data_format is None:
        import keras

        return keras.config.image_data_format()
    if data_format not in _FORMATS:
        raise ValueError(f"`{fn}`: argument `data_format` must be None, \"channels_last\" or "
                         f"\"channels_first\". Received: data_format={data_format!r}")
    return data_format


def _channels_last(images, data_format, fn) -> np.ndarray:
    a = np.asarray(images)
    if a.ndim == 3:  # (k, h, w): grayscale whatever the data format
        return a[..., None]
    if a.ndim != 4:
        raise ValueError(f"`{fn}`: argument `images` must be a batch (k, h, w) or (k, h, w, c) "
                         f"((k, c, h, w) for channels_first). Received shape {a.shape}.")
    if _data_format(data_format, fn) == "channels_first":
        a = np.transpose(a, (0, 2, 3, 1))
    if a.shape[-1] not in (1, 3, 4):
        raise ValueError(f"`{fn}`: images must have 1, 3 or 4 channels. Received shape {a.shape} "
                         f"(data_format={_data_format(data_format, fn)!r}).")
    return a


def display_images(images, *, denormalize=None, channel_order="rgb", data_format=None,
                   value_range=None) -> np.ndarray:
    """Turns a batch of model inputs back into displayable uint8 images.

    In order: channels are moved last (`data_format`), `denormalize` is undone, the
    channels are put in RGB order, and the values are mapped to [0, 255]:

    - uint8 data (not denormalized) is kept as it is; bools are 0 / 255;
    - with `value_range=(lo, hi)`, `lo` is black and `hi` white (values outside clipped);
    - otherwise a batch within [0, 1] is scaled by 255, one within [-1, 1] is shifted
      from [-1, 1] (both to 1e-3, then clipped), and any other range is stretched per image (its min black, its max
      white; a constant image is mid grey).

    Args:
        images: `(k, h, w)` grayscale or `(k, h, w, c)` (`(k, c, h, w)` channels_first)
            with c in {1, 3, 4}.
        denormalize: None, a callable applied to the channels-last float batch (returns
            the same shape), or `(mean, std)` (scalars or one per channel, in the data's
            channel order): `x * std + mean` is shown.
        channel_order: "rgb", or "bgr" for inputs stored blue first (Caffe-style
            preprocessing); the third-to-first channels are swapped for display.
        data_format: "channels_last" / "channels_first"; default
            `keras.config.image_data_format()`.
        value_range: Optional `(lo, hi)` of the (denormalized) pixel values.

    Returns:
        uint8 `(k, h, w, 1)` or `(k, h, w, 3)` (alpha dropped).

    Raises:
        ValueError: On an unsupported shape or argument.

    Example:
        >>> x = (np.random.rand(2, 8, 8, 3) - 0.5) / 0.25     # normalized inputs
        >>> display_images(x, denormalize=(0.5, 0.25)).dtype
        dtype('uint8')
    """
    fn = "display_images"
    if channel_order not in _ORDERS:
        raise ValueError(f'`{fn}`: argument `channel_order` must be "rgb" or "bgr". '
                         f"Received: channel_order={channel_order!r}")
    a = _channels_last(images, data_format, fn)
    if a.shape[-1] == 4:
        a = a[..., :3]
    if denormalize is not None:
        a = _denormalize(a.astype(np.float64), denormalize, fn)
    if channel_order == "bgr" and a.shape[-1] == 3:
        a = a[..., ::-1]
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a)
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * 255
    x = np.nan_to_num(a.astype(np.float64))
    if value_range is not None:
        lo, hi = (float(v) for v in value_range)
        if not hi > lo:
            raise ValueError(f"`{fn}`: argument `value_range` must be (lo, hi) with lo < hi. "
                             f"Received: value_range={value_range!r}")
        x = (x - lo) / (hi - lo)
    elif x.min(initial=0.0) >= -_SLACK and x.max(initial=0.0) <= 1.0 + _SLACK:
        pass
    elif x.min(initial=0.0) >= -1.0 - _SLACK and x.max(initial=0.0) <= 1.0 + _SLACK:
        x = (x + 1.0) / 2.0
    else:
        x = normalize_images(x).astype(np.float64)
    return np.clip(np.round(x * 255.0), 0, 255).astype(np.uint8)


def _denormalize(a, denormalize, fn):
    if callable(denormalize):
        out = np.asarray(denormalize(a))
        if out.shape != a.shape:
            raise ValueError(f"`{fn}`: argument `denormalize` must return the shape it gets "
                             f"{a.shape}. Received shape {out.shape}.")
        return out
    if not isinstance(denormalize, (tuple, list)) or len(denormalize) != 2:
        raise TypeError(f"`{fn}`: argument `denormalize` must be None, a callable or "
                        f"(mean, std). Received: denormalize={denormalize!r}")
    mean, std = (np.asarray(v, dtype=np.float64).reshape(-1) for v in denormalize)
    for v in (mean, std):
        if v.size not in (1, a.shape[-1]):
            raise ValueError(f"`{fn}`: argument `denormalize` must hold a scalar or one value per "
                             f"channel ({a.shape[-1]}). Received: denormalize={denormalize!r}")
    return a * std + mean


def input_grid(images, *, denormalize=None, channel_order="rgb", data_format=None, captions=None,
               value_range=None, cols=None, title=None, tile_size=None) -> np.ndarray:
    """A captioned grid of model inputs, made displayable by `display_images`.

    Args:
        images, denormalize, channel_order, data_format, value_range: As `display_images`.
        captions, cols, title, tile_size: As `keras_tbx.summary.image_grid`.

    Returns:
        A uint8 `(H, W, 3)` RGB array.

    Example:
        >>> grid = input_grid(np.random.rand(4, 28, 28), captions=["a", "b", "c", "d"])
    """
    shown = display_images(images, denormalize=denormalize, channel_order=channel_order,
                           data_format=data_format, value_range=value_range)
    return image_grid(list(shown), captions, cols=cols, title=title, tile_size=tile_size)


def _resize_nearest(a: np.ndarray, height: int, width: int) -> np.ndarray:
    rows = np.arange(height) * a.shape[0] // height
    cols = np.arange(width) * a.shape[1] // width
    return a[rows[:, None], cols[None, :]]


def grad_cam_overlay(images, heatmaps, alpha=0.4, *, colormap="jet", **display) -> np.ndarray:
    """Heat maps coloured with `colormap` and blended over the images.

    Args:
        images: Images as `display_images` takes them (its keyword arguments in
            `display`: `denormalize`, `channel_order`, `data_format`, `value_range`).
        heatmaps: `(k, h, w)` in [0, 1] (e.g. from `grad_cam`); resized (nearest) to the
            images when their sizes differ.
        alpha: Weight of the heat map colour, in [0, 1].
        colormap: A matplotlib colormap name.

    Returns:
        uint8 `(k, h, w, 3)`: `(1 - alpha) * image + alpha * colour`.
    """
    import matplotlib

    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"`grad_cam_overlay`: argument `alpha` must be in [0, 1]. Received: alpha={alpha!r}")
    shown = display_images(images, **display)
    if shown.shape[-1] == 1:
        shown = np.repeat(shown, 3, axis=-1)
    maps = np.asarray(heatmaps, np.float64)
    if maps.shape[0] != shown.shape[0] or maps.ndim != 3:
        raise ValueError(f"`grad_cam_overlay`: argument `heatmaps` must be (k, h, w) with one map "
                         f"per image ({shown.shape[0]}). Received shape {maps.shape}.")
    lut = np.round(matplotlib.colormaps[colormap](np.linspace(0, 1, 256))[:, :3] * 255)
    out = np.empty(shown.shape, np.uint8)
    for i, (img, heat) in enumerate(zip(shown, maps)):
        heat = _resize_nearest(heat, *img.shape[:2]) if heat.shape != img.shape[:2] else heat
        colour = lut[np.clip(np.round(heat * 255), 0, 255).astype(np.intp)]
        out[i] = np.clip(np.round((1 - alpha) * img + alpha * colour), 0, 255).astype(np.uint8)
    return out


def generated_samples(model_or_fn, noise, **display) -> np.ndarray:
    """Outputs of a generator on a fixed input (keep `noise` fixed to compare epochs).

    Args:
        model_or_fn: A Keras model or any callable mapping `noise` to images.
        noise: Its input (e.g. `np.random.default_rng(0).normal(size=(16, 64))`).
        **display: `display_images` keyword arguments for the outputs.

    Returns:
        uint8 images as `display_images` returns them.
    """
    from keras import ops

    call = model_or_fn
    if hasattr(model_or_fn, "predict_on_batch"):
        def call(z):
            return model_or_fn(z, training=False)
    return display_images(np.asarray(ops.convert_to_numpy(call(noise))), **display)


def reconstructions(model, x, **display) -> np.ndarray:
    """Each input next to the model's reconstruction of it (an autoencoder's output has
    the input's shape): uint8 `(k, h, 2 * w + 2, c)`, a 2-pixel white gap between them.

    Raises:
        ValueError: If the output shape is not the input's.
    """
    from keras import ops

    out = np.asarray(ops.convert_to_numpy(model(x, training=False)))
    if out.shape != np.shape(x):
        raise ValueError(f"`reconstructions` needs an output shaped as the input {np.shape(x)}. "
                         f"Received output shape {out.shape}.")
    both = display_images(np.concatenate([np.asarray(x), out]), **display)
    inputs, outputs = both[: len(out)], both[len(out):]
    gap = np.full(inputs.shape[:2] + (2,) + inputs.shape[3:], 255, np.uint8)
    return np.concatenate([inputs, gap, outputs], axis=2)
