"""Fast, server-free reader of TensorBoard event files for unit tests.

Every function takes a *run folder* and reads the ``events.out.tfevents.*``
files directly inside it (not recursively), in file-name (timestamp) order.
Files may still be open for appending by a writer: whatever complete records
are on disk are read, and a truncated trailing record is silently skipped.
Call ``writer.flush()`` (or close the writer) before reading.

Records are parsed with TensorBoard's own ``LegacyEventFileLoader`` (raw
``Event`` protos, no compat rewriting), and legacy ``Summary.Value`` kinds
(``simple_value``, ``histo``, ``image``, ``audio``) are converted to their
modern tensor form with ``tensorboard.data_compat.migrate_value``, so TF1-style
and TF2-style summaries read the same way.

Public API::

    event_files(run_dir) -> list[str]
    read_scalars(run_dir) -> dict[str, list[tuple[int, float]]]
    read_scalar_dtypes(run_dir) -> dict[str, set[str]]
    read_tags(run_dir) -> dict[str, set[str]]
    read_tensors(run_dir, tag) -> list[tuple[int, np.ndarray]]
    read_images(run_dir, tag) -> list[tuple[int, list[np.ndarray]]]
    read_histograms(run_dir, tag) -> list[tuple[int, np.ndarray]]
"""

from __future__ import annotations

import glob
import io
import os
from collections.abc import Iterator
from typing import NamedTuple, Union

import numpy as np

PathLike = Union[str, "os.PathLike[str]"]

EVENT_FILE_GLOB = "events.out.tfevents.*"
GRAPH_PLUGIN = "graphs"
GRAPH_TAG = "__graph__"

__all__ = [
    "event_files",
    "read_scalars",
    "read_scalar_dtypes",
    "read_tags",
    "read_tensors",
    "read_images",
    "read_histograms",
]


class _Value(NamedTuple):
    """One summary value, after legacy-to-tensor migration."""

    step: int
    wall_time: float
    tag: str
    plugin_name: str
    value: object  # summary_pb2.Summary.Value (or the Event, for graph_def)
    kind: str  # on-disk kind: "tensor", "simple_value", "histo", ..., "graph_def"


def _file_sort_key(path: str) -> tuple[int, str]:
    # events.out.tfevents.<unix-seconds>.<host>.<pid>.<n>[.v2]
    name = os.path.basename(path)
    rest = name[len("events.out.tfevents.") :]
    stamp = rest.split(".", 1)[0]
    return (int(stamp) if stamp.isdigit() else 0, name)


def event_files(run_dir: PathLike) -> list[str]:
    """Return the event files directly inside ``run_dir``, oldest first.

    Only regular files named ``events.out.tfevents.*`` are returned; sub-folders
    (other runs) are not searched. A missing ``run_dir`` gives ``[]``.
    """
    pattern = os.path.join(glob.escape(os.fspath(run_dir)), EVENT_FILE_GLOB)
    files = [p for p in glob.glob(pattern) if os.path.isfile(p)]
    return sorted(files, key=_file_sort_key)


def _iter_events(path: str) -> Iterator[object]:
    """Yield parsed ``Event`` protos from one file; stop at a truncated tail."""
    from tensorboard.backend.event_processing import event_file_loader

    try:
        loader = event_file_loader.LegacyEventFileLoader(path)
    except (OSError, IOError):  # vanished between glob and open
        return
    try:
        yield from loader.Load()
    except (OSError, IOError):
        return


def _iter_values(run_dir: PathLike) -> Iterator[_Value]:
    """Yield every summary value of a run, plus graph_def events.

    Plugin names come from the value's own metadata, falling back to the
    first metadata seen for the same tag in this run (TF1 writers only write
    metadata on a tag's first occurrence).
    """
    from tensorboard import data_compat

    plugin_of_tag: dict[str, str] = {}
    for path in event_files(run_dir):
        for event in _iter_events(path):
            what = event.WhichOneof("what")
            if what == "graph_def":
                yield _Value(
                    event.step, event.wall_time, GRAPH_TAG, GRAPH_PLUGIN, event, "graph_def"
                )
                continue
            if what != "summary":
                continue
            for value in event.summary.value:
                kind = value.WhichOneof("value") or ""
                if kind != "tensor":
                    value = data_compat.migrate_value(value)
                plugin = value.metadata.plugin_data.plugin_name
                if plugin:
                    plugin_of_tag.setdefault(value.tag, plugin)
                else:
                    plugin = plugin_of_tag.get(value.tag, "")
                yield _Value(event.step, event.wall_time, value.tag, plugin, value, kind)


def _to_ndarray(value) -> np.ndarray:
    from tensorboard.util import tensor_util

    if not hasattr(value, "tensor"):  # a graph_def Event
        return np.array([value.graph_def], dtype=object)
    try:
        return tensor_util.make_ndarray(value.tensor)
    except TypeError:  # e.g. bfloat16, unknown to TensorBoard's numpy compat
        import tensorflow as tf

        return tf.make_ndarray(value.tensor)


