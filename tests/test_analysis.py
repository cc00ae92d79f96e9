"""Model-analysis images and audio: Grad-CAM on a model with a known answer, feature maps
against an independent computation, input de-normalisation on pixel values, the facade's
`image_freq` images read back from event files, and audio through a real TensorBoard."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

import events
from models import tiny_data, tiny_model

H = W = 16


def _masked_model():
    """conv 1x1 (relu) -> keep only the top-left quadrant -> global average -> softmax:
    the prediction depends on the top-left quadrant alone."""
    import keras

    class TopLeft(keras.layers.Layer):
        def call(self, x):
            mask = np.zeros((1, H, W, 1), "float32")
            mask[:, : H // 2, : W // 2] = 1.0
            return x * mask

    keras.utils.set_random_seed(1)
    inputs = keras.Input((H, W, 3))
    conv = keras.layers.Conv2D(4, 1, activation="relu", name="conv")(inputs)
    masked = TopLeft(name="top_left")(conv)
    pooled = keras.layers.GlobalAveragePooling2D()(masked)
    outputs = keras.layers.Dense(3, activation="softmax", name="head")(pooled)
    return keras.Model(inputs, outputs)


def _images(n=6, seed=0):
    """Textured images with bright blobs in the top-left AND the bottom-right quadrants."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 0.3, size=(n, H, W, 3)).astype("float32")
    x[:, 2:6, 2:6] += 0.7
    x[:, 10:14, 10:14] += 0.7
    return x


def test_grad_cam_finds_the_only_region_the_model_looks_at():
    from keras_tbx import summary

    model = _masked_model()
    x = _images()
    heat = summary.grad_cam(model, x)  # layer None: the last 4-D layer, the masked one
    assert heat.shape == (len(x), H, W) and heat.dtype == np.float32
    assert heat.min() >= 0 and np.allclose(heat.max(axis=(1, 2)), 1.0)
    outside = heat.copy()
    outside[:, : H // 2, : W // 2] = 0
    assert outside.max() == 0.0  # all the mass is in the top-left quadrant

    # Independent Grad-CAM on the class logit (the score before the softmax): for
    # z = Wd^T mean(M) + b, d z_j / d M[c] = Wd[c, j] / (H W) at every position.
    import keras

    masked = np.asarray(keras.Model(model.inputs[0], model.get_layer("top_left").output)(x))
    kernel, bias = model.get_layer("head").get_weights()
    logits = masked.mean(axis=(1, 2)) @ kernel + bias
    j = logits.argmax(1)
    alpha = kernel[:, j].T / (H * W)
    cam = np.maximum(np.einsum("kc,khwc->khw", alpha, masked), 0)
    cam /= cam.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(heat, cam, atol=1e-5)

    # Another class, and the unmasked conv layer (Grad-CAM there sees both blobs).
    other = summary.grad_cam(model, x, class_index=(j + 1) % 3)
    assert other[:, H // 2 :, :].max() == 0.0
    conv = summary.grad_cam(model, x, layer_name="conv")
    assert conv[:, 10:14, 10:14].max() > 0
    with pytest.raises(ValueError, match="argument `layer_name` must name a layer"):
        summary.grad_cam(model, x, layer_name="nope")
    for bad in (3, -1, [0, 1]):
        with pytest.raises(ValueError, match="argument `class_index` must be"):
            summary.grad_cam(model, x, class_index=bad)
    assert model.get_layer("head").activation is keras.activations.softmax  # restored

    # A confident softmax: its probability gradient vanishes, the logit's does not.
    head = model.get_layer("head")
    head.set_weights([head.get_weights()[0] * 200.0, head.get_weights()[1]])
    confident = summary.grad_cam(model, x)
    assert np.allclose(confident.max(axis=(1, 2)), 1.0)
    split = keras.Sequential([keras.Input((H, W, 3)), keras.layers.Conv2D(4, 1, name="c"),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3),
                              keras.layers.Activation("softmax")])
    fused = keras.Sequential([keras.Input((H, W, 3)), keras.layers.Conv2D(4, 1, name="c"),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3, activation="softmax")])
    fused.set_weights(split.get_weights())
    np.testing.assert_allclose(summary.grad_cam(split, x), summary.grad_cam(fused, x), atol=1e-6)

    overlay = summary.grad_cam_overlay(x, heat, alpha=0.0)
    np.testing.assert_array_equal(overlay, summary.display_images(x))


