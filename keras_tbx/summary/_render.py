"""Rendered diagnostics: a confusion-matrix heatmap and captioned image grids.

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
from collections.abc import Sequence

import numpy as np

from tensorboard.compat.proto import summary_pb2, types_pb2
from tensorboard.plugins.image import metadata as image_metadata

from keras_tbx.summary._raster import TextLayer, encode_png, font, require, text_length
from keras_tbx.summary._classification import (
    _class_indices,
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
_frames = threading.local()  # the last confusion-matrix frame drawn, per thread


def _fit(text: str, font, width: float) -> str:
    """`text`, cut with an ellipsis to at most `width` pixels."""
    if text_length(text, font) <= width:
        return text
    lo, hi = 0, len(text)  # the longest prefix that fits with the ellipsis: binary search
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if font.getlength(text[:mid] + "…") <= width else (lo, mid - 1)
    return text[:lo] + "…"


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

    The last frame drawn on this thread is reused when the shown classes, their names and
    the subtitle are the same (every epoch of a run, as long as the classes shown stay)."""
    key = (tuple(names[i] for i in shown), _subtitle(full, shown))
    cached = getattr(_frames, "last", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    canvas = _draw_frame(full, shown, names)
    canvas.flags.writeable = False
    _frames.last = (key, canvas)
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


def _as_rgb(image, index: int) -> np.ndarray:
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[-1] in (1, 3, 4):
        a = a[..., 0] if a.shape[-1] == 1 else a[..., :3]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[-1] == 3)) or min(a.shape[:2]) < 1:
        raise ValueError(
            "`image_grid`: argument `images` must hold (h, w), (h, w, 1), (h, w, 3) or "
            f"(h, w, 4) images. Received images[{index}] of shape {np.shape(image)}."
        )
    if a.dtype != np.uint8:  # floats and bools in [0, 1]; other integers as they are
        scale = 255.0 if a.dtype.kind in "fb" else 1.0
        a = np.clip(np.round(np.nan_to_num(a.astype(np.float64) * scale)), 0, 255).astype(np.uint8)
    return np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a


def _resize_nearest(a: np.ndarray, height: int, width: int) -> np.ndarray:
    rows = np.arange(height) * a.shape[0] // height
    cols = np.arange(width) * a.shape[1] // width
    return a[rows[:, None], cols[None, :]]


def _wrap(text: str, font, width: float, lines: int) -> list[str]:
    """Word-wraps `text` into at most `lines` lines of `width` pixels, the last cut with
    an ellipsis; breaks at newlines, and first at " / " when the text does not fit."""
    parts = text.split("\n")
    if len(parts) == 1 and " / " in text and font.getlength(text) > width:
        parts = text.split(" / ", 1)
    out: list[str] = []
    for part in parts:
        line = ""
        for word in part.split():
            if line and font.getlength(f"{line} {word}") > width:
                out.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        out.append(line)
    if len(out) > lines:
        out = out[: lines - 1] + [" ".join(out[lines - 1 :])]
    return [_fit(line, font, width) for line in out]


_PAD, _BORDER, _LINE = 4, 3, 12


