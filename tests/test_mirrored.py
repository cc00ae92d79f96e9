"""MirroredStrategy over 2 logical CPUs (a fresh process: logical devices must be set before
TensorFlow starts): counts from every replica, each point written once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from events import event_files, read_scalars

SCRIPT = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, {tests!r})
    import numpy as np, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras, keras_tbx
    from models import tiny_data
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    x, y = tiny_data(n=128)
    xv, yv = tiny_data(n=64, seed=1)
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"),
                                  keras.layers.Dense(3, activation="softmax")])
        model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    tb = keras_tbx.TensorBoard({log_dir!r}, update_freq=2, class_names=["a", "b", "c"])
    history = model.fit(x, y, validation_data=(xv, yv), epochs=2, batch_size=32, verbose=0, callbacks=[tb])
    from keras_tbx.callbacks._classification import Classification
    part = next(p for p in tb._parts if isinstance(p, Classification))
    out = {{
        "replicas": strategy.num_replicas_in_sync,
        "train_total": float(part.last_counts["train"]["confusion"].sum()),
        "val_confusion": part._validation["confusion"].tolist(),
        "predicted": np.argmax(model.predict(xv, verbose=0), -1).tolist(),
        "loss": history.history["loss"],
    }}
    print("RESULT" + json.dumps(out))
    """
)


def test_mirrored_strategy_counts_every_replica_and_writes_once(log_dir):
    from sklearn.metrics import confusion_matrix

    script = SCRIPT.format(tests=os.path.dirname(__file__), log_dir=str(log_dir))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(next(l for l in proc.stdout.splitlines() if l.startswith("RESULT"))[6:])
    assert out["replicas"] == 2
    assert out["train_total"] == 128  # both replicas' halves of the last epoch
    _, yv = __import__("models").tiny_data(n=64, seed=1)
    expected = confusion_matrix(yv, out["predicted"], labels=[0, 1, 2])
    np.testing.assert_array_equal(np.array(out["val_confusion"]), expected)
    for run in ("train", "validation"):
        assert len(event_files(os.path.join(log_dir, run))) == 1
    train = read_scalars(os.path.join(log_dir, "train"))
    assert [s for s, _ in train["epoch_loss"]] == [0, 1]
    assert [v for _, v in train["epoch_loss"]] == pytest.approx(out["loss"], rel=1e-6)
    assert [s for s, _ in train["batch_loss"]] == [2, 4, 6, 8]  # 4 global steps per epoch
