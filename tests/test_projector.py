"""Embeddings the Projector opens: read back through a real TensorBoard server's projector
plugin (`/runs`, `/info`, `/tensor`, `/metadata`, `/sprite_image`), values compared with
the model's own weights and the sample's class names; names that could escape the log
directory are refused."""

from __future__ import annotations

import os

import numpy as np
import pytest

from oracle import decode_png

WORDS = [f"word{i}" for i in range(12)]
CLASSES = ["neg", "pos"]


def _info(tb_server, run, count):
    def check():
        if run not in tb_server.get_json("/data/plugin/projector/runs"):
            return None
        info = tb_server.get_json("/data/plugin/projector/info", run=run)
        return info if len(info.get("embeddings", [])) >= count else None

    return tb_server.poll(check, desc=f"projector embeddings of {run!r}")


def _tensor(tb_server, run, name, shape):
    blob = tb_server.get_bytes("/data/plugin/projector/tensor", run=run, name=name)
    return np.frombuffer(blob, "<f4").reshape(shape)


def _metadata_rows(tb_server, run, name):
    text = tb_server.get_bytes("/data/plugin/projector/metadata", run=run, name=name).decode()
    return text.rstrip("\n").split("\n")


def test_fit_with_embeddings_freq_opens_in_the_projector(tb_server, tb_run_dir):
    import keras

    import keras_tbx

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((5,), dtype="int32"),
        keras.layers.Embedding(len(WORDS), 4, name="words"),
        keras.layers.GlobalAveragePooling1D(name="pooled"),
        keras.layers.Dense(2, activation="softmax", name="head"),
    ])
    model.compile("adam", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.integers(0, len(WORDS), size=(40, 5))
    y = (x.mean(axis=1) > len(WORDS) / 2).astype("int64")
    tb = keras_tbx.TensorBoard(str(tb_run_dir), embeddings_freq=1, embeddings_metadata={"words": WORDS},
                               embeddings_layer_outputs="pooled", sample=(x[:10], y[:10]),
                               class_names=CLASSES, write_text=False)
    model.fit(x, y, epochs=2, batch_size=10, callbacks=[tb], verbose=0)
    tb.close()

    run = tb_server.run_name(tb_run_dir / "train")
    info = _info(tb_server, run, 2)
    embeddings = {e["tensorName"]: e for e in info["embeddings"]}
    words, pooled = "words/.ATTRIBUTES/VARIABLE_VALUE", "pooled/.ATTRIBUTES/VARIABLE_VALUE"
    assert set(embeddings) == {words, pooled}  # nothing else 2-D in the checkpoint
    assert embeddings[words]["tensorShape"] == [len(WORDS), 4]
    assert embeddings[words]["metadataPath"] == "metadata_words.tsv"
    assert embeddings[pooled]["tensorShape"] == [10, 4]
    assert info["modelCheckpointPath"].endswith("embeddings-1")  # the last epoch's

    weights = model.get_layer("words").get_weights()[0]
    np.testing.assert_array_equal(_tensor(tb_server, run, words, weights.shape), weights)
    assert _metadata_rows(tb_server, run, words) == WORDS  # one column: no header row
    outputs = np.asarray(keras.Model(model.inputs[0], model.get_layer("pooled").output)(x[:10]))
    np.testing.assert_allclose(_tensor(tb_server, run, pooled, (10, 4)), outputs, rtol=1e-6)
    assert _metadata_rows(tb_server, run, pooled) == [CLASSES[i] for i in y[:10]]
    # Only the last checkpoint is kept.
    assert sorted(f for f in os.listdir(tb_run_dir / "train") if f.startswith("embeddings-")) == [
        "embeddings-1.data-00000-of-00001", "embeddings-1.index"]


def test_write_embeddings_with_sprite_and_columns(tb_server, tb_run_dir):
    import tensorflow as tf

    from keras_tbx import summary

    rng = np.random.default_rng(1)
    points = rng.normal(size=(5, 3)).astype("float32")
    images = rng.uniform(size=(5, 6, 4, 3)).astype("float32")
    run_dir = tb_run_dir / "latent"
    with tf.summary.create_file_writer(str(run_dir)).as_default():  # a run folder has event files
        tf.summary.scalar("x", 1.0, step=0)
    columns = {"label": ["a", "b", "c", "d", "e\tf"], "index": range(5)}
    path = summary.write_embeddings(str(run_dir), {"z space": points}, metadata={"z space": columns},
                                   sprite=images, step=7)
    assert path == os.path.join(str(run_dir), "projector_config.pbtxt")

    run = tb_server.run_name(run_dir)
    (embedding,) = _info(tb_server, run, 1)["embeddings"]
    name = "z_space/.ATTRIBUTES/VARIABLE_VALUE"
    assert embedding["tensorName"] == name
    assert embedding["sprite"] == {"imagePath": "sprite_z_space.png", "singleImageDim": [4, 6]}
    np.testing.assert_array_equal(_tensor(tb_server, run, name, (5, 3)), points)
    assert _metadata_rows(tb_server, run, name) == ["label\tindex", "a\t0", "b\t1", "c\t2", "d\t3", "e f\t4"]
    sprite = decode_png(tb_server.get_bytes("/data/plugin/projector/sprite_image", run=run, name=name))
    assert sprite.shape == (3 * 6, 3 * 4, 3)  # ceil(sqrt(5)) = 3 images a side, row by row
    shown = summary.display_images(images)
    np.testing.assert_array_equal(sprite[6:12, 4:8], shown[4])  # 5th image: row 1, column 1
    assert (sprite[12:, 4:] == 0).all()  # unused cells stay black


@pytest.mark.parametrize("name", ["../x", "a/b", "..", ".", "a\\b", "nul\0byte", ""])
def test_names_that_could_escape_the_log_dir_are_refused(tmp_path, name):
    from keras_tbx import summary

    target = tmp_path / "run"
    with pytest.raises(ValueError, match="embedding names must be"):
        summary.write_embeddings(str(target), {name: np.zeros((2, 2))}, metadata={name: ["a", "b"]})
    assert os.listdir(tmp_path) == []  # nothing written, inside or outside


def test_write_embeddings_refuses_bad_input(tmp_path):
    from keras_tbx import summary

    with pytest.raises(ValueError, match="distinct file names"):
        summary.write_embeddings(str(tmp_path), {"a b": np.zeros((2, 2)), "a_b": np.zeros((2, 2))})
    with pytest.raises(ValueError, match="2-D"):
        summary.write_embeddings(str(tmp_path), {"a": np.zeros((2, 2, 2))})
    with pytest.raises(ValueError, match="finite"):
        summary.write_embeddings(str(tmp_path), {"a": np.full((2, 2), np.nan)})
    with pytest.raises(ValueError, match="one entry per point"):
        summary.write_embeddings(str(tmp_path), {"a": np.zeros((2, 2))}, metadata=["x"])
    with pytest.raises(ValueError, match="unknown embeddings"):
        summary.write_embeddings(str(tmp_path), {"a": np.zeros((2, 2))}, metadata={"b": ["x", "y"]})
    assert os.listdir(tmp_path) == []


def test_unknown_layer_names_stop_fit_naming_the_argument(tmp_path):
    import keras

    import keras_tbx

    model = keras.Sequential([keras.Input((3,), dtype="int32"), keras.layers.Embedding(5, 2, name="emb"),
                              keras.layers.Flatten(), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x, y = np.zeros((4, 3), "int32"), np.zeros((4, 1))
    for kwargs, message in [
        ({"embeddings_metadata": {"other": ["a"] * 5}}, "Argument `embeddings_metadata` must map"),
        ({"embeddings_layer_outputs": ["nope"], "sample": (x, y)}, "argument `embeddings_layer_outputs`"),
    ]:
        tb = keras_tbx.TensorBoard(str(tmp_path), embeddings_freq=1, write_text=False, **kwargs)
        with pytest.raises(ValueError, match=message):
            model.fit(x, y, epochs=1, callbacks=[tb], verbose=0)


def test_embeddings_metadata_as_keras_means_it_a_file_path(tmp_path):
    """Keras' `embeddings_metadata`: a file path (here relative to `log_dir`) per layer; it is
    copied next to the checkpoint, since the plugin refuses paths outside the run folder."""
    import keras

    import keras_tbx

    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    (log_dir / "vocab.tsv").write_text("".join(f"{w}\n" for w in WORDS[:6]))
    model = keras.Sequential([keras.Input((3,), dtype="int32"), keras.layers.Embedding(6, 2, name="emb"),
                              keras.layers.Flatten(), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    tb = keras_tbx.TensorBoard(str(log_dir), embeddings_freq=2, embeddings_metadata="vocab.tsv",
                               write_text=False)
    model.fit(np.zeros((4, 3), "int32"), np.zeros((4, 1)), epochs=3, callbacks=[tb], verbose=0)
    train = log_dir / "train"
    assert (train / "metadata_emb.tsv").read_text() == (log_dir / "vocab.tsv").read_text()
    assert (train / "checkpoint").read_text().startswith('model_checkpoint_path: "embeddings-2"')  # epochs 0, 2
    assert 'metadata_path: "metadata_emb.tsv"' in (train / "projector_config.pbtxt").read_text()
