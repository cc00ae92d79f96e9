"""Training health: gradient norms and histograms, activations, attention entropy, the NaN
guard and step frequencies, checked against independent computations and read back from
event files or the real TensorBoard server."""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from events import read_histograms, read_scalars, read_tags, read_tensors
from keras.src.utils.python_utils import is_default
from models import tiny_data, tiny_model

import keras_tbx
from keras_tbx.summary import attention_entropy_from_scores, gradient_health

HOOKS = ("on_batch_begin", "on_batch_end", "on_train_batch_begin", "on_train_batch_end")
L2 = 0.01


def _regularized_model():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([
        keras.Input((6,)),
        keras.layers.Dense(8, activation="tanh", kernel_regularizer=keras.regularizers.L2(L2), name="hidden"),
        keras.layers.Dense(3, activation="softmax", name="out"),
    ])
    model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    return model


def _direct_gradients(model, x, y, sample_weight):
    """The loss fit minimizes, written out by hand: weighted mean cross-entropy + L2."""
    variables = model.trainable_variables
    with tf.GradientTape() as tape:
        probs = model(x, training=True)
        ce = -tf.math.log(tf.gather(probs, y, axis=1, batch_dims=1))
        loss = tf.reduce_sum(ce * sample_weight) / len(y)
        loss += L2 * tf.reduce_sum(tf.square(model.get_layer("hidden").kernel))
    grads = [np.asarray(g, np.float64) for g in tape.gradient(loss, variables)]
    return {v.path: g for v, g in zip(variables, grads)}


@pytest.mark.server
def test_gradient_norms_and_histograms_equal_a_direct_tape(tb_server, tb_run_dir):
    x, y = tiny_data()
    probe_w = np.linspace(0.5, 1.5, 32).astype("float32")
    probe = (x[:32], y[:32], probe_w)
    model = _regularized_model()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[
        keras_tbx.TensorBoard(tb_run_dir, probe=probe, gradient_freq=1, write_text=False)])
    # gradient_freq=1 wrote at epoch 1, the last one: the final weights.
    grads = _direct_gradients(model, *probe)
    expected_global = np.sqrt(sum(np.sum(g ** 2) for g in grads.values()))
    run = tb_run_dir / "train"
    points = tb_server.scalars(run, "gradients/global_norm", min_points=2)
    assert [p[1] for p in points] == [0, 1]
    assert points[-1][2] == pytest.approx(expected_global, rel=1e-5)
    written = read_scalars(run)
    for layer in ("hidden", "out"):
        expected = np.sqrt(sum(np.sum(g ** 2) for p, g in grads.items() if f"/{layer}/" in p))
        assert written[f"gradients/norm/{layer}"][-1][1] == pytest.approx(expected, rel=1e-5)
    kernel = model.get_layer("hidden").kernel
    served = tb_server.histograms(run, f"gradients/{kernel.path}", min_count=2)
    step, buckets = served[-1][1], np.asarray(served[-1][2])
    g = grads[kernel.path]
    assert step == 1 and buckets[:, 2].sum() == pytest.approx(g.size)
    assert buckets[0, 0] == pytest.approx(g.min(), rel=1e-5)
    assert buckets[-1, 1] == pytest.approx(g.max(), rel=1e-5)


@pytest.mark.server
def test_vanishing_and_exploding_alerts_reach_the_text_tab(tb_server, tb_run_dir):
    x, y = tiny_data()
    probe = (x[:32], y[:32])
    vanish = keras_tbx.TensorBoard(tb_run_dir / "vanish", probe=probe, gradient_freq=1,
                                   gradient_thresholds=(1e3, 1e4), write_text=False)
    explode = keras_tbx.TensorBoard(tb_run_dir / "explode", probe=probe, gradient_freq=1,
                                    gradient_thresholds=(0.0, 1e-6), write_text=False)
    tiny_model().fit(x, y, epochs=1, batch_size=32, verbose=0, callbacks=[vanish, explode])
    [entry] = tb_server.text(tb_run_dir / "vanish" / "train", "health/alerts")
    assert entry["step"] == 0
    html = entry["text"]
    assert "Gradient alert at step 0" in html and "vanishing" in html
    assert "global gradient norm" in html and "layer <code>dense" in html
    [entry] = tb_server.text(tb_run_dir / "explode" / "train", "health/alerts")
    assert "exploding" in entry["text"] and "vanishing" not in entry["text"]