def test_feature_maps_equal_an_independent_computation():
    from keras_tbx import summary
    from keras_tbx.summary._analysis_write import feature_maps_pb
    from oracle import decode_png

    model = _masked_model()
    x = _images(3)
    maps = summary.feature_maps(model, "conv", x, max_channels=3)
    kernel, bias = model.get_layer("conv").get_weights()  # 1x1 conv: a per-pixel matmul
    raw = np.maximum(np.einsum("khwi,io->kohw", x, kernel[0, 0]) + bias[None, :, None, None], 0)[:, :3]
    lo, hi = raw.min(axis=(2, 3), keepdims=True), raw.max(axis=(2, 3), keepdims=True)
    expected = np.where(hi > lo, (raw - lo) / np.where(hi > lo, hi - lo, 1), 0.5)
    np.testing.assert_allclose(maps, expected, atol=1e-5)

    pb = feature_maps_pb("fm", model, "conv", x, max_channels=3, max_outputs=2)
    pngs = pb.value[0].tensor.string_val[2:]
    assert len(pngs) == 2  # one grid per input image: the tag's samples
    grids = summary.feature_map_grids(maps[:2], title="conv")
    for png, grid in zip(pngs, grids):
        np.testing.assert_array_equal(decode_png(png), grid)
    with pytest.raises(ValueError, match="must have a 4-D output"):
        summary.feature_maps(model, "head", x)


def test_display_images_undo_normalisation_channel_order_and_layout():
    from keras_tbx import summary

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(3, 5, 7, 3), dtype=np.uint8)
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    bgr = ((rgb / 255.0 - mean) / std)[..., ::-1].astype("float32")  # stored blue first
    shown = summary.display_images(bgr, denormalize=(mean[::-1], std[::-1]), channel_order="bgr",
                                   data_format="channels_last")
    np.testing.assert_array_equal(shown, rgb)
    first = np.transpose(bgr, (0, 3, 1, 2))
    np.testing.assert_array_equal(
        summary.display_images(first, denormalize=lambda a: a * std[::-1] + mean[::-1],
                               channel_order="bgr", data_format="channels_first"), rgb)
    np.testing.assert_array_equal(summary.display_images(rgb / 127.5 - 1.0), rgb)  # [-1, 1]
    np.testing.assert_array_equal(summary.display_images(rgb), rgb)  # uint8 as it is
    stretched = summary.display_images(rgb.astype("float32") * 3 + 7)  # any range: per image
    assert (stretched.min(axis=(1, 2, 3)) == 0).all() and (stretched.max(axis=(1, 2, 3)) == 255).all()
    np.testing.assert_array_equal(summary.display_images(rgb[..., 0] / 255.0)[..., 0], rgb[..., 0])
    grid = summary.input_grid(bgr, denormalize=(mean[::-1], std[::-1]), channel_order="bgr",
                              data_format="channels_last")
    np.testing.assert_array_equal(grid, summary.image_grid(list(rgb)))
    with pytest.raises(ValueError, match="channel_order"):
        summary.display_images(rgb, channel_order="gbr")
    with pytest.raises(ValueError, match="one value per channel"):
        summary.display_images(rgb, denormalize=([0.5, 0.5], 1.0))


