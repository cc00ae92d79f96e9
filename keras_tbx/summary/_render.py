"""Rendered diagnostics: the confusion-matrix heatmap, and PNG image summaries.

Rasters are composed with NumPy (cells, colorbar, borders are exact pixel colours) and
text is drawn with FreeType through Pillow in matplotlib's own DejaVu Sans, with
matplotlib's colormaps. No `matplotlib.pyplot`, no Figure: matplotlib 3.11 spends
milliseconds per tick label, and a 30-class matrix has 60 of them, so a Figure cannot
render a matrix in the 50 ms an epoch-end callback may spend; this renders one in a few.
Nothing is shared between calls, so rendering is safe from any thread.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from tensorboard.compat.proto import summary_pb2, types_pb2
from tensorboard.plugins.image import metadata as image_metadata

from keras_tbx.summary._raster import TextLayer, encode_png, fit_text as _fit, font, require, text_length
from keras_tbx.summary._classification import (
    display_names,
    most_confused_classes,
    write_pb,
)

_TEXT = (33, 33, 33)
_RED = (214, 39, 40)
_FRAME = (160, 160, 160)
_TILE_FRAME = (224, 224, 224)

# Confusion-matrix layout, in pixels: a (_HEIGHT, _WIDTH) image, heatmap _SIZE square at
# (_LEFT, _TOP), colorbar to its right, labels left of and below it.
_WIDTH, _HEIGHT = 640, 600
_LEFT, _TOP, _SIZE = 128, 48, 420  # room for 100-pixel labels
_BAR_X, _BAR_W = _LEFT + _SIZE + 16, 14
_ANNOTATE_MAX = 15
_require, _font = require, font
_frames = threading.local()  # the last confusion-matrix frames drawn, per thread


def _paste_upright(canvas, box, labels, font, fill) -> None:
    """Draws `(center, text)` labels read upwards in `box = (left, top, width, height)`.

    Each text ends at the box's top edge, centred on horizontal offset `center`. The
    labels are drawn horizontally on one mask that is turned a quarter left once.
    """
    left, top, width, height = box
    layer = TextLayer((width, height))
    for center, text in labels:
        layer.add((height - 1, center), _fit(text, font, height - 2), font, 255, anchor="rm")
    alpha = np.rot90(layer.alpha()).astype(np.float32)[..., None] / 255.0
    region = canvas[top : top + height, left : left + width]
    alpha = alpha[: region.shape[0], : region.shape[1]]
    region[...] = np.round(region * (1.0 - alpha) + np.asarray(fill, np.float32) * alpha).astype(np.uint8)


def _colors(name: str = "Blues") -> np.ndarray:
    """A (256, 3) uint8 lookup table of a matplotlib colormap."""
    matplotlib = _require()[0]
    table = matplotlib.colormaps[name](np.linspace(0.0, 1.0, 256))[:, :3]
    return np.round(table * 255).astype(np.uint8)


def _cell_edges(k: int, size: int = _SIZE) -> np.ndarray:
    """Pixel offsets where each of `k` cells starts (k + 1 entries, the last = size)."""
    return (np.arange(k + 1) * size + k - 1) // k


def _nice_ticks(vmax: float) -> np.ndarray:
    if vmax <= 0:
        return np.array([0.0])
    raw = vmax / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return np.arange(0.0, vmax + step * 1e-9, step)


def _format(value: float, integral: bool) -> str:
    return f"{value:.0f}" if integral else f"{value:.3g}"


def confusion_matrix_image(matrix, class_names=None, *, normalize=False, max_classes=30) -> np.ndarray:
    """Renders a confusion matrix as a heatmap image.

    Class names label both axes (rows: true class, columns: predicted class); a colorbar
    gives the scale (0 to the largest shown count, or 0 to 1 when normalized). Up to 15
    shown classes, every cell is annotated (counts as integers, normalized values with 2
    decimals). Past `max_classes` classes, only the `max_classes` most-confused classes
    are shown (see `most_confused_classes`), in their original order, and the subtitle
    says so ("28 most-confused of 1000 classes"). The image is 600 x 640 whatever the
    number of classes.

    Args:
        matrix: `(n, n)` confusion matrix (counts or weights).
        class_names: `n` names, or None for "0".."n-1".
        normalize: Divide each row by its sum over all `n` classes (rows with no
            examples stay 0), so cell (i, j) is the fraction of class i predicted as j.
        max_classes: Most classes shown.

    Returns:
        A uint8 `(600, 640, 3)` RGB array.

    Raises:
        ImportError: If matplotlib is not installed.
        ValueError: If `matrix` is not square or `class_names` has the wrong length.

    Example:
        >>> image = confusion_matrix_image([[5, 1], [0, 4]], ["cat", "dog"], normalize=True)
        >>> image.shape, image.dtype
        ((600, 640, 3), dtype('uint8'))
    """
    full, shown, names = _selection(matrix, class_names, max_classes, "confusion_matrix_image")
    return _paint(_frame(full, shown, names), full, shown, normalize)


def _selection(matrix, class_names, max_classes, fn):
    full = np.asarray(matrix, dtype=np.float64)
    shown = most_confused_classes(full, max_classes)  # validates the shape
    return full, shown, display_names(class_names, full.shape[0], fn)


def _frame(full: np.ndarray, shown: np.ndarray, names: list[str]) -> np.ndarray:
    """What the counts and normalized images share: frames, class names, axis titles.

    The last few frames drawn on this thread are reused when the shown classes, their
    names and the subtitle are the same (every epoch of a run, for train and validation
    alike, as long as the classes shown stay)."""
    key = (tuple(names[i] for i in shown), _subtitle(full, shown))
    cache = _frames.__dict__.setdefault("recent", {})
    if key in cache:
        cache[key] = cache.pop(key)  # most recent last
        return cache[key]
    canvas = _draw_frame(full, shown, names)
    canvas.flags.writeable = False
    cache[key] = canvas
    while len(cache) > 4:
        cache.pop(next(iter(cache)))
    return canvas


def _draw_frame(full: np.ndarray, shown: np.ndarray, names: list[str]) -> np.ndarray:
    _require()
    canvas = np.full((_HEIGHT, _WIDTH, 3), 255, dtype=np.uint8)
    canvas[_TOP - 1 : _TOP + _SIZE + 1, _LEFT - 1 : _LEFT + _SIZE + 1] = _FRAME
    canvas[_TOP - 1 : _TOP + _SIZE + 1, _BAR_X - 1 : _BAR_X + _BAR_W + 1] = _FRAME
    k = len(shown)
    edges = _cell_edges(k)
    centers = (edges[:-1] + edges[1:]) / 2
    cell = _SIZE / k
    font = _font(int(min(11, max(7, cell * 0.75))))
    every = max(1, math.ceil((font.size + 2) / cell))
    room = _HEIGHT - _TOP - _SIZE - 30  # for a label, below the heatmap and left of it
    labels = [(centers[i], _fit(names[shown[i]], font, room)) for i in range(0, k, every)]
    text = TextLayer(canvas.shape)
    for center, name in labels:
        text.add((_LEFT - 5, _TOP + center), name, font, _TEXT, anchor="rm")
    longest = max(text_length(name, font) for _, name in labels)
    axis_font = _font(12)
    text.add((_LEFT + _SIZE / 2, _TOP + _SIZE + longest + 12), "Predicted", axis_font, _TEXT, anchor="mt")
    subtitle = _subtitle(full, shown)
    if subtitle:
        text.add((_LEFT + _SIZE / 2, 28), subtitle, _font(11), _TEXT, anchor="mt")
    text.apply(canvas)
    _paste_upright(canvas, (_LEFT, _TOP + _SIZE + 5, _SIZE, room), labels, font, _TEXT)
    length = int(text_length("True", axis_font)) + 4
    _paste_upright(canvas, (int(_LEFT - longest - 26), _TOP + (_SIZE - length) // 2, 16, length),
                   [(8, "True")], axis_font, _TEXT)
    return canvas


def _paint(frame: np.ndarray, full: np.ndarray, shown: np.ndarray, normalize: bool) -> np.ndarray:
    """The heatmap, colorbar, cell annotations and title on a copy of `frame`."""
    values = full
    if normalize:
        rows = full.sum(axis=1, keepdims=True)
        values = np.divide(full, rows, out=np.zeros_like(full), where=rows != 0)
    values = values[np.ix_(shown, shown)]
    vmax = 1.0 if normalize else float(values.max(initial=0.0)) or 1.0
    lut = _colors()
    level = np.clip(np.round(values / vmax * 255), 0, 255).astype(np.intp)
    k = len(shown)
    edges = _cell_edges(k)
    pixels = np.diff(edges)  # per cell; 0 for cells skipped when k > _SIZE
    heat = np.repeat(np.repeat(lut[level], pixels, axis=0), pixels, axis=1)
    cell = _SIZE / k
    if cell >= 6:  # white grid lines between cells
        heat[edges[1:-1], :] = 255
        heat[:, edges[1:-1]] = 255
    canvas = frame.copy()
    canvas[_TOP : _TOP + _SIZE, _LEFT : _LEFT + _SIZE] = heat
    ramp = lut[np.round(np.linspace(255, 0, _SIZE)).astype(np.intp)]
    canvas[_TOP : _TOP + _SIZE, _BAR_X : _BAR_X + _BAR_W] = ramp[:, None, :]
    integral = bool(np.all(values == np.round(values)))
    text = TextLayer(canvas.shape)
    tick_font = _font(10)
    for tick in _nice_ticks(vmax):
        y = _TOP + (_SIZE - 1) * (1 - tick / vmax)
        canvas[int(round(y)), _BAR_X + _BAR_W : _BAR_X + _BAR_W + 4] = _TEXT
        label = f"{tick:.2f}" if normalize else _format(tick, integral or tick == round(tick))
        text.add((_BAR_X + _BAR_W + 6, y), label, tick_font, _TEXT, anchor="lm")

    if k <= _ANNOTATE_MAX:
        centers = (edges[:-1] + edges[1:]) / 2
        texts = [[f"{v:.2f}" if normalize else _format(v, integral) for v in row] for row in values]
        widest = max(len(t) for row in texts for t in row)
        size = int(min(16, cell * 0.4, (cell - 6) / (0.62 * widest)))
        if size >= 6:
            font = _font(size)
            for i in range(k):
                for j in range(k):
                    fill = (255, 255, 255) if level[i, j] > 140 else _TEXT
                    text.add((_LEFT + centers[j], _TOP + centers[i]), texts[i][j], font, fill, anchor="mm")

    title = f"Confusion matrix ({'row-normalized' if normalize else 'counts'})"
    text.add((_LEFT + _SIZE / 2, 8), title, _font(14, bold=True), _TEXT, anchor="mt")
    return text.apply(canvas)


def _subtitle(matrix: np.ndarray, shown: np.ndarray) -> str | None:
    """Says which classes a partial matrix shows ("28 most-confused of 1000 classes")."""
    n, k = matrix.shape[0], len(shown)
    if k == n:
        return None
    kind = "most-confused" if matrix.sum() > np.trace(matrix) else "first"
    return f"{k} {kind} of {n} classes"


def confusion_matrix_images(matrix, class_names=None, *, max_classes=30) -> dict[str, np.ndarray]:
    """The two images `confusion_matrix` writes, as arrays.

    Returns:
        `{"counts": image, "normalized": image}` (see `confusion_matrix_image`).
    """
    full, shown, names = _selection(matrix, class_names, max_classes, "confusion_matrix_images")
    frame = _frame(full, shown, names)  # drawn once for both
    return {"counts": _paint(frame, full, shown, False), "normalized": _paint(frame, full, shown, True)}


def png_summary_pb(images, *, description=None):
    """Image summaries, one PNG per tag, as `tf.summary.image` writes them, without TF.

    Each image is encoded once, losslessly, without PNG row filters at zlib level 1
    (`_raster.encode_png`: 5 ms for a 600 x 640 heatmap, against 12 ms for Pillow and more
    for `tf.summary.image`'s encoder; about the same size for these flat images).

    Args:
        images: Mapping of tag to a uint8 `(H, W, 3)` array.
        description: Optional markdown description.

    Returns:
        A `Summary` proto for TensorBoard's Images dashboard.
    """
    summary = summary_pb2.Summary()
    meta = image_metadata.create_summary_metadata(display_name=None, description=description)
    for tag, image in images.items():
        value = summary.value.add(tag=tag, metadata=meta)
        value.tensor.dtype = types_pb2.DT_STRING
        value.tensor.tensor_shape.dim.add(size=3)
        height, width = image.shape[:2]
        value.tensor.string_val.extend([str(width).encode(), str(height).encode(), encode_png(image)])
    return summary


def confusion_matrix_pb(name, matrix, *, class_names=None, max_classes=30, description=None):
    """`confusion_matrix`'s two images (`<name>/counts`, `<name>/normalized`) as a proto.

    Returns:
        A `Summary` proto with two PNG image values.
    """
    images = confusion_matrix_images(matrix, class_names, max_classes=max_classes)
    return png_summary_pb({f"{name}/{kind}": image for kind, image in images.items()},
                          description=description)


def confusion_matrix(name, matrix, step=None, *, class_names=None, max_classes=30, description=None) -> bool:
    """Writes a confusion matrix as two images, `<name>/counts` and `<name>/normalized`.

    Args:
        name: Tag prefix (e.g. "confusion_matrix").
        matrix: `(n, n)` confusion matrix; `confusion_matrix_counts` builds one from labels.
        step: Step; defaults to `tf.summary.experimental.get_step()`.
        class_names: `n` names, or None for "0".."n-1".
        max_classes: Most classes shown; past it, the most-confused ones.
        description: Optional markdown description.

    Returns:
        True if written, False if no default writer is set or recording is off.

    Raises:
        ImportError: If matplotlib is not installed.
        ValueError: As `confusion_matrix_image`.

    Example:
        >>> import tensorflow as tf
        >>> with tf.summary.create_file_writer("/tmp/logs").as_default():
        ...     confusion_matrix("confusion_matrix", [[5, 1], [0, 4]], step=1)
        True
    """
    pb = confusion_matrix_pb(name, matrix, class_names=class_names, max_classes=max_classes,
                             description=description)
    return write_pb(pb, step)