def test_gradient_health_rules():
    norms = {"global_norm": 5.0, "layer_norms": {"a": 1e-9, "b": float("nan"), "c": 4.0}}
    alerts = gradient_health(norms, vanishing=1e-7, exploding=4.5)
    assert len(alerts) == 3
    assert "exploding" in alerts[0] and "vanishing" in alerts[1] and "`a`" in alerts[1]
    assert "non-finite" in alerts[2] and "`b`" in alerts[2]
    assert gradient_health({"global_norm": 1.0, "layer_norms": {"a": 1.0}}) == []


def test_activation_histograms_equal_the_layer_outputs(log_dir):
    x, y = tiny_data()
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(8, activation="relu", name="hidden")(inputs)
    outputs = keras.layers.Dense(3, activation="softmax", name="out")(hidden)
    model = keras.Model(inputs, outputs)
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[
        keras_tbx.TensorBoard(log_dir, probe=(x[:20], y[:20]), activation_freq=1, write_text=False)])
    train = os.path.join(log_dir, "train")
    assert {"activations/hidden", "activations/out"} <= read_tags(train)["histograms"]
    sub = keras.Model(inputs, [model.get_layer("hidden").output, outputs])
    for name, value in zip(("hidden", "out"), sub.predict(x[:20], verbose=0)):
        [(step, buckets)] = read_histograms(train, f"activations/{name}")
        assert step == 0 and buckets[:, 2].sum() == value.size
        assert buckets[0, 0] == pytest.approx(value.min(), abs=1e-6)
        assert buckets[-1, 1] == pytest.approx(value.max(), abs=1e-6)


def test_attention_entropy_equals_the_scores_entropy(log_dir):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 5, 4)).astype("float32")
    y = rng.normal(size=(24, 2)).astype("float32")
    keras.utils.set_random_seed(0)
    inputs = keras.Input((5, 4))
    mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3, name="mha")
    hidden = mha(inputs, inputs, use_causal_mask=True)
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling1D()(hidden))
    model = keras.Model(inputs, outputs)
    model.compile("sgd", "mse")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[
        keras_tbx.TensorBoard(log_dir, probe=(x[:8], y[:8]), activation_freq=1, write_text=False)])
    _, scores = mha(x[:8], x[:8], use_causal_mask=True, return_attention_scores=True)
    p = np.asarray(scores, np.float64)  # (8, heads, 5, 5), causal: zeros above the diagonal
    expected = np.array([np.mean([-sum(q * np.log(q) for q in row if q > 0) for b in p for row in b[h]])
                         for h in range(2)])
    written = read_scalars(os.path.join(log_dir, "train"))
    for h in range(2):
        assert written[f"attention/entropy/mha/head_{h}"] == [(0, pytest.approx(expected[h], rel=1e-5))]
    assert written["attention/entropy/mha"][0][1] == pytest.approx(expected.mean(), rel=1e-5)
    # Collapse and uniform attention are the two ends.
    one_hot = np.zeros((1, 1, 2, 4))
    one_hot[..., 0] = 1
    assert attention_entropy_from_scores(one_hot) == pytest.approx([0.0])
    assert attention_entropy_from_scores(np.full((1, 1, 2, 4), 0.25)) == pytest.approx([np.log(4)])


def _nan_data():
    x, y = tiny_data()
    x = x.copy()
    x[3 * 16] = np.nan  # first sample of batch index 3: optimizer step 4 of epoch 0
    return x, y


