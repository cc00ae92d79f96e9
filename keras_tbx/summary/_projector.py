"""Embeddings the TensorBoard Projector opens: a TF checkpoint, `projector_config.pbtxt`,
metadata TSVs and sprite images, written the way the projector plugin reads them.

Where the plugin looks: in each run folder (a folder holding event files, such as
`<log_dir>/train`) and in the `--logdir` itself, for `projector_config.pbtxt` and the
latest checkpoint (`tf.train.latest_checkpoint`). Paths in the config are relative and
must stay inside that folder (the plugin refuses others), so every file is written there.
"""

from __future__ import annotations

import os
import re
import shutil

import numpy as np

CONFIG_FILE = "projector_config.pbtxt"
CHECKPOINT_NAME = "embeddings"
_MAX_SPRITE = 8192  # the Projector's largest sprite side, in pixels
_RESERVED = ("save_counter",)  # a tf.train.Checkpoint attribute


def file_stem(name) -> str:
    """A safe file-name stem for an embedding name; path-like names are refused.

    Raises:
        ValueError: If `name` is empty, ".", "..", or holds "/", "\\" or NUL.
    """
    if not isinstance(name, str) or not name or name in (".", "..") or any(c in name for c in "/\\\0"):
        raise ValueError("`write_embeddings`: embedding names must be non-empty strings without "
                         f"'/', '\\\\' or NUL, and not '.' or '..'. Received: {name!r}")
    stem = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    if stem in _RESERVED:
        stem += "_"
    return stem


def tensor_name(name) -> str:
    """The checkpoint key (and Projector tensor name) under which `name` is written."""
    return f"{file_stem(name)}/.ATTRIBUTES/VARIABLE_VALUE"


def _clean(cell) -> str:
    return re.sub(r"[\t\r\n]+", " ", str(cell))


def metadata_tsv(metadata, rows: int, name: str = "") -> str:
    """The text of a metadata file for `rows` points.

    Args:
        metadata: A sequence of labels (one column: no header row, as the Projector reads
            a single column), or a mapping column name -> sequence (a header row, then
            one row per point). Tabs and newlines inside cells become spaces.
        rows: Number of points.
        name: Embedding name, for error messages.

    Raises:
        ValueError: If a column does not have one entry per point.
    """
    columns = dict(metadata) if isinstance(metadata, dict) else {None: metadata}
    for column, values in columns.items():
        values = list(values)
        if len(values) != rows:
            raise ValueError(f"`write_embeddings`: metadata{'' if column is None else f' column {column!r}'} "
                             f"of {name!r} must have one entry per point ({rows}). Received {len(values)}.")
        columns[column] = [_clean(v) for v in values]
    lines = [] if None in columns else ["\t".join(_clean(c) for c in columns)]
    lines += ["\t".join(row) for row in zip(*columns.values())]
    return "\n".join(lines) + "\n"


def sprite_image(images, **display) -> tuple[np.ndarray, tuple[int, int]]:
    """The Projector's sprite: images in a square grid, row by row, left to right.

    Args:
        images: A batch as `display_images` takes it (its keyword arguments in `display`).

    Returns:
        `(sprite, (width, height))`: a uint8 RGB sprite at most 8192 pixels a side and the
        size of one image in it (`single_image_dim`).
    """
    from keras_tbx.summary._analysis import _resize_nearest, display_images

    shown = display_images(images, **display)
    if shown.shape[-1] == 1:
        shown = np.repeat(shown, 3, axis=-1)
    n, h, w = shown.shape[:3]
    side = int(np.ceil(np.sqrt(n)))
    scale = min(1.0, _MAX_SPRITE / (side * max(h, w)))
    if scale < 1.0:
        h, w = max(1, int(h * scale)), max(1, int(w * scale))
        shown = np.stack([_resize_nearest(img, h, w) for img in shown])
    sprite = np.zeros((side * h, side * w, 3), np.uint8)
    for i, img in enumerate(shown):
        r, c = divmod(i, side)
        sprite[r * h : (r + 1) * h, c * w : (c + 1) * w] = img
    return sprite, (w, h)


def _per_name(value, names, arg):
    if value is None:
        return {}
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names), key=str)
        if unknown:
            raise ValueError(f"`write_embeddings`: argument `{arg}` names unknown embeddings "
                             f"{unknown}; known: {sorted(names)}.")
        return dict(value)
    return {name: value for name in names}


