"""Classification images and PR curves as a real TensorBoard serves them."""

from __future__ import annotations

import numpy as np
import pytest
from models import tiny_data, tiny_model

import keras_tbx
from keras_tbx.summary import confusion_matrix_images

pytestmark = pytest.mark.server

NAMES = ["ant", "bee", "cat"]


def test_confusion_matrix_prediction_grid_and_pr_curves_are_served(tb_server, tb_run_dir):
    x, y = tiny_data(n=120)
    xv, yv = tiny_data(n=60, seed=1)
    model = tiny_model()
    tb = keras_tbx.TensorBoard(tb_run_dir, class_names=NAMES, sample=(xv[:6], yv[:6]))
    model.fit(x, y, validation_data=(xv, yv), epochs=2, batch_size=16, verbose=0, callbacks=[tb])
    val = tb_run_dir / "validation"
    tb_server.wait_for_runs([tb_run_dir / "train", val])

    # The served PNG is, pixel for pixel, the image of the matrix sklearn would give.
    from sklearn.metrics import confusion_matrix

    matrix = confusion_matrix(yv, model.predict(xv, verbose=0).argmax(-1), labels=[0, 1, 2])
    expected = confusion_matrix_images(matrix.astype(float), NAMES)
    served = tb_server.images(val, "confusion_matrix/counts", min_count=2)[-1]
    np.testing.assert_array_equal(served[..., :3], expected["counts"])
    served = tb_server.images(val, "confusion_matrix/normalized", min_count=2)[-1]
    np.testing.assert_array_equal(served[..., :3], expected["normalized"])

    # The grid of the fixed sample: the same picture the pure builder draws from the
    # final model's predictions (captions with true/predicted names, mistakes marked).
    from keras_tbx.summary._predictions import prediction_images_pb
    from oracle import decode_png

    pb = prediction_images_pb("predictions", xv[:6], yv[:6], model.predict(xv[:6], verbose=0),
                              class_names=NAMES)
    expected_grid = decode_png(pb.value[0].tensor.string_val[2])
    served = tb_server.images(val, "predictions/grid", min_count=2)[-1]
    np.testing.assert_array_equal(served, expected_grid)

    tags = tb_server.get_json("/data/plugin/pr_curves/tags")
    assert set(tags[tb_server.run_name(val)]) == {f"pr_curve/{n}/pr_curves" for n in NAMES}
    curves = tb_server.get_json("/data/plugin/pr_curves/pr_curves", run=tb_server.run_name(val),
                                tag="pr_curve/ant/pr_curves")
    assert [entry["step"] for entry in curves[tb_server.run_name(val)]] == [0, 1]