@pytest.mark.parametrize("mode, epochs_run", [("stop", 1), ("warn", 3)])
def test_nan_guard_names_the_step_and_stops_or_warns(log_dir, mode, epochs_run):
    x, y = _nan_data()
    with pytest.warns(RuntimeWarning, match="Non-finite values at step 4"):
        history = tiny_model().fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0, callbacks=[
            keras_tbx.TensorBoard(log_dir, nan_guard=mode, write_text=False)])
    assert len(history.epoch) == epochs_run
    train = os.path.join(log_dir, "train")
    [(step, text)] = read_tensors(train, "health/alerts")
    text = text.item().decode()
    assert step == 4 and "step 4 (epoch 0, batch ending at step 4)" in text
    assert "`loss` = nan (last finite:" in text and "at step 3)" in text
    assert ("training stopped" in text) == (mode == "stop")
    assert [s for s, _ in read_scalars(train)["epoch_loss"]] == list(range(epochs_run))


def test_epoch_frequencies_add_no_batch_hooks(log_dir):
    x, y = tiny_data()
    epochwise = keras_tbx.TensorBoard(log_dir, probe=(x, y), gradient_freq=1, activation_freq=2,
                                      histogram_freq=1)
    assert all(is_default(getattr(epochwise, hook)) for hook in HOOKS)
    stepwise = keras_tbx.TensorBoard(log_dir, probe=(x, y), gradient_freq="2 steps")
    assert not is_default(stepwise.on_train_batch_end) and not stepwise.async_safe
    guarded = keras_tbx.TensorBoard(log_dir, nan_guard="warn")
    assert not is_default(guarded.on_train_batch_end)


def test_step_frequencies_write_at_optimizer_steps(log_dir):
    x, y = tiny_data()  # 96 samples, batch 16: 6 steps per epoch
    model = tiny_model()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[keras_tbx.TensorBoard(
        log_dir, probe=(x[:16], y[:16]), gradient_freq="2 steps", activation_freq="5 steps",
        histogram_freq="4 steps", write_text=False)])
    train = os.path.join(log_dir, "train")
    assert [s for s, _ in read_scalars(train)["gradients/global_norm"]] == [2, 4, 6, 8, 10, 12]
    assert [s for s, _ in read_histograms(train, f"activations/{model.layers[0].name}")] == [5, 10]
    kernel = model.layers[0].kernel.path
    assert [s for s, _ in read_histograms(train, f"{kernel}/histogram")] == [4, 8, 12]


def test_gradient_failure_warns_once_and_training_goes_on(log_dir):
    x, y = tiny_data()
    bad_probe = (x[:8, :4], y[:8])  # wrong feature count: the probe cannot run
    with pytest.warns(RuntimeWarning, match="could not compute gradient summaries"):
        history = tiny_model().fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[
            keras_tbx.TensorBoard(log_dir, probe=bad_probe, gradient_freq=1, write_text=False)])
    assert len(history.epoch) == 2
    assert len(read_scalars(os.path.join(log_dir, "train"))["epoch_loss"]) == 2


@pytest.mark.parametrize("kwargs, error, match", [
    ({"gradient_freq": 1}, ValueError, "Argument `probe` must be given"),
    ({"activation_freq": "3 steps"}, ValueError, "Argument `probe` must be given"),
    ({"probe": [1, 2, 3, 4]}, TypeError, "Argument `probe` must be a tuple"),
    ({"probe": (np.zeros((3, 2)), np.zeros(4))}, ValueError, "as many samples"),
    ({"gradient_freq": "2 epochs", "probe": ([1], [1])}, ValueError, "Received: gradient_freq='2 epochs'"),
    ({"gradient_thresholds": (1.0, 0.5)}, ValueError, "Received: gradient_thresholds=\\(1.0, 0.5\\)"),
    ({"nan_guard": "raise"}, ValueError, "Argument `nan_guard` must be None, \"warn\" or \"stop\""),
    ({"activation_layers": "dense"}, TypeError, "Argument `activation_layers`"),
    ({"write_text": 1}, TypeError, "Argument `write_text` must be a bool"),
    ({"histogram_freq": "often"}, ValueError, "Received: histogram_freq='often'"),
])
def test_bad_health_arguments_raise_in_the_constructor(log_dir, kwargs, error, match):
    with pytest.raises(error, match=match):
        keras_tbx.TensorBoard(log_dir, **kwargs)


