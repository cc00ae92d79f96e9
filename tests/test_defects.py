"""Each defect of keras.callbacks.TensorBoard (FACTS.md §1) shown with Keras' callback and
fixed with ours, in the same scenario."""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from events import read_histograms, read_scalars, read_tags
from keras.src.utils.python_utils import is_default
from models import tiny_data, tiny_model

import keras_tbx

BATCH = 16  # 96 samples, validation_split 0 -> 6 steps per epoch


def fit(callback, epochs=2, model=None, **kwargs):
    x, y = tiny_data()
    model = model or tiny_model()
    kwargs.setdefault("batch_size", BATCH)
    history = model.fit(x, y, epochs=epochs, callbacks=[callback], verbose=0, **kwargs)
    return model, history


def steps(scalars, tag):
    return [s for s, _ in scalars.get(tag, [])]


# D1 ------------------------------------------------------------------------------------
def test_d1_keras_drops_epoch_summaries_with_non_dividing_update_freq(log_dir):
    # 80 training samples / 16 = 5 steps per epoch; update_freq=4 does not divide 5.
    cb = keras.callbacks.TensorBoard(log_dir, update_freq=4, histogram_freq=1)
    fit(cb, epochs=2, validation_split=1 / 6)
    train = read_scalars(os.path.join(log_dir, "train"))
    assert len(steps(train, "epoch_loss")) < 2  # the defect


def test_d1_ours_keeps_every_epoch_validation_and_histogram_summary(log_dir):
    cb = keras_tbx.TensorBoard(log_dir, update_freq=4, histogram_freq=1)
    model, history = fit(cb, epochs=2, validation_split=1 / 6)
    train = read_scalars(os.path.join(log_dir, "train"))
    val = read_scalars(os.path.join(log_dir, "validation"))
    assert train["epoch_loss"] == [(0, pytest.approx(history.history["loss"][0], rel=1e-6)),
                                   (1, pytest.approx(history.history["loss"][1], rel=1e-6))]
    assert [v for _, v in val["epoch_loss"]] == pytest.approx(history.history["val_loss"], rel=1e-6)
    assert steps(train, "batch_loss") == [4, 8]  # 10 optimizer steps, every 4th
    kernel = model.layers[0].kernel
    hist = read_histograms(os.path.join(log_dir, "train"), f"{kernel.path}/histogram")
    assert [s for s, _ in hist] == [0, 1]
    assert sum(h[:, 2].sum() for _, h in hist[:1]) == 6 * 8  # every kernel entry counted


# D2 ------------------------------------------------------------------------------------
class ImageWriter(keras.callbacks.Callback):
    """Another writer in the process, as a user's own callback would have."""

    def __init__(self, path):
        super().__init__()
        self.writer = tf.summary.create_file_writer(path)
        self.results = []

    def on_epoch_end(self, epoch, logs=None):
        with self.writer.as_default():
            self.results.append(bool(tf.summary.image("probe", np.zeros((1, 2, 2, 1)), step=epoch)))


def test_d2_keras_silences_other_writers(log_dir):
    other = ImageWriter(os.path.join(log_dir, "other"))
    x, y = tiny_data()
    tiny_model().fit(x, y, batch_size=BATCH, epochs=2, verbose=0,
                     callbacks=[keras.callbacks.TensorBoard(log_dir, update_freq=5), other])
    assert other.results == [False, False]  # the defect


def test_d2_ours_leaves_other_writers_alone(log_dir):
    other = ImageWriter(os.path.join(log_dir, "other"))
    x, y = tiny_data()
    tiny_model().fit(x, y, batch_size=BATCH, epochs=2, verbose=0,
                     callbacks=[keras_tbx.TensorBoard(log_dir, update_freq=5), other])
    assert other.results == [True, True]


