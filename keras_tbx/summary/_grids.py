"""Captioned image grids: predictions with their labels, mistakes marked in red."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from keras_tbx.summary._classification import _class_indices, write_pb
from keras_tbx.summary._raster import TextLayer, fit_text as _fit, font as _font, require as _require
from keras_tbx.summary._render import _RED, _TEXT, _TILE_FRAME, png_summary_pb


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