def test_sample_stands_in_for_probe_without_class_names(log_dir):
    x, y = tiny_data(n=32)
    tb = keras_tbx.TensorBoard(log_dir, gradient_freq=1, sample=(x, y))
    tiny_model().fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[tb])
    assert "gradients/global_norm" in read_tags(os.path.join(log_dir, "train"))["scalars"]


def test_histograms_pb_counts_like_tensorboard():
    from tensorboard.plugins.histogram.summary_v2 import histogram_pb

    from keras_tbx.summary import histograms_pb

    rng = np.random.default_rng(0)
    for data in (rng.normal(size=5000), np.arange(10.0), np.ones(4), np.array([-3.0, 2, 2, 7]), np.zeros(0)):
        assert histograms_pb([("t", data)]) == histogram_pb("t", data)


def test_probe_caches_do_not_keep_models_alive():
    from keras_tbx.summary import _health

    x, y = tiny_data(n=8)
    model = tiny_model()
    _health.gradient_norms(model, x, y)
    [compiled] = _health._GRADIENT_FUNCTIONS[model].values()
    cells = [c.cell_contents for c in compiled.python_function.__closure__]
    assert not any(c is model for c in cells)  # a weak reference only: sweeps do not leak models


def test_weight_images_without_keras_limits(log_dir):
    from events import read_images

    from keras_tbx.summary import kernel_mosaic, normalize_images

    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 8, 8, 2)).astype("float32")
    y = rng.integers(0, 2, 16)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((8, 8, 2)), keras.layers.Conv2D(3, 3, name="conv2d_k"),
        keras.layers.Reshape((36, 3)), keras.layers.Conv1D(5, 2, name="conv1d_k"),
        keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(2, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0, callbacks=[
        keras_tbx.TensorBoard(log_dir, histogram_freq=1, write_images=True, write_text=False)])
    train = os.path.join(log_dir, "train")
    conv2d = model.get_layer("conv2d_k").kernel  # (3, 3, 2, 3): Keras writes no image of it
    [(_, [png])] = read_images(train, f"{conv2d.path}/image")
    assert png.shape[:2] == (2 * 4 - 1, 3 * 4 - 1)  # a row per input, a column per output channel
    expected = np.round(normalize_images(kernel_mosaic(conv2d.numpy()))[0, :, :, 0] * 255)
    np.testing.assert_allclose(png.reshape(expected.shape), expected, atol=1)
    conv1d = model.get_layer("conv1d_k").kernel  # (2, 3, 5): Keras writes 3 of its 5 images
    [(_, pngs)] = read_images(train, f"{conv1d.path}/image")
    assert len(pngs) == 5


def test_step_frequency_under_steps_per_execution(log_dir):
    x, y = tiny_data(n=128)  # 8 steps per epoch; Keras calls the hooks after steps 4, 8, 12, 16
    tiny_model(steps_per_execution=4).fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[
        keras_tbx.TensorBoard(log_dir, probe=(x[:16], y[:16]), gradient_freq="3 steps", write_text=False)])
    # One write per call, at the last due step it covers (9 falls in the call ending at 12).
    steps = [s for s, _ in read_scalars(os.path.join(log_dir, "train"))["gradients/global_norm"]]
    assert steps == [3, 6, 12, 15]