def test_d2_ours_still_writes_next_to_keras_leaking_record_if(log_dir):
    ours = os.path.join(log_dir, "ours")
    x, y = tiny_data()
    tiny_model().fit(x, y, batch_size=BATCH, epochs=2, verbose=0, callbacks=[
        keras.callbacks.TensorBoard(os.path.join(log_dir, "keras"), update_freq=4),
        keras_tbx.TensorBoard(ours, update_freq=4)])
    assert steps(read_scalars(os.path.join(ours, "train")), "epoch_loss") == [0, 1]


# D3 ------------------------------------------------------------------------------------
def test_d3_keras_restarts_batch_steps_on_every_fit(log_dir):
    cb = keras.callbacks.TensorBoard(log_dir, update_freq=1)
    model, _ = fit(cb, epochs=1)
    fit(cb, epochs=1, model=model)
    batch = steps(read_scalars(os.path.join(log_dir, "train")), "batch_loss")
    assert len(batch) == 12 and len(set(batch)) == 6  # every step written twice


def test_d3_ours_continues_one_axis_across_fits(log_dir):
    cb = keras_tbx.TensorBoard(log_dir, update_freq=1)
    model, _ = fit(cb, epochs=2)
    fit(cb, epochs=1, model=model)  # a second fit without initial_epoch
    train = read_scalars(os.path.join(log_dir, "train"))
    assert steps(train, "batch_loss") == list(range(1, 19))
    assert steps(train, "epoch_loss") == [0, 1, 2]
    assert int(model.optimizer.iterations.numpy()) == 18


def test_d3_ours_places_a_resumed_run_after_its_initial_epoch(log_dir):
    fit(keras_tbx.TensorBoard(log_dir, update_freq=1), epochs=2)
    # A new process would rebuild the model (fresh optimizer) and resume at epoch 2.
    fit(keras_tbx.TensorBoard(log_dir, update_freq=1), epochs=4, initial_epoch=2)
    train = read_scalars(os.path.join(log_dir, "train"))
    assert steps(train, "batch_loss") == list(range(1, 25))
    assert steps(train, "epoch_loss") == [0, 1, 2, 3]


# D4 ------------------------------------------------------------------------------------
def test_d4_keras_counts_executions_not_optimizer_steps(log_dir):
    model = tiny_model(steps_per_execution=3)
    fit(keras.callbacks.TensorBoard(log_dir, update_freq=1), epochs=2, model=model)
    batch = steps(read_scalars(os.path.join(log_dir, "train")), "batch_loss")
    assert int(model.optimizer.iterations.numpy()) == 12
    assert max(batch) == 4  # 4 executions, reported as if they were 4 steps


def test_d4_ours_counts_optimizer_steps(log_dir):
    model = tiny_model(steps_per_execution=3)
    fit(keras_tbx.TensorBoard(log_dir, update_freq=1), epochs=2, model=model)
    batch = steps(read_scalars(os.path.join(log_dir, "train")), "batch_loss")
    assert batch == [3, 6, 9, 12]
    model = tiny_model(steps_per_execution=3)
    fit(keras_tbx.TensorBoard(os.path.join(log_dir, "n4"), update_freq=4), epochs=2, model=model)
    # Each call runs 3 steps; a call is logged when a multiple of 4 falls inside it.
    assert steps(read_scalars(os.path.join(log_dir, "n4", "train")), "batch_loss") == [6, 9, 12]


def test_d4_ours_places_a_partial_last_execution_at_the_real_step(log_dir):
    # 96 samples / 16 = 6 steps per epoch, 4 per call: Keras reports the second call of
    # each epoch as batch 7 although it ran 2 steps; the optimizer is at 6 and 12.
    model = tiny_model(steps_per_execution=4)
    fit(keras_tbx.TensorBoard(log_dir, update_freq=1), epochs=2, model=model)
    assert int(model.optimizer.iterations.numpy()) == 12
    assert steps(read_scalars(os.path.join(log_dir, "train")), "batch_loss") == [4, 6, 10, 12]


# D5 ------------------------------------------------------------------------------------
def f1_model():
    return tiny_model(loss="categorical_crossentropy",
                      metrics=("accuracy", keras.metrics.F1Score(average=None)))