def test_image_freq_writes_inputs_feature_maps_grad_cam(log_dir):
    import keras_tbx
    from keras_tbx import summary

    model = _masked_model()
    model.compile("adam", "sparse_categorical_crossentropy")
    x, y = _images(24, seed=2), np.arange(24) % 3
    sample = (x[:4], y[:4])
    tb = keras_tbx.TensorBoard(str(log_dir), image_freq=1, sample=sample, feature_map_layers=["conv"],
                               grad_cam_layer="auto", class_names=["a", "b", "c"], write_text=False)
    model.fit(x, y, epochs=2, batch_size=8, callbacks=[tb], verbose=0)
    tb.close()
    run = log_dir / "train"
    tags = events.read_tags(run)["images"]
    assert {"analysis/inputs", "analysis/feature_maps/conv", "analysis/grad_cam"} <= tags
    inputs = events.read_images(run, "analysis/inputs")
    assert [step for step, _ in inputs] == [0]  # once
    np.testing.assert_array_equal(inputs[0][1][0], summary.input_grid(sample[0]))
    cams = events.read_images(run, "analysis/grad_cam")
    assert [step for step, _ in cams] == [0, 1]
    heat = summary.grad_cam(model, sample[0])  # final weights = the last epoch's image
    preds = np.asarray(model(sample[0])).argmax(1)
    expected = summary.image_grid(list(summary.grad_cam_overlay(sample[0], heat)),
                                  [f"pred {'abc'[i]}" for i in preds])
    np.testing.assert_array_equal(cams[-1][1][0], expected)
    maps = events.read_images(run, "analysis/feature_maps/conv")
    assert [len(images) for _, images in maps] == [3, 3]  # first max_outputs=3 inputs


def test_generated_images_and_autoencoder_reconstructions(log_dir):
    import keras

    import keras_tbx
    from keras_tbx import summary

    keras.utils.set_random_seed(0)
    generator = keras.Sequential([keras.Input((4,)), keras.layers.Dense(64, activation="sigmoid"),
                                  keras.layers.Reshape((8, 8, 1))])
    generator.compile("adam", "mse")
    noise = np.random.default_rng(0).normal(size=(6, 4)).astype("float32")
    targets = np.random.default_rng(1).uniform(size=(16, 8, 8, 1)).astype("float32")
    inputs = np.random.default_rng(2).normal(size=(16, 4)).astype("float32")
    tb = keras_tbx.TensorBoard(str(log_dir / "gan"), image_freq=1, generator_input=noise, write_text=False)
    generator.fit(inputs, targets, epochs=1, callbacks=[tb], verbose=0)
    tb.close()
    (step, [image]), = events.read_images(log_dir / "gan" / "train", "analysis/generated")
    np.testing.assert_array_equal(image, summary.image_grid(list(summary.generated_samples(generator, noise))))

    autoencoder = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, padding="same"),
                                    keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid")])
    autoencoder.compile("adam", "mse")
    tb = keras_tbx.TensorBoard(str(log_dir / "ae"), image_freq=1, sample=(targets[:4], targets[:4]),
                               write_text=False)
    autoencoder.fit(targets, targets, epochs=1, callbacks=[tb], verbose=0)
    tb.close()
    (step, [image]), = events.read_images(log_dir / "ae" / "train", "analysis/generated")
    pairs = summary.reconstructions(autoencoder, targets[:4])
    assert pairs.shape == (4, 8, 18, 1)
    np.testing.assert_array_equal(pairs[..., :8, :], summary.display_images(targets[:4]))
    np.testing.assert_array_equal(image, summary.image_grid(list(pairs), ["input | output"] * 4))


