"""Unique run folders: one per training, even when several start at the same moment."""

from __future__ import annotations

import os
import time

from keras_tbx._core.validation import _fail

_MAX_SUFFIX = 10_000


def run_dir(root="logs", name=None, *, timestamp=None) -> str:
    """Creates and returns a new run folder under `root`, never one that already exists.

    The folder is `<root>/<name>-YYYYmmdd-HHMMSS` (`<root>/YYYYmmdd-HHMMSS` without a
    name); when another run took that name in the same second (two trainings started
    together, a sweep), `-1`, `-2`, ... is appended. Each candidate is claimed with one
    `os.mkdir`, which the file system grants to exactly one caller, so concurrent
    processes (or threads) sharing `root` always get distinct folders.

    Args:
        root: Folder that holds the runs (created if missing), e.g. what you pass to
            `tensorboard --logdir`.
        name: Optional prefix naming the experiment; a plain folder name (no `/`).
        timestamp: A `time.struct_time` to use instead of the current local time.

    Returns:
        The path of the created, empty folder (`root` joined with the run name).

    Raises:
        TypeError, ValueError: On an invalid `root` or `name`.

    Example:
        ```python
        log_dir = keras_tbx.run_dir("logs", "cnn")  # logs/cnn-20250101-120000
        model.fit(x, y, callbacks=[keras_tbx.TensorBoard(log_dir)])
        ```
    """
    if not isinstance(root, (str, os.PathLike)) or not os.fspath(root):
        _fail("root", "a non-empty path (str or os.PathLike)", root, TypeError)
    if name is not None:
        if not isinstance(name, str):
            _fail("name", "None or a str", name, TypeError)
        if not name or name in (".", "..") or "/" in name or os.sep in name or "\0" in name:
            _fail("name", "a plain folder name (not empty, no path separator, not '.' or '..')", name)
    root = os.fspath(root)
    os.makedirs(root, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", timestamp or time.localtime())
    base = f"{name}-{stamp}" if name else stamp
    for n in range(_MAX_SUFFIX):
        path = os.path.join(root, base if n == 0 else f"{base}-{n}")
        try:
            os.mkdir(path)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"no free run folder named {base!r}[-N] under {root!r}")
