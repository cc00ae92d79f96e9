"""Classification diagnostics from counts accumulated in Keras' own passes, compared with
sklearn on `model.predict` of the same data and weights."""

from __future__ import annotations

import os
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from events import read_scalars, read_tags, read_tensors
from models import tiny_data, tiny_model
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

import keras_tbx

NAMES = ["ant", "bee", "cat"]


def part_of(tb):
    """The callback's classification part (its counts are what we compare)."""
    from keras_tbx.callbacks._classification import Classification

    return next(p for p in tb._parts if isinstance(p, Classification))


class ForwardCounter(keras.layers.Layer):
    """Identity layer that counts how many times the model runs forward (in-graph)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.count = tf.Variable(0, dtype=tf.int64, trainable=False)

    def call(self, x):
        self.count.assign_add(1)
        return x


def counting_model():
    keras.utils.set_random_seed(0)
    counter = ForwardCounter()
    inputs = keras.Input((6,))
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.Dense(8, activation="relu")(counter(inputs)))
    model = keras.Model(inputs, outputs)
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model, counter


def _forward_calls(callbacks):
    x, y = tiny_data(n=96)
    xv, yv = tiny_data(n=32, seed=1)
    model, counter = counting_model()
    model.fit(x, y, validation_data=(xv, yv), epochs=2, batch_size=16, verbose=0, callbacks=callbacks)
    return int(counter.count.numpy())


def test_no_extra_forward_pass_over_the_data(log_dir):
    baseline = _forward_calls([])
    assert baseline == 2 * (6 + 2)  # 2 epochs x (6 train + 2 validation batches)
    assert _forward_calls([keras_tbx.TensorBoard(log_dir, class_names=NAMES)]) == baseline
    sample = tiny_data(n=5, seed=2)
    with_sample = _forward_calls([keras_tbx.TensorBoard(os.path.join(log_dir, "s"), class_names=NAMES, sample=sample)])
    assert with_sample == baseline + 2  # the fixed sample only, once per epoch


def _fit(log_dir, model, y, yv, epochs=2, **kwargs):
    x, _ = tiny_data(n=120)
    xv, _ = tiny_data(n=60, seed=1)
    tb = keras_tbx.TensorBoard(log_dir, class_names=NAMES, **kwargs)
    history = model.fit(x, y, validation_data=(xv, yv), epochs=epochs, batch_size=16, verbose=0, callbacks=[tb])
    return history, xv


@pytest.mark.parametrize("target", ["sparse", "one_hot", "logits"])
def test_per_class_values_equal_sklearn_on_predict(log_dir, target):
    _, y = tiny_data(n=120)
    _, yv = tiny_data(n=60, seed=1)
    if target == "one_hot":
        model = tiny_model(loss="categorical_crossentropy")
        fit_y, fit_yv = keras.utils.to_categorical(y, 3), keras.utils.to_categorical(yv, 3)
    elif target == "logits":
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
        model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        fit_y, fit_yv = y, yv
    else:
        model, fit_y, fit_yv = tiny_model(), y, yv
    _, xv = _fit(log_dir, model, fit_y, fit_yv)
    predicted = np.argmax(model.predict(xv, verbose=0), axis=-1)
    precision, recall, f1, support = precision_recall_fscore_support(
        yv, predicted, labels=[0, 1, 2], zero_division=0)
    val = read_scalars(os.path.join(log_dir, "validation"))
    for i, name in enumerate(NAMES):
        assert val[f"per_class/precision/{name}"][-1] == (1, pytest.approx(precision[i], abs=1e-6))
        assert val[f"per_class/recall/{name}"][-1] == (1, pytest.approx(recall[i], abs=1e-6))
        assert val[f"per_class/accuracy/{name}"][-1] == (1, pytest.approx(recall[i], abs=1e-6))
        assert val[f"per_class/f1/{name}"][-1] == (1, pytest.approx(f1[i], abs=1e-6))
    assert val["per_class/macro/f1"][-1][1] == pytest.approx(f1.mean(), abs=1e-6)
    train = read_scalars(os.path.join(log_dir, "train"))
    assert [s for s, _ in train["per_class/f1/ant"]] == [0, 1]


def test_confusion_and_pr_counts_match_sklearn(log_dir):
    model = tiny_model()
    _, y = tiny_data(n=120)
    _, yv = tiny_data(n=60, seed=1)
    tb = keras_tbx.TensorBoard(log_dir, class_names=NAMES)
    x, _ = tiny_data(n=120)
    xv, _ = tiny_data(n=60, seed=1)
    model.fit(x, y, validation_data=(xv, yv), epochs=1, batch_size=16, verbose=0, callbacks=[tb])
    part = part_of(tb)
    train, val = part.last_counts["train"], part._validation
    assert train["confusion"].sum() == 120 and val["confusion"].sum() == 60  # every example once
    probs = model.predict(xv, verbose=0)
    expected = confusion_matrix(yv, probs.argmax(-1), labels=[0, 1, 2])
    np.testing.assert_array_equal(val["confusion"], expected)
    from keras_tbx.summary import _classification as cls

    tp, fp, tn, fn = cls.pr_counts_from_histograms(val["pos_hist"], val["neg_hist"])
    etp, efp, etn, efn = cls.pr_counts(yv, probs, num_thresholds=101)
    for got, want in ((tp, etp), (fp, efp), (tn, etn), (fn, efn)):
        np.testing.assert_array_equal(got, want)
    pr = read_tensors(os.path.join(log_dir, "validation"), "pr_curve/ant/pr_curves")
    assert len(pr) == 1 and pr[0][1].shape == (6, 101)
    np.testing.assert_allclose(pr[0][1][0], tp[0], atol=0)  # TP row of class "ant"


def test_binary_single_sigmoid_unit(log_dir):
    keras.utils.set_random_seed(0)
    x, y = tiny_data(n=120, classes=2)
    xv, yv = tiny_data(n=60, classes=2, seed=1)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile("sgd", "binary_crossentropy")
    tb = keras_tbx.TensorBoard(log_dir, class_names=["no", "yes"])
    model.fit(x, y, validation_data=(xv, yv), epochs=1, batch_size=16, verbose=0, callbacks=[tb])
    predicted = (model.predict(xv, verbose=0)[:, 0] >= 0.5).astype(int)
    np.testing.assert_array_equal(part_of(tb)._validation["confusion"], confusion_matrix(yv, predicted, labels=[0, 1]))
    precision, recall, _, _ = precision_recall_fscore_support(yv, predicted, labels=[0, 1], zero_division=0)
    val = read_scalars(os.path.join(log_dir, "validation"))
    assert val["per_class/precision/yes"][-1][1] == pytest.approx(precision[1], abs=1e-6)
    assert val["per_class/recall/no"][-1][1] == pytest.approx(recall[0], abs=1e-6)


def test_multi_label_gets_per_class_metrics_and_pr_curves_but_no_confusion_matrix(log_dir):
    keras.utils.set_random_seed(0)
    x, _ = tiny_data(n=120)
    xv, _ = tiny_data(n=60, seed=1)
    y, yv = (x[:, :3] > 0).astype("float32"), (xv[:, :3] > 0).astype("float32")
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3, activation="sigmoid")])
    model.compile("sgd", "binary_crossentropy")
    tb = keras_tbx.TensorBoard(log_dir, class_names=NAMES)
    model.fit(x, y, validation_data=(xv, yv), epochs=1, batch_size=16, verbose=0, callbacks=[tb])
    predicted = (model.predict(xv, verbose=0) >= 0.5).astype(int)
    precision, recall, f1, _ = precision_recall_fscore_support(yv, predicted, zero_division=0)
    val = read_scalars(os.path.join(log_dir, "validation"))
    for i, name in enumerate(NAMES):
        assert val[f"per_class/precision/{name}"][-1][1] == pytest.approx(precision[i], abs=1e-6)
        assert val[f"per_class/f1/{name}"][-1][1] == pytest.approx(f1[i], abs=1e-6)
    tags = read_tags(os.path.join(log_dir, "validation"))
    assert "pr_curve/bee/pr_curves" in tags["pr_curves"]
    assert not any(t.startswith("confusion_matrix") for t in tags.get("images", ()))


def test_class_names_of_the_wrong_length_stop_fit_at_the_first_batch(log_dir):
    x, y = tiny_data()
    with pytest.raises(ValueError, match="Argument `class_names` must have one name per output unit"):
        tiny_model().fit(x, y, epochs=1, verbose=0,
                         callbacks=[keras_tbx.TensorBoard(log_dir, class_names=["a", "b"])])


def test_regression_model_is_refused(log_dir):
    x, y = tiny_data()
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="needs a classification model"):
        model.fit(x, y.astype("float32"), epochs=1, verbose=0,
                  callbacks=[keras_tbx.TensorBoard(log_dir, class_names=["a", "b"])])


def test_labels_out_of_range_warn_once_and_are_not_counted(log_dir):
    x, y = tiny_data(n=96)
    y = y.copy()
    y[:5] = 7  # not a class
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3, activation="softmax")])
    # Keras' sparse cross-entropy refuses such labels itself; a loss that ignores the
    # labels lets training go on, so what our counts do with them shows.
    model.compile("sgd", loss=lambda y_true, y_pred: keras.ops.mean(y_pred ** 2))
    tb = keras_tbx.TensorBoard(log_dir, class_names=NAMES)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[tb])
    ours = [w for w in caught if "outside [0, 3)" in str(w.message)]
    assert len(ours) == 1
    assert part_of(tb).last_counts["train"]["confusion"].sum() == 91


def test_the_model_is_left_as_it_was(log_dir):
    model = tiny_model()
    x, y = tiny_data()
    model.fit(x, y, epochs=1, verbose=0, callbacks=[keras_tbx.TensorBoard(log_dir, class_names=NAMES)])
    assert "compute_metrics" not in model.__dict__ and "train_step" not in model.__dict__
    history = model.fit(x, y, epochs=1, verbose=0)  # retraced without our counts
    assert np.isfinite(history.history["loss"][0])


def test_multi_output_model_uses_the_named_output(log_dir):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    outputs = {"kind": keras.layers.Dense(3, activation="softmax", name="kind")(hidden),
               "size": keras.layers.Dense(1, name="size")(hidden)}
    model = keras.Model(inputs, outputs)
    model.compile("sgd", loss={"kind": "sparse_categorical_crossentropy", "size": "mse"})
    x, y = tiny_data(n=96)
    xv, yv = tiny_data(n=48, seed=1)
    targets = {"kind": y, "size": x[:, :1]}
    tb = keras_tbx.TensorBoard(log_dir, class_names=NAMES, classification_output="kind")
    model.fit(x, targets, validation_data=(xv, {"kind": yv, "size": xv[:, :1]}), epochs=1,
              batch_size=16, verbose=0, callbacks=[tb])
    predicted = np.argmax(model.predict(xv, verbose=0)["kind"], axis=-1)
    np.testing.assert_array_equal(part_of(tb)._validation["confusion"],
                                  confusion_matrix(yv, predicted, labels=[0, 1, 2]))
    with pytest.raises(ValueError, match="Argument `classification_output` must name"):
        model.fit(x, targets, epochs=1, verbose=0,
                  callbacks=[keras_tbx.TensorBoard(os.path.join(log_dir, "b"), class_names=NAMES)])


def test_class_names_from_tensorflow_datasets():
    import tensorflow_datasets as tfds

    label = tfds.features.ClassLabel(names=["cat", "dog"])
    assert keras_tbx.TensorBoard("unused", class_names=label).class_names == ["cat", "dog"]

    class Info:  # the shape of tfds' DatasetInfo: .features["label"]
        features = {"label": label}

    assert keras_tbx.TensorBoard("unused", class_names=Info()).class_names == ["cat", "dog"]
