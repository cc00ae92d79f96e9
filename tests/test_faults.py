"""Faults injected mid-training never kill the run: `fit` finishes, `History` is intact,
each kind of fault warns exactly once, and logging resumes once the fault clears.

Faults: the log directory made unwritable (a regular file in its place when running as
root, where permissions stop nothing; `chmod` otherwise), the disk full (`RLIMIT_FSIZE` in
a subprocess with SIGXFSZ ignored: writes fail with EFBIG, as on a full disk; a tmpfs cannot
be mounted in the test containers), a figure renderer raising, and the profiler failing
(another profiling session already running). The removed directory is covered in
`test_arguments_and_failures.py`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import warnings

import keras
import numpy as np
import pytest
from events import read_images, read_scalars, read_tags
from models import tiny_data, tiny_model

import keras_tbx

TESTS = os.path.dirname(os.path.abspath(__file__))
WRITE_WARNING = "keras_tbx.TensorBoard could not write summaries"
RENDER_WARNING = "keras_tbx.TensorBoard could not write classification"


def _fit(log_dir, fault, epochs=5, **kwargs):
    """Trains the tiny model with `fault` (a callback) before ours; returns the History and
    the warnings raised."""
    x, y = tiny_data()
    kwargs.setdefault("update_freq", 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = tiny_model().fit(
            x, y, epochs=epochs, batch_size=16, verbose=0, validation_split=0.25,
            callbacks=[fault, keras_tbx.TensorBoard(log_dir, **kwargs)],
        )
    assert all(len(values) == epochs for values in history.history.values()), history.history
    return history, [str(w.message) for w in caught]


class Unwritable(keras.callbacks.Callback):
    """Makes `path` unwritable at epoch `start`, writable again at epoch `stop`."""

    def __init__(self, path, start, stop):
        super().__init__()
        self.path, self.start, self.stop = str(path), start, stop
        self.as_root = os.geteuid() == 0

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.start:
            if self.as_root:  # root writes through any mode bits: replace the folder by a file
                shutil.rmtree(self.path)
                with open(self.path, "w") as f:
                    f.write("not a directory")
            else:
                for folder in (self.path, *(os.path.join(self.path, d) for d in os.listdir(self.path))):
                    os.chmod(folder, 0o555)
        if epoch == self.stop:
            if self.as_root:
                os.remove(self.path)
                os.mkdir(self.path)
            else:
                for folder in (self.path, *(os.path.join(self.path, d) for d in os.listdir(self.path))):
                    os.chmod(folder, 0o755)


def test_unwritable_log_dir_warns_once_and_logging_resumes(log_dir):
    history, caught = _fit(log_dir, Unwritable(log_dir, start=1, stop=3))
    assert sum(WRITE_WARNING in m for m in caught) == 1, caught
    train = read_scalars(os.path.join(log_dir, "train"))
    # Epochs 1 and 2 could not be written; from epoch 3 on a new event file holds them.
    assert [s for s, _ in train["epoch_loss"]][-2:] == [3, 4]
    assert {1, 2}.isdisjoint(s for s, _ in train["epoch_loss"])
    assert [v for _, v in train["epoch_loss"]][-2:] == pytest.approx(history.history["loss"][3:], rel=1e-6)
    validation = read_scalars(os.path.join(log_dir, "validation"))
    assert [s for s, _ in validation["epoch_loss"]][-2:] == [3, 4]


class ConfusionRenderFails:
    """Stands in for `keras_tbx.summary.confusion_matrix_pb`: calls number `failing` raise."""

    def __init__(self, original, failing):
        self.original, self.failing, self.calls = original, failing, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls in self.failing:
            raise RuntimeError("renderer broke (injected)")
        return self.original(*args, **kwargs)


def test_failing_renderer_warns_once_and_later_epochs_render(log_dir, monkeypatch):
    from keras_tbx import summary

    # Rendering runs in order on one background thread: train then validation, epoch by
    # epoch. Calls 3 to 6 are epochs 1 and 2.
    broken = ConfusionRenderFails(summary.confusion_matrix_pb, failing={3, 4, 5, 6})
    monkeypatch.setattr(summary, "confusion_matrix_pb", broken)
    history, caught = _fit(log_dir, keras.callbacks.Callback(), epochs=4, class_names=3)
    assert broken.calls == 8
    assert sum(RENDER_WARNING in m for m in caught) == 1, caught
    assert not any(WRITE_WARNING in m for m in caught)
    for run in ("train", "validation"):
        path = os.path.join(log_dir, run)
        images = read_images(path, "confusion_matrix/counts")
        assert [step for step, _ in images] == [0, 3]
        assert images[-1][1][0].ndim == 3  # a decoded RGB(A) picture
        # What the job wrote before the renderer (per-class scalars) is complete.
        assert [s for s, _ in read_scalars(path)["per_class/macro/f1"]] == [0, 1, 2, 3]


def test_failing_profiler_warns_once_and_training_goes_on(log_dir, tmp_path):
    import tensorflow as tf

    other = tmp_path / "other_profile"
    tf.profiler.experimental.start(str(other))  # another session: ours cannot start
    try:
        history, caught = _fit(log_dir, keras.callbacks.Callback(), epochs=3, profile_batch=(2, 4))
    finally:
        tf.profiler.experimental.stop()
    assert len([m for m in caught if "could not start the profiler (AlreadyExistsError" in m]) == 1
    assert not any(WRITE_WARNING in m for m in caught)
    assert not os.path.exists(os.path.join(log_dir, "train", "plugins", "profile"))
    assert [s for s, _ in read_scalars(os.path.join(log_dir, "train"))["epoch_loss"]] == [0, 1, 2]
    assert history.history["loss"][-1] < history.history["loss"][0]


DISK_FULL_CHILD = textwrap.dedent("""
    import glob, json, os, resource, signal, sys, warnings
    sys.path.insert(0, {tests!r})
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    import keras, keras_tbx
    from models import tiny_data, tiny_model
    log_dir = sys.argv[1]

    class DiskFull(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:  # no event file may grow past its current size: a full disk
                size = max(os.path.getsize(f) for f in glob.glob(log_dir + "/*/events*"))
                resource.setrlimit(resource.RLIMIT_FSIZE, (size + 64, resource.RLIM_INFINITY))
            if epoch == 2:  # space freed
                resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)

    x, y = tiny_data()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = tiny_model().fit(x, y, epochs=4, batch_size=16, verbose=0, callbacks=[
            DiskFull(), keras_tbx.TensorBoard(log_dir, update_freq=1, histogram_freq=1)])
    print(json.dumps({{"history": history.history,
                       "warnings": [str(w.message) for w in caught]}}))
""")


def test_full_disk_warns_once_and_logging_resumes(log_dir):
    import json

    child = DISK_FULL_CHILD.format(tests=TESTS)
    done = subprocess.run([sys.executable, "-c", child, str(log_dir)], capture_output=True,
                          text=True, timeout=180, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert all(len(v) == 4 for v in result["history"].values())
    ours = [m for m in result["warnings"] if WRITE_WARNING in m]
    assert len(ours) == 1 and "File too large" in ours[0], result["warnings"]
    train = os.path.join(log_dir, "train")
    scalars = read_scalars(train)
    # Epoch 1 hit the full disk and is lost; epochs 2 and 3 are in a new event file.
    assert [s for s, _ in scalars["epoch_loss"]] == [0, 2, 3]
    assert [v for _, v in scalars["epoch_loss"]] == pytest.approx(
        np.asarray(result["history"]["loss"])[[0, 2, 3]], rel=1e-6)
    assert [s for s, _ in scalars["batch_loss"]][-12:] == list(range(13, 25))
    assert any(t.endswith("/histogram") for t in read_tags(train)["histograms"])
    assert len([f for f in os.listdir(train) if f.startswith("events.out")]) == 2