def image_grid(images, captions=None, *, mistakes=None, cols=None, title=None, tile_size=None) -> np.ndarray:
    """Lays out images in a grid, each with a caption; mistakes get a red frame and caption.

    Each image is scaled (nearest neighbour, aspect kept) into a `tile_size` square,
    framed by a 3-pixel border (red `(214, 39, 40)` for a mistake, light grey otherwise)
    and captioned below (up to 2 lines, cut with an ellipsis). Tiles fill the grid row by
    row; every grid cell has the same size, so the image is
    `cols * cell_width` wide and `title band + rows * cell_height` high.

    Args:
        images: Sequence of `(h, w)`, `(h, w, 1)`, `(h, w, 3)` or `(h, w, 4)` images (alpha
            dropped): floats or bools in [0, 1], or integers in [0, 255] (clipped).
        captions: One string per image (e.g. from `prediction_captions`), or None.
        mistakes: Optional bool per image; True marks a mistake.
        cols: Columns; default `ceil(sqrt(len(images)))`.
        title: Optional title above the grid.
        tile_size: Side of each image's square in pixels; default fits the first image
            to 64-128 pixels (small images grow by an integer factor).

    Returns:
        A uint8 `(H, W, 3)` RGB array.

    Raises:
        ImportError: If matplotlib is not installed.
        ValueError: If there are no images, an image has an unsupported shape, or
            `captions` / `mistakes` do not have one entry per image.

    Example:
        >>> digits = np.random.rand(6, 28, 28)
        >>> grid = image_grid(digits, ["true 3 / pred 5"] * 6, mistakes=[1, 0, 0, 0, 0, 0], cols=3)
        >>> grid.shape
        (220, 294, 3)
    """
    _require()
    tiles = [_as_rgb(img, i) for i, img in enumerate(images)]
    count = len(tiles)
    if count == 0:
        raise ValueError("`image_grid`: argument `images` must hold at least one image. Received none.")
    for arg, value in (("captions", captions), ("mistakes", mistakes)):
        if value is not None and len(value) != count:
            raise ValueError(
                f"`image_grid`: argument `{arg}` must have one entry per image ({count}). "
                f"Received {len(value)}."
            )
    marked = np.zeros(count, bool) if mistakes is None else np.asarray(mistakes, bool).reshape(-1)
    if tile_size is None:
        side = max(tiles[0].shape[:2])
        tile_size = min(side, 128) if side >= 64 else side * math.ceil(64 / side)
    tile = int(tile_size)
    cols = int(cols or math.ceil(math.sqrt(count)))
    rows = math.ceil(count / cols)
    font = _font(10)
    text = [] if captions is None else [_wrap(str(c), font, tile + 2 * _BORDER, 2) for c in captions]
    lines = max((len(t) for t in text), default=0)
    cell_w = tile + 2 * (_BORDER + _PAD)
    cell_h = tile + 2 * (_BORDER + _PAD) + lines * _LINE
    head = 24 if title else 0
    canvas = np.full((head + rows * cell_h, cols * cell_w, 3), 255, dtype=np.uint8)
    for i, img in enumerate(tiles):
        y = head + (i // cols) * cell_h + _PAD
        x = (i % cols) * cell_w + _PAD
        outer = tile + 2 * _BORDER
        canvas[y : y + outer, x : x + outer] = _RED if marked[i] else _TILE_FRAME
        canvas[y + _BORDER : y + _BORDER + tile, x + _BORDER : x + _BORDER + tile] = 245
        scale = tile / max(img.shape[:2])
        h, w = max(1, round(img.shape[0] * scale)), max(1, round(img.shape[1] * scale))
        top, left = y + _BORDER + (tile - h) // 2, x + _BORDER + (tile - w) // 2
        canvas[top : top + h, left : left + w] = _resize_nearest(img, h, w)
    layer = TextLayer(canvas.shape)
    for i, caption_lines in enumerate(text):
        y = head + (i // cols) * cell_h + _PAD + tile + 2 * _BORDER + 1
        x = (i % cols) * cell_w + cell_w / 2
        for j, line in enumerate(caption_lines):
            layer.add((x, y + j * _LINE), line, font, _RED if marked[i] else _TEXT, anchor="mt")
    if title:
        width = canvas.shape[1] - 8
        layer.add((canvas.shape[1] / 2, 5), _fit(str(title), _font(13, bold=True), width),
                  _font(13, bold=True), _TEXT, anchor="mt")
    return layer.apply(canvas)


def image_grid_summary(name, images, step=None, *, captions=None, mistakes=None, cols=None,
                       title=None, tile_size=None, description=None) -> bool:
    """Writes `image_grid(images, captions, ...)` as one image under tag `name`.

    Args:
        name: Tag.
        images: Images, as `image_grid` takes them.
        step: Step; defaults to `tf.summary.experimental.get_step()`.
        captions, mistakes, cols, title, tile_size: As `image_grid`.
        description: Optional markdown description.

    Returns:
        True if written, False if no default writer is set or recording is off.

    Raises:
        ImportError: If matplotlib is not installed.
        ValueError: As `image_grid`.

    Example:
        >>> import tensorflow as tf
        >>> captions, wrong = prediction_captions([3, 5], [3, 2])
        >>> with tf.summary.create_file_writer("/tmp/logs").as_default():
        ...     image_grid_summary("predictions", np.zeros((2, 28, 28)), step=1,
        ...                        captions=captions, mistakes=wrong)
        True
    """
    grid = image_grid(images, captions, mistakes=mistakes, cols=cols, title=title, tile_size=tile_size)
    return write_pb(png_summary_pb({name: grid}, description=description), step)


def _class_probabilities(probs) -> np.ndarray:
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim == 2 and p.shape[1] == 1:
        p = p[:, 0]
    if p.ndim == 1:  # one sigmoid unit: P(class 1)
        p = np.stack([1.0 - p, p], axis=1)
    if p.ndim != 2:
        raise ValueError(
            "`most_confident_mistakes`: argument `probs` must be (n, classes) or (n,) for one "
            f"sigmoid unit. Received shape {np.shape(probs)}."
        )
    return p


def most_confident_mistakes(labels, probs, k: int) -> np.ndarray:
    """Indices of the `k` wrong predictions made with the highest confidence.

    The prediction is the arg-max class; its confidence is the probability given to it.

    Args:
        labels: Sparse class indices `(n,)` or one-hot rows `(n, C)`.
        probs: `(n, C)` probabilities (or `(n,)` / `(n, 1)` for one sigmoid unit).
        k: Most indices to return.

    Returns:
        int64 indices of misclassified examples, by confidence descending (ties: lower
        index first); fewer than `k` when there are fewer mistakes.

    Raises:
        ValueError: If shapes disagree or labels are out of range.

    Example:
        >>> most_confident_mistakes([0, 1, 1], [[0.9, 0.1], [0.8, 0.2], [0.6, 0.4]], 5)
        array([1, 2])
    """
    p = _class_probabilities(probs)
    true = np.asarray(labels)
    if true.ndim == 2 and true.shape[1] == p.shape[1] and p.shape[1] > 1:
        true = true.argmax(axis=1)
    true = _class_indices(true, p.shape[1], "labels", "most_confident_mistakes")
    if true.size != p.shape[0]:
        raise ValueError(
            f"`most_confident_mistakes`: received {true.size} labels for {p.shape[0]} predictions."
        )
    pred = p.argmax(axis=1)
    wrong = np.flatnonzero(pred != true)
    confidence = p[wrong, pred[wrong]]
    return wrong[np.argsort(-confidence, kind="stable")][: max(int(k), 0)]


def prediction_captions(labels, predictions, class_names: Sequence[str] | None = None, *,
                        confidence=None):
    """Captions "true <name> / pred <name>" and the mistake mask for an image grid.

    Args:
        labels: Sparse true class indices `(n,)`.
        predictions: Sparse predicted class indices `(n,)`.
        class_names: Optional display names indexed by class.
        confidence: Optional probability per example, appended as " (0.97)".

    Returns:
        `(captions, mistakes)`: a list of `n` strings and a bool `(n,)` array.

    Raises:
        ValueError: If `labels` and `predictions` differ in size.

    Example:
        >>> prediction_captions([3, 5], [3, 2])
        (['true 3 / pred 3', 'true 5 / pred 2'], array([False,  True]))
    """
    true = np.asarray(labels).reshape(-1).astype(np.int64)
    pred = np.asarray(predictions).reshape(-1).astype(np.int64)
    if true.shape != pred.shape:
        raise ValueError(
            f"`prediction_captions`: received {true.size} labels for {pred.size} predictions."
        )
    names = [str(i) for i in range(int(max(true.max(initial=0), pred.max(initial=0))) + 1)]
    names = names if class_names is None else [str(c) for c in class_names]
    captions = [f"true {names[t]} / pred {names[q]}" for t, q in zip(true, pred)]
    if confidence is not None:
        captions = [f"{c} ({p:.2f})" for c, p in zip(captions, np.asarray(confidence).reshape(-1))]
    return captions, true != pred