def test_d5_keras_crashes_on_a_vector_metric(log_dir):
    x, y = tiny_data()
    with pytest.raises(ValueError, match="shape"):
        f1_model().fit(x, keras.utils.to_categorical(y, 3), epochs=1, verbose=0,
                       callbacks=[keras.callbacks.TensorBoard(log_dir)])


def test_d5_ours_splits_a_vector_metric_per_class(log_dir):
    x, y = tiny_data()
    cb = keras_tbx.TensorBoard(log_dir, update_freq=2, class_names=["red", "green", "blue"])
    history = f1_model().fit(x, keras.utils.to_categorical(y, 3), epochs=2, verbose=0,
                             batch_size=BATCH, validation_split=0.25, callbacks=[cb])
    train = read_scalars(os.path.join(log_dir, "train"))
    val = read_scalars(os.path.join(log_dir, "validation"))
    for i, name in enumerate(["red", "green", "blue"]):
        expected = [float(v[i]) for v in history.history["f1_score"]]
        assert [v for _, v in train[f"epoch_f1_score/{name}"]] == pytest.approx(expected, rel=1e-6)
        expected = [float(v[i]) for v in history.history["val_f1_score"]]
        assert [v for _, v in val[f"epoch_f1_score/{name}"]] == pytest.approx(expected, rel=1e-6)
        assert f"batch_f1_score/{name}" in train
    unnamed = keras_tbx.TensorBoard(os.path.join(log_dir, "unnamed"))
    f1_model().fit(x, keras.utils.to_categorical(y, 3), epochs=1, verbose=0, callbacks=[unnamed])
    tags = read_tags(os.path.join(log_dir, "unnamed", "train"))["scalars"]
    assert {"epoch_f1_score/0", "epoch_f1_score/1", "epoch_f1_score/2"} <= tags


# D10 -----------------------------------------------------------------------------------
HOOKS = ("on_batch_begin", "on_batch_end", "on_train_batch_begin", "on_train_batch_end",
         "on_test_batch_begin", "on_test_batch_end", "on_predict_batch_end")


def test_d10_keras_overrides_batch_hooks_and_blocks_async_dispatch(log_dir):
    cb = keras.callbacks.TensorBoard(log_dir)
    assert not is_default(cb.on_train_batch_end)
    assert not getattr(cb, "async_safe", False)


def test_d10_ours_has_no_batch_hooks_in_epoch_mode(log_dir):
    cb = keras_tbx.TensorBoard(log_dir, histogram_freq=1, write_images=True)
    assert all(is_default(getattr(cb, hook)) for hook in HOOKS)
    batched = keras_tbx.TensorBoard(log_dir, update_freq=1)
    assert not is_default(batched.on_train_batch_end) and batched.async_safe


# D11 -----------------------------------------------------------------------------------
def test_d11_learning_rate_per_step_under_a_schedule(log_dir):
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=4, decay_rate=0.5)
    model = tiny_model(learning_rate=schedule)
    fit(keras.callbacks.TensorBoard(os.path.join(log_dir, "keras"), update_freq=1), model=model)
    keras_tags = read_tags(os.path.join(log_dir, "keras", "train"))["scalars"]
    assert "batch_learning_rate" not in keras_tags  # Keras: per epoch only

    model = tiny_model(learning_rate=schedule)
    fit(keras_tbx.TensorBoard(log_dir, update_freq=1), model=model)
    lr = read_scalars(os.path.join(log_dir, "train"))["batch_learning_rate"]
    assert [s for s, _ in lr] == list(range(1, 13))
    # The rate the optimizer uses after step s: 0.1 * 0.5 ** (s / 4), computed here.
    assert [v for _, v in lr] == pytest.approx([0.1 * 0.5 ** (s / 4) for s in range(1, 13)], rel=1e-5)
    epoch_lr = read_scalars(os.path.join(log_dir, "train"))["epoch_learning_rate"]
    assert [v for _, v in epoch_lr] == pytest.approx([0.1 * 0.5 ** 1.5, 0.1 * 0.5 ** 3], rel=1e-5)