def read_scalars(run_dir: PathLike) -> dict[str, list[tuple[int, float]]]:
    """Return ``{tag: [(step, value), ...]}`` for every scalar in the run.

    Handles TF2 tensor scalars (plugin ``scalars``, any float/int dtype) and
    legacy ``simple_value`` scalars. Points are sorted by step; points with
    the same step keep their on-disk order.
    """
    out: dict[str, list[tuple[int, float]]] = {}
    for v in _iter_values(run_dir):
        if v.plugin_name != "scalars":
            continue
        value = v.value
        if value.WhichOneof("value") == "simple_value":  # not migrated (defensive)
            number = float(value.simple_value)
        else:
            number = float(np.asarray(_to_ndarray(value)).reshape(()))
        out.setdefault(v.tag, []).append((int(v.step), number))
    for points in out.values():
        points.sort(key=lambda p: p[0])
    return out


def _dtype_name(enum: int) -> str:
    from tensorboard.compat.proto import types_pb2
    from tensorboard.compat.tensorflow_stub import dtypes

    try:
        return dtypes.as_dtype(enum).name
    except Exception:  # noqa: BLE001 - unknown to the stub
        return types_pb2.DataType.Name(enum).removeprefix("DT_").lower()


def read_scalar_dtypes(run_dir: PathLike) -> dict[str, set[str]]:
    """Return ``{tag: {dtype name, ...}}`` for every scalar in the run.

    Tensor scalars give their tensor dtype (``"float32"``, ``"float64"``,
    ...); legacy ``simple_value`` scalars give ``"simple_value"``. Useful
    because TensorBoard's default fast loader (the Rust data server) only
    shows ``float32`` tensor scalars and legacy ``simple_value`` scalars;
    other dtypes are silently dropped.
    """
    out: dict[str, set[str]] = {}
    for v in _iter_values(run_dir):
        if v.plugin_name != "scalars":
            continue
        if v.kind != "tensor":
            name = v.kind
        else:
            name = _dtype_name(v.value.tensor.dtype)
        out.setdefault(v.tag, set()).add(name)
    return out


def read_tags(run_dir: PathLike) -> dict[str, set[str]]:
    """Return ``{plugin_name: {tag, ...}}`` for everything in the run.

    Legacy ``simple_value``/``histo``/``image``/``audio`` values count as
    ``scalars``/``histograms``/``images``/``audio``; ``graph_def`` events count
    as plugin ``"graphs"`` with tag ``"__graph__"``. Values with no plugin name
    at all are listed under ``""``.
    """
    out: dict[str, set[str]] = {}
    for v in _iter_values(run_dir):
        out.setdefault(v.plugin_name, set()).add(v.tag)
    return out


def read_tensors(run_dir: PathLike, tag: str) -> list[tuple[int, np.ndarray]]:
    """Return ``[(step, ndarray), ...]`` for a tensor summary ``tag``, by step.

    Works for any tensor-valued summary: scalars (0-d), histograms ``(k, 3)``,
    images (1-d string tensor), text (string tensor), etc. Strings come back
    as ``bytes`` elements of an ``object`` array. ``tag="__graph__"`` gives
    the serialized ``GraphDef`` of each ``graph_def`` event as a 1-element
    ``object`` array.
    """
    out = [(int(v.step), _to_ndarray(v.value)) for v in _iter_values(run_dir) if v.tag == tag]
    out.sort(key=lambda p: p[0])
    return out


def _decode_image(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return np.array(img, dtype=np.uint8)


def read_images(run_dir: PathLike, tag: str) -> list[tuple[int, list[np.ndarray]]]:
    """Return ``[(step, [image, ...]), ...]`` for image summary ``tag``, by step.

    The image tensor is ``[width, height, png_0, png_1, ...]`` (strings);
    each encoded image is decoded with PIL into a ``uint8`` array of shape
    ``(H, W)`` for grayscale or ``(H, W, C)`` otherwise.
    """
    out = []
    for step, arr in read_tensors(run_dir, tag):
        flat = np.asarray(arr).reshape(-1)
        out.append((step, [_decode_image(bytes(b)) for b in flat[2:]]))
    return out


def read_histograms(run_dir: PathLike, tag: str) -> list[tuple[int, np.ndarray]]:
    """Return ``[(step, buckets), ...]`` for histogram summary ``tag``, by step.

    ``buckets`` is a float ``(k, 3)`` array of ``[left, right, count]`` rows
    (``(0, 3)`` for an empty histogram). Legacy ``HistogramProto`` values are
    converted the same way TensorBoard does.
    """
    out = []
    for step, arr in read_tensors(run_dir, tag):
        arr = np.asarray(arr, dtype=np.float64)
        out.append((step, arr.reshape(-1, 3) if arr.size else arr.reshape(0, 3)))
    return out
