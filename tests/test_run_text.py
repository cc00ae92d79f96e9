"""Run text (`run/model_summary`, `run/config`, `run/metadata`) read back from event files."""

from __future__ import annotations

import importlib.metadata as md
import os
import sys

import keras
from events import read_tags, read_tensors
from models import tiny_data, tiny_model

import keras_tbx
from keras_tbx.summary import compile_config, config_markdown, model_summary_markdown


def _texts(log_dir):
    train = os.path.join(log_dir, "train")
    return {tag: [(step, t.item().decode()) for step, t in read_tensors(train, tag)]
            for tag in ("run/model_summary", "run/config", "run/metadata")}


def test_run_text_written_once_per_callback(log_dir):
    x, y = tiny_data()
    model = tiny_model()
    printed = []  # what Keras prints when training begins (optimizer not built yet)
    model.summary(print_fn=lambda line, **kwargs: printed.append(line))
    tb = keras_tbx.TensorBoard(log_dir, hparams={"units": 8, "optimizer": "sgd"})
    model.fit(x, y, epochs=1, verbose=0, callbacks=[tb])
    model.fit(x, y, epochs=1, verbose=0, callbacks=[tb])  # a second fit: nothing new
    texts = _texts(log_dir)
    assert all(len(entries) == 1 and entries[0][0] == 0 for entries in texts.values())

    assert texts["run/model_summary"][0][1] == "```\n" + "\n".join(printed).rstrip("\n") + "\n```"
    assert "Total params" in texts["run/model_summary"][0][1]

    config = texts["run/config"][0][1]
    assert "| optimizer | SGD |" in config and "| optimizer.learning_rate | 0.05 |" in config
    assert "| loss | sparse_categorical_crossentropy |" in config and "accuracy" in config
    assert "**Hyperparameters**" in config and "| units | 8 |" in config
    assert config == config_markdown(compile_config(model), {"units": 8, "optimizer": "sgd"})

    meta = texts["run/metadata"][0][1]
    for dist in ("keras-tbx", "keras", "tensorflow", "tensorboard"):
        assert f"| version of {dist} | {md.version(dist)} |" in meta
    assert "| backend | tensorflow |" in meta and "CPU" in meta
    assert f"| python | {sys.version.split()[0]} |" in meta and "| command line |" in meta


def test_write_text_false_writes_no_text(log_dir):
    x, y = tiny_data()
    tiny_model().fit(x, y, epochs=1, verbose=0, callbacks=[keras_tbx.TensorBoard(log_dir, write_text=False)])
    assert "text" not in read_tags(os.path.join(log_dir, "train"))


def test_summary_markdown_of_a_subclassed_model_and_pipes_escaped():
    class Twice(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x) * 2

    model = Twice()
    model(keras.ops.zeros((1, 3)))
    text = model_summary_markdown(model)
    assert text.startswith("```\n") and text.endswith("\n```") and "Total params: 8" in text
    assert "a \\| b" in config_markdown({"loss": "a | b"})
