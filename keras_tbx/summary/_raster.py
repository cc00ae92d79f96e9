"""Fast raster pieces for rendered summaries: cached text stamps and a lean PNG encoder.

Drawing a string with Pillow runs FreeType each time (~0.1 ms); a confusion matrix has
hundreds of labels and cell values, and the same strings come back every epoch. Here every
string is rendered once per thread into an alpha mask and then blended with NumPy; numbers
are composed from cached digit glyphs (DejaVu Sans digits share one advance width), so a
new count costs no FreeType call. PNGs are written with filter type 0 and zlib level 1:
lossless, about the size of Pillow's adaptive-filter output for these flat images, in
less than half the time.
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from collections import OrderedDict

import numpy as np

_INSTALL_HINT = 'Rendering needs matplotlib: pip install "keras-tbx[plots]"'
_local = threading.local()  # FreeType faces must not be shared between threads
_MAX_STAMPS = 8192
_NUMERIC = frozenset("0123456789.")


def require():
    try:
        import matplotlib
        from PIL import Image, ImageDraw, ImageFont
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(_INSTALL_HINT) from error
    return matplotlib, Image, ImageDraw, ImageFont


def font(size: int, bold: bool = False):
    """DejaVu Sans (matplotlib's default font) at `size` pixels, cached per thread."""
    fonts = _local.__dict__.setdefault("fonts", {})
    key = (int(size), bool(bold))
    if key not in fonts:
        matplotlib, _, _, ImageFont = require()
        name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
        path = os.path.join(matplotlib.get_data_path(), "fonts", "ttf", name)
        try:
            fonts[key] = ImageFont.truetype(path, key[0])
        except OSError:  # pragma: no cover - a matplotlib without its fonts
            fonts[key] = ImageFont.load_default(key[0])
    return fonts[key]


def _stamps() -> OrderedDict:
    return _local.__dict__.setdefault("stamps", OrderedDict())


def _render(text: str, face) -> tuple[np.ndarray, int, int, float]:
    """FreeType render: (mask, left, top, advance), (left, top) relative to the left baseline."""
    _, Image, ImageDraw, _ = require()
    left, top, right, bottom = face.getbbox(text, anchor="ls")
    width, height = max(1, right - left), max(1, bottom - top)
    canvas = Image.new("L", (width, height))
    ImageDraw.Draw(canvas).text((-left, -top), text, font=face, fill=255, anchor="ls")
    return np.asarray(canvas), left, top, face.getlength(text)


def _glyph_row(text: str, face) -> tuple[np.ndarray, int, int, float]:
    """A number composed from cached single-character stamps on one baseline."""
    parts, pen = [], 0.0
    for char in text:
        mask, left, top, advance = _stamp(char, face)
        parts.append((mask, int(round(pen)) + left, top))
        pen += advance
    x0 = min(p[1] for p in parts)
    y0 = min(p[2] for p in parts)
    x1 = max(p[1] + p[0].shape[1] for p in parts)
    y1 = max(p[2] + p[0].shape[0] for p in parts)
    out = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for mask, x, y in parts:
        region = out[y - y0 : y - y0 + mask.shape[0], x - x0 : x - x0 + mask.shape[1]]
        np.maximum(region, mask, out=region)
    return out, x0, y0, pen


def _metrics(face) -> tuple[int, int]:
    metrics = _local.__dict__.setdefault("metrics", {})
    if id(face) not in metrics:
        metrics[id(face)] = face.getmetrics()
    return metrics[id(face)]


def _stamp(text: str, face):
    cache = _stamps()
    key = (text, id(face))
    hit = cache.get(key)
    if hit is not None:
        cache.move_to_end(key)
        return hit
    if len(text) > 1 and _NUMERIC.issuperset(text):
        hit = _glyph_row(text, face)
    else:
        hit = _render(text, face)
    cache[key] = hit
    if len(cache) > _MAX_STAMPS:
        cache.popitem(last=False)
    return hit


def text_length(text: str, face) -> float:
    """The advance width of `text` in pixels (`face.getlength`, cached)."""
    return _stamp(text, face)[3]


def fit_text(text: str, font, width: float) -> str:
    """`text`, cut with an ellipsis to at most `width` pixels."""
    if text_length(text, font) <= width:
        return text
    lo, hi = 0, len(text)  # the longest prefix that fits with the ellipsis: binary search
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if font.getlength(text[:mid] + "…") <= width else (lo, mid - 1)
    return text[:lo] + "…"


def text_mask(text: str, face, anchor: str = "la") -> tuple[np.ndarray, int, int]:
    """An alpha mask of `text` and the offset of its top-left corner from the anchor point.

    `anchor` follows Pillow: horizontal `l`/`m`/`r`, vertical `a` (ascender), `t` (top),
    `m` (middle), `s` (baseline), `b` (bottom), `d` (descender).
    """
    mask, left, top, advance = _stamp(text, face)
    h_anchor, v_anchor = anchor[0], anchor[1]
    dx = {"l": 0.0, "m": -advance / 2, "r": -advance}[h_anchor]
    ascent, descent = _metrics(face)
    dy = {
        "a": ascent, "s": 0.0, "d": -descent, "m": (ascent - descent) / 2,
        "t": -top, "b": -(top + mask.shape[0]),
    }[v_anchor]
    return mask, int(round(dx)) + left, int(round(dy)) + top


class TextLayer:
    """Text to blend into an image in one pass per colour: stamps only take the maximum
    of their masks on a per-colour alpha plane, so hundreds of labels cost little."""

    def __init__(self, shape):
        self.shape = tuple(shape[:2])
        self._planes: dict[tuple, np.ndarray] = {}

    def add(self, xy, text: str, face, fill, anchor: str = "la") -> None:
        if not text:
            return
        mask, dx, dy = text_mask(text, face, anchor)
        x, y = int(round(xy[0])) + dx, int(round(xy[1])) + dy
        h, w = mask.shape
        y0, x0 = max(y, 0), max(x, 0)
        y1, x1 = min(y + h, self.shape[0]), min(x + w, self.shape[1])
        if y0 >= y1 or x0 >= x1:
            return
        key = fill if isinstance(fill, int) else tuple(fill)
        entry = self._planes.get(key)
        if entry is None:
            entry = self._planes[key] = [np.zeros(self.shape, np.uint8), y0, x0, y1, x1]
        plane = entry[0]
        entry[1:] = min(entry[1], y0), min(entry[2], x0), max(entry[3], y1), max(entry[4], x1)
        region = plane[y0:y1, x0:x1]
        np.maximum(region, mask[y0 - y : y1 - y, x0 - x : x1 - x], out=region)

    def alpha(self) -> np.ndarray:
        """The union of all planes (for a single-channel mask)."""
        out = np.zeros(self.shape, np.uint8)
        for plane, *_ in self._planes.values():
            np.maximum(out, plane, out=out)
        return out

    def apply(self, canvas: np.ndarray) -> np.ndarray:
        """Blends the text into the uint8 `(H, W, 3)` `canvas` in place; returns it."""
        for color, (plane, y0, x0, y1, x1) in self._planes.items():
            crop, target = plane[y0:y1, x0:x1], canvas[y0:y1, x0:x1]
            rows, cols = np.nonzero(crop)
            alpha = crop[rows, cols].astype(np.float32)[:, None] / 255.0
            pixels = target[rows, cols].astype(np.float32)
            target[rows, cols] = np.round(pixels * (1.0 - alpha) + np.asarray(color, np.float32) * alpha)
        return canvas


def stamp(canvas: np.ndarray, xy, text: str, face, fill, anchor: str = "la") -> None:
    """Blends one `text` in colour `fill` into the uint8 `(H, W, 3)` `canvas`."""
    layer = TextLayer(canvas.shape)
    layer.add(xy, text, face, fill, anchor)
    layer.apply(canvas)


def encode_png(image: np.ndarray) -> bytes:
    """Lossless PNG bytes of a uint8 `(H, W)`, `(H, W, 3)` or `(H, W, 4)` array."""
    a = np.ascontiguousarray(image, dtype=np.uint8)
    if a.ndim == 2:
        a = a[..., None]
    height, width, channels = a.shape
    color_type = {1: 0, 3: 2, 4: 6}[channels]
    raw = np.zeros((height, 1 + width * channels), np.uint8)  # filter byte 0: none
    raw[:, 1:] = a.reshape(height, -1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw.tobytes(), 1)) + chunk(b"IEND", b""))