def test_analysis_arguments_are_checked(tmp_path):
    import keras_tbx

    x = np.zeros((2, 8, 8, 1), "float32")
    bad = [
        ({"image_freq": "3 steps", "sample": (x, [0, 1])}, ValueError, "not supported"),
        ({"image_freq": 1}, ValueError, "Argument `image_freq` needs `sample"),
        ({"feature_map_layers": "conv", "sample": (x, [0, 1]), "class_names": 2}, ValueError, "needs `image_freq` > 0"),
        ({"image_freq": 1, "sample": (x, [0, 1]), "feature_map_layers": 3}, TypeError, "feature_map_layers"),
        ({"image_freq": 1, "sample": (x, [0, 1]), "channel_order": "RGB"}, ValueError, "channel_order"),
        ({"image_freq": 1, "sample": (x, [0, 1]), "denormalize": 3}, TypeError, "denormalize"),
        ({"embeddings_freq": "2 steps"}, ValueError, "Argument `embeddings_freq`"),
        ({"embeddings_layer_outputs": ["d"], "sample": (x, [0, 1])}, ValueError, "needs `embeddings_freq`"),
        ({"embeddings_metadata": 3}, TypeError, "embeddings_metadata"),
        ({"image_freq": 1, "sample": ({"a": x, "b": x}, [0, 1])}, ValueError, "one array"),
    ]
    for kwargs, error, message in bad:
        with pytest.raises(error, match=message):
            keras_tbx.TensorBoard(str(tmp_path), **kwargs)

    model = tiny_model()
    xs, ys = tiny_data(16)
    tb = keras_tbx.TensorBoard(str(tmp_path), image_freq=1, sample=(xs[:2], ys[:2]),
                               feature_map_layers=["missing"])
    with pytest.raises(ValueError, match="argument `feature_map_layers` must name a layer"):
        model.fit(xs, ys, epochs=1, callbacks=[tb], verbose=0)


# -- audio --------------------------------------------------------------------------
def test_audio_read_back_through_tensorboard(tb_server, tb_run_dir):
    import tensorflow as tf

    from keras_tbx import summary

    rate = 8000
    t = np.arange(800) / rate
    clips = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.9 * np.sign(np.sin(2 * np.pi * 50 * t))])
    stereo = np.stack([clips, clips[::-1]], axis=-1)  # (2, 800, 2)
    with tf.summary.create_file_writer(str(tb_run_dir)).as_default():
        assert summary.audio("mono", clips, rate, step=3)
        assert summary.audio("stereo", stereo, rate, step=4, max_outputs=1)
    run = tb_server.run_name(tb_run_dir)
    tags = tb_server.plugin_tags("audio", run, {"mono", "stereo"})
    assert {"mono", "stereo"} <= tags

    def fetch(tag, sample):
        entries = tb_server.poll(
            lambda: tb_server.get_json("/data/plugin/audio/audio", run=run, tag=tag, sample=sample) or None,
            desc=f"audio {tag}")
        assert len(entries) == 1 and entries[0]["contentType"] == "audio/wav"
        return entries[0]["step"], tb_server.get_bytes("/data/plugin/audio/individualAudio?" + entries[0]["query"])

    for tag, data, sample, step in (("mono", clips[..., None], 1, 3), ("stereo", stereo, 0, 4)):
        got_step, blob = fetch(tag, sample)
        assert got_step == step
        with wave.open(io.BytesIO(blob)) as wav:
            assert wav.getframerate() == rate and wav.getnchannels() == data.shape[-1]
            pcm = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").reshape(-1, data.shape[-1])
        np.testing.assert_array_equal(pcm, np.round(data[sample] * 32767).astype(np.int16))
        decoded, decoded_rate = tf.audio.decode_wav(blob)  # TensorFlow's own decoder agrees
        assert int(decoded_rate) == rate
        np.testing.assert_allclose(decoded.numpy(), data[sample], atol=2 / 32767)  # it divides by 32768


def test_audio_arguments_are_checked():
    from keras_tbx import summary

    ok = np.zeros((1, 10))
    for kwargs, message in [
        ({"data": np.zeros(10)}, "shape"),
        ({"data": np.full((1, 10), 1.5)}, r"\[-1, 1\]"),
        ({"data": np.zeros((1, 10), np.int16)}, "floats"),
        ({"data": np.full((1, 10), np.nan)}, "finite"),
        ({"data": ok, "sample_rate": 0}, "sample_rate"),
        ({"data": ok, "encoding": "mp3"}, "encoding"),
        ({"data": ok, "labels": []}, "labels"),
    ]:
        kwargs.setdefault("sample_rate", 16000)
        with pytest.raises(ValueError, match=message):
            summary.audio_pb("a", **kwargs)
    pb = summary.audio_pb("a", np.zeros((5, 10)), 16000, max_outputs=2, labels=["x", "y", "z", "u", "v"])
    assert list(pb.value[0].tensor.tensor_shape.dim) and pb.value[0].tensor.tensor_shape.dim[0].size == 2
