"""The conceptual graph, weight histograms and images, and profiled steps, read back."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from events import read_histograms, read_images, read_tags, read_tensors
from models import tiny_data, tiny_model
from xplane import profile_files, step_markers

import keras_tbx
from keras_tbx.summary import normalize_images, weight_image


def _fit(log_dir, epochs=2, model=None, **kwargs):
    x, y = tiny_data()
    model = model or tiny_model()
    model.fit(x, y, epochs=epochs, batch_size=16, verbose=0,
              callbacks=[keras_tbx.TensorBoard(log_dir, **kwargs)])
    return model


def test_conceptual_graph_is_the_model_config(log_dir):
    model = _fit(log_dir, epochs=1)
    train = os.path.join(log_dir, "train")
    assert read_tags(train)["graph_keras_model"] == {"keras"}
    [(step, tensor)] = read_tensors(train, "keras")
    assert step == 0
    config = json.loads(tensor.item())
    assert config["config"]["name"] == model.name
    assert [layer["class_name"] for layer in config["config"]["layers"]][-2:] == ["Dense", "Dense"]


def test_no_graph_when_write_graph_is_false(log_dir):
    _fit(log_dir, epochs=1, write_graph=False)
    assert "graph_keras_model" not in read_tags(os.path.join(log_dir, "train"))


def test_weight_histograms_and_images_match_the_final_weights(log_dir):
    model = _fit(log_dir, epochs=1, histogram_freq=1, write_images=True)
    train = os.path.join(log_dir, "train")
    tags = read_tags(train)
    assert {f"{w.path}/histogram" for w in model.weights} <= tags["histograms"]
    assert {f"{w.path}/image" for w in model.weights} <= tags["images"]
    kernel = model.layers[1].kernel  # (8, 3): written after the only epoch = final weights
    weights = np.asarray(kernel.numpy())
    [(step, buckets)] = read_histograms(train, f"{kernel.path}/histogram")
    assert step == 0 and buckets[:, 2].sum() == weights.size
    assert buckets[0, 0] == pytest.approx(weights.min()) and buckets[-1, 1] == pytest.approx(weights.max())
    [(step, [png])] = read_images(train, f"{kernel.path}/image")
    expected = np.round(normalize_images(weight_image(weights))[0, :, :, 0] * 255)
    assert png.shape[:2] == (3, 8)  # transposed: longer axis horizontal
    np.testing.assert_allclose(png.reshape(3, 8), expected, atol=1)


def test_histograms_follow_histogram_freq(log_dir):
    model = _fit(log_dir, epochs=3, histogram_freq=2)
    hist = read_histograms(os.path.join(log_dir, "train"), f"{model.layers[1].kernel.path}/histogram")
    assert [s for s, _ in hist] == [0, 2]


def test_weight_image_layout_and_normalization():
    kernel = np.arange(24, dtype=np.float32).reshape(8, 3) - 5.0
    img = weight_image(kernel)
    assert img.shape == (1, 3, 8, 1)
    np.testing.assert_array_equal(img[0, :, :, 0], kernel.T)
    norm = normalize_images(img)
    assert norm.min() == 0.0 and norm.max() == 1.0
    np.testing.assert_allclose(norm[0, :, :, 0], (kernel.T + 5.0) / 23.0, rtol=1e-6)
    conv = np.zeros((3, 3, 2, 4), np.float32)
    assert weight_image(conv) is None  # 4-D kernels have no single-image form
    assert weight_image(np.zeros((3, 2, 4))).shape == (4, 3, 2, 1)
    np.testing.assert_array_equal(normalize_images(np.ones((1, 2, 2, 1))), np.full((1, 2, 2, 1), 0.5))


def _profiled_steps(log_dir):
    [path] = profile_files(os.path.join(log_dir, "train"))
    return step_markers(path)


@pytest.mark.parametrize("steps_per_execution, markers", [(1, [3, 4, 5, 6]), (2, [3, 5])])
def test_profile_batch_counts_optimizer_steps_with_step_markers(log_dir, steps_per_execution, markers):
    _fit(log_dir, model=tiny_model(steps_per_execution=steps_per_execution), profile_batch=(3, 6))
    # One marker per profiled call, numbered by the first optimizer step it runs.
    assert _profiled_steps(log_dir) == markers
