"""Bad arguments raise early with Keras' template; write failures warn once and never stop
training."""

from __future__ import annotations

import os
import shutil
import warnings

import keras
import pytest
from events import read_scalars
from models import tiny_data, tiny_model

import keras_tbx


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"update_freq": "step"}, ValueError, "Argument `update_freq` must be"),
        ({"update_freq": 0}, ValueError, "Received: update_freq=0"),
        ({"update_freq": -3}, ValueError, "Received: update_freq=-3"),
        ({"update_freq": 2.5}, TypeError, "Received: update_freq=2.5"),
        ({"histogram_freq": -1}, ValueError, "Received: histogram_freq=-1"),
        ({"histogram_freq": True}, TypeError, "Argument `histogram_freq` must be an integer"),
        ({"embeddings_freq": -2}, ValueError, "Received: embeddings_freq=-2"),
        ({"profile_batch": -1}, ValueError, "Received: profile_batch=-1"),
        ({"profile_batch": (5, 2)}, ValueError, r"Received: profile_batch=\(5, 2\)"),
        ({"profile_batch": (0, 2)}, ValueError, "Argument `profile_batch` must be"),
        ({"profile_batch": (1, 2, 3)}, ValueError, "Argument `profile_batch` must be"),
        ({"profile_batch": "a,b"}, ValueError, "Received: profile_batch='a,b'"),
        ({"write_graph": "yes"}, TypeError, "Received: write_graph='yes'"),
        ({"class_names": ["a", "a"]}, ValueError, "distinct"),
        ({"class_names": 0}, ValueError, "Received: class_names=0"),
        ({"class_names": "abc"}, TypeError, "Received: class_names='abc'"),
        ({"log_dir": 3}, TypeError, "Received: log_dir=3"),
        ({"class_names": 2, "sample": ([1], [0, 1])}, ValueError, "Argument `sample` must be a pair"),
        ({"sample": ([1], [0])}, ValueError, "Argument `sample` must be used together with `class_names`"),
        ({"class_names": 2, "max_images": 0}, ValueError, "Received: max_images=0"),
        ({"class_names": 2, "num_thresholds": 1}, ValueError, "Received: num_thresholds=1"),
        ({"class_names": 2, "classification_output": 1.5}, TypeError, "Received: classification_output=1.5"),
        ({"class_names": 2, "multi_label": "yes"}, TypeError, "Received: multi_label='yes'"),
        ({"log_dir": ""}, ValueError, "Argument `log_dir` must be a non-empty path"),
    ],
)
def test_bad_arguments_raise_in_the_constructor(tmp_path, kwargs, error, message):
    kwargs.setdefault("log_dir", str(tmp_path))
    with pytest.raises(error, match=message):
        keras_tbx.TensorBoard(**kwargs)


def test_log_dir_under_a_regular_file_is_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(ValueError, match="is not a directory.*Received: log_dir="):
        keras_tbx.TensorBoard(str(blocker / "run1"))
    assert not (blocker.parent / "run1").exists()


def test_valid_spellings_are_accepted(tmp_path):
    tb = keras_tbx.TensorBoard(tmp_path, update_freq="batch", profile_batch="2,4", class_names=3)
    assert tb.update_freq == 1 and tb.profile_batch == (2, 4) and tb.class_names == ["0", "1", "2"]
    assert keras_tbx.TensorBoard(tmp_path, profile_batch=7).profile_batch == (7, 7)
    assert keras_tbx.TensorBoard(tmp_path, profile_batch=0).profile_batch is None
    assert not os.listdir(tmp_path)  # nothing is written before training


class Saboteur(keras.callbacks.Callback):
    """Removes the log directory, then puts a regular file in its place."""

    def __init__(self, path, remove_at=1, block_at=None):
        super().__init__()
        self.path, self.remove_at, self.block_at = path, remove_at, block_at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.remove_at:
            shutil.rmtree(self.path)
        if epoch == self.block_at:
            shutil.rmtree(self.path, ignore_errors=True)
            with open(self.path, "w") as f:
                f.write("blocked")


def _fit_with(log_dir, saboteur, epochs=4):
    x, y = tiny_data()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = tiny_model().fit(
            x, y, epochs=epochs, batch_size=16, verbose=0,
            callbacks=[saboteur, keras_tbx.TensorBoard(log_dir, update_freq=2)],
        )
    ours = [w for w in caught if "keras_tbx.TensorBoard could not write" in str(w.message)]
    return history, ours


def test_removed_log_dir_warns_once_and_logging_resumes(log_dir):
    history, warned = _fit_with(log_dir, Saboteur(log_dir, remove_at=1))
    assert len(history.history["loss"]) == 4
    assert len(warned) == 1 and "disappeared" in str(warned[0].message)
    epochs = read_scalars(os.path.join(log_dir, "train"))["epoch_loss"]
    # Epoch 1 went to the deleted file; from epoch 2 on a new event file is written.
    assert [s for s, _ in epochs] == [2, 3]
    assert [v for _, v in epochs] == pytest.approx(history.history["loss"][2:], rel=1e-6)


def test_unwritable_log_dir_warns_once_and_training_completes(log_dir):
    history, warned = _fit_with(log_dir, Saboteur(log_dir, remove_at=None, block_at=1))
    assert len(history.history["loss"]) == 4
    assert all(len(history.history[k]) == 4 for k in history.history)
    assert len(warned) == 1
