"""Tiny real Keras models and data shared by the tests."""

from __future__ import annotations

import numpy as np


def tiny_data(n=96, features=6, classes=3, seed=0):
    """Learnable toy classification data: `(x float32 (n, features), y int64 (n,))`."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype("float32")
    y = (np.argmax(x[:, :classes], axis=1)).astype("int64")
    return x, y


def tiny_model(
    classes=3,
    features=6,
    learning_rate=0.05,
    metrics=("accuracy",),
    loss="sparse_categorical_crossentropy",
    steps_per_execution=1,
    seed=0,
):
    """A compiled two-layer MLP."""
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((features,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(classes, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate),
        loss=loss,
        metrics=list(metrics),
        steps_per_execution=steps_per_execution,
    )
    return model
