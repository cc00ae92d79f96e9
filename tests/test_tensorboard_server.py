"""End to end: what keras_tbx.TensorBoard writes, served by a real TensorBoard."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from models import tiny_data, tiny_model

import keras_tbx

pytestmark = pytest.mark.server


def test_dashboards_serve_what_fit_logged(tb_server, tb_run_dir):
    x, y = tiny_data()
    model = tiny_model(
        loss="categorical_crossentropy",
        metrics=("accuracy", keras.metrics.F1Score(average=None)),
        learning_rate=keras.optimizers.schedules.ExponentialDecay(0.1, 4, 0.5),
    )
    names = ["red", "green", "blue"]
    cb = keras_tbx.TensorBoard(
        tb_run_dir, update_freq=2, histogram_freq=1, write_images=True, class_names=names
    )
    history = model.fit(x, keras.utils.to_categorical(y, 3), epochs=2, batch_size=16,
                        validation_split=0.25, verbose=0, callbacks=[cb])
    train, val = tb_run_dir / "train", tb_run_dir / "validation"
    tb_server.wait_for_runs([train, val])

    expected_train = {"epoch_loss", "epoch_accuracy", "epoch_learning_rate", "batch_loss",
                      "batch_accuracy", "batch_learning_rate"}
    expected_train |= {f"{p}_f1_score/{n}" for p in ("epoch", "batch") for n in names}
    assert tb_server.scalar_tags(train, expected_train) >= expected_train
    points = tb_server.scalars(train, "epoch_loss", min_points=2)
    assert [p[1] for p in points] == [0, 1]
    assert [p[2] for p in points] == pytest.approx(history.history["loss"], rel=1e-6)
    points = tb_server.scalars(val, "epoch_f1_score/blue", min_points=2)
    assert [p[2] for p in points] == pytest.approx(
        [float(v[2]) for v in history.history["val_f1_score"]], rel=1e-6)
    points = tb_server.scalars(train, "batch_learning_rate", min_points=5)
    assert [p[1] for p in points] == [2, 4, 6, 8, 10]  # 5 steps per epoch, every 2nd
    assert [p[2] for p in points] == pytest.approx([0.1 * 0.5 ** (s / 4) for s in (2, 4, 6, 8, 10)], rel=1e-5)

    kernel = model.layers[1].kernel
    hist = tb_server.histograms(train, f"{kernel.path}/histogram", min_count=2)
    assert [h[1] for h in hist] == [0, 1]
    assert sum(b[2] for b in hist[-1][2]) == pytest.approx(kernel.numpy().size)
    [last] = tb_server.images(train, f"{kernel.path}/image", min_count=2)[-1:]
    expected = np.round(keras_tbx.summary.normalize_images(
        keras_tbx.summary.weight_image(kernel.numpy()))[0, :, :, 0] * 255)
    np.testing.assert_allclose(last.reshape(expected.shape), expected, atol=1)

    info = tb_server.graph_info(train)
    assert info[tb_server.run_name(train)]["run_graph"] is False
    assert info[tb_server.run_name(train)]["tags"]["keras"]["conceptual_graph"] is True
