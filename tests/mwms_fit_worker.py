"""One worker of a real MultiWorkerMirroredStrategy job (run by tests/test_distribute.py).

    python mwms_fit_worker.py <log_dir> <out_dir> <index>

`TF_CONFIG` (set by the test) names the cluster and this worker. The worker first runs
Keras' own `fit` and records how it fails, then enables `keras_tbx.distribute`'s fix and
trains a small
digit classifier with `keras_tbx.TensorBoard` (class names, hparams, a sample grid,
histograms, batch scalars, a profiled step range), writes one scalar through
`keras_tbx.summary.create_file_writer`, saves its final weights to `<out_dir>` (outside the
log dir) and prints `RESULT{json}`.
"""

import json
import os
import sys

import numpy as np
from sklearn.datasets import load_digits

CLASSES = [str(d) for d in range(10)]


def digits():
    """Real 8x8 digits: 256 to train on, 128 to validate on, the same on every worker."""
    data = load_digits()
    x = (data.images[:384, :, :, None] / 16.0).astype("float32")
    y = data.target[:384].astype("int64")
    return (x[:256], y[:256]), (x[256:], y[256:])


def model_fn():
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Flatten(),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(keras.optimizers.Adam(0.01), "categorical_crossentropy",
                  metrics=["accuracy", keras.metrics.F1Score(average=None, name="f1")])
    return model


def main(log_dir, out_dir, index):
    import keras
    import tensorflow as tf

    import keras_tbx
    import keras_tbx.distribute
    from keras_tbx._core.chief import is_chief

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    (x, y), (xv, yv) = digits()
    with strategy.scope():
        model = model_fn()
    unpatched_error = None
    try:  # Keras' own fit fails on every worker alike, before any collective or callback
        model.fit(x, keras.utils.to_categorical(y, 10), batch_size=32, epochs=1, verbose=0)
    except ValueError as e:
        unpatched_error = str(e)[-120:]
    keras_tbx.distribute.enable_multi_worker_fit()
    tb = keras_tbx.TensorBoard(
        log_dir, update_freq=2, histogram_freq=1, profile_batch=(3, 4), class_names=CLASSES,
        hparams={"learning_rate": 0.01, "optimizer": "adam"}, sample=(xv[:12], yv[:12]))
    history = model.fit(x, keras.utils.to_categorical(y, 10), batch_size=32, epochs=2, verbose=0,
                        validation_data=(xv, keras.utils.to_categorical(yv, 10)), callbacks=[tb])
    tb.close()

    writer = keras_tbx.summary.create_file_writer(os.path.join(log_dir, "custom"), strategy)
    with writer.as_default():
        written = bool(tf.summary.scalar("worker_index", float(index), step=0))
    writer.close()

    np.savez(os.path.join(out_dir, f"weights{index}.npz"), *model.get_weights())
    print("RESULT" + json.dumps({
        "index": index,
        "pid": os.getpid(),
        "is_chief": is_chief(model),
        "tf_says": bool(strategy.extended.should_save_summary),
        "unpatched_error": unpatched_error,
        "replicas": strategy.num_replicas_in_sync,
        "custom_written": written,
        "history": {k: np.asarray(v).tolist() for k, v in history.history.items()},
    }), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