def write_embeddings(log_dir, embeddings, *, metadata=None, sprite=None, step=0, **display) -> str:
    """Writes embeddings where TensorBoard's Projector finds them, and returns the config path.

    Writes into `log_dir`: a TF checkpoint `embeddings-<step>` holding one variable per
    embedding (key `<name>/.ATTRIBUTES/VARIABLE_VALUE`; earlier ones are removed),
    `projector_config.pbtxt` naming each tensor with its metadata and sprite,
    `metadata_<name>.tsv` and `sprite_<name>.png`. TensorBoard shows them for the run
    `log_dir` when it holds event files (e.g. a `train/` run folder) or is the served
    `--logdir` itself.

    Args:
        log_dir: Folder to write into (created if needed).
        embeddings: Mapping name -> 2-D array `(points, dims)`.
        metadata: For each embedding (a mapping name -> value, or one value for all): a
            sequence of labels, a mapping column -> sequence (`metadata_tsv`), or the path
            of an existing metadata TSV (copied in).
        sprite: Images of the points (a batch, one image per point), per name or one
            batch for all; see `sprite_image` (`display` holds its keyword arguments).
        step: Checkpoint number (e.g. the epoch).

    Returns:
        The path of `projector_config.pbtxt`.

    Raises:
        ValueError: On a name that could escape `log_dir` ("../x", "a/b", NUL), two names
            with the same file name, a tensor that is not 2-D, non-finite or empty, or
            metadata / sprites that do not have one entry per point, or a missing
            metadata file. Nothing is written then.

    Example:
        >>> write_embeddings("logs/run1/train", {"words": model.get_layer("emb").embeddings},
        ...                  metadata={"words": vocabulary})
    """
    import tensorflow as tf
    from google.protobuf import text_format
    from tensorboard.plugins import projector

    if not isinstance(embeddings, dict) or not embeddings:
        raise ValueError("`write_embeddings`: argument `embeddings` must be a non-empty dict "
                         f"name -> 2-D array. Received: {type(embeddings).__name__}")
    stems = {name: file_stem(name) for name in embeddings}
    if len(set(stems.values())) != len(stems):
        raise ValueError(f"`write_embeddings`: embedding names must map to distinct file names. "
                         f"Received: {sorted(embeddings)}")
    arrays = {}
    for name, value in embeddings.items():
        array = np.asarray(value, dtype=np.float32)
        if array.ndim != 2 or 0 in array.shape or not np.all(np.isfinite(array)):
            raise ValueError(f"`write_embeddings`: embedding {name!r} must be a non-empty, finite "
                             f"2-D array (points, dims). Received shape {array.shape}.")
        arrays[name] = array
    metadata = _per_name(metadata, embeddings, "metadata")
    sprite = _per_name(sprite, embeddings, "sprite")
    config = projector.ProjectorConfig()
    files = {}  # file name -> text, PNG array or a path to copy; written once all are valid
    for name, array in arrays.items():
        entry = config.embeddings.add(tensor_name=tensor_name(name))
        if metadata.get(name) is not None:
            entry.metadata_path = f"metadata_{stems[name]}.tsv"
            labels = metadata[name]
            if isinstance(labels, (str, os.PathLike)):
                if not os.path.isfile(labels):
                    raise ValueError(f"`write_embeddings`: metadata file {os.fspath(labels)!r} of {name!r} "
                                     "does not exist.")
                files[entry.metadata_path] = ("copy", os.fspath(labels))
            else:
                files[entry.metadata_path] = metadata_tsv(labels, len(array), name)
        if sprite.get(name) is not None:
            if len(sprite[name]) != len(array):
                raise ValueError(f"`write_embeddings`: sprite of {name!r} must have one image per point "
                                 f"({len(array)}). Received {len(sprite[name])}.")
            image, (width, height) = sprite_image(sprite[name], **display)
            entry.sprite.image_path = f"sprite_{stems[name]}.png"
            entry.sprite.single_image_dim.extend([width, height])
            files[entry.sprite.image_path] = image
    os.makedirs(log_dir, exist_ok=True)
    for file_name, content in files.items():
        target = os.path.join(log_dir, file_name)
        if isinstance(content, np.ndarray):
            from PIL import Image

            Image.fromarray(content).save(target)
        elif isinstance(content, tuple):
            if os.path.realpath(content[1]) != os.path.realpath(target):
                shutil.copyfile(content[1], target)
        else:
            with open(target, "w", encoding="utf-8") as f:
                f.write(content)
    checkpoint = tf.train.Checkpoint(**{stems[n]: tf.Variable(a, trainable=False) for n, a in arrays.items()})
    manager = tf.train.CheckpointManager(checkpoint, log_dir, max_to_keep=1, checkpoint_name=CHECKPOINT_NAME)
    manager.save(checkpoint_number=int(step))
    path = os.path.join(log_dir, CONFIG_FILE)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text_format.MessageToString(config))
    return path
