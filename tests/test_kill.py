"""Nothing written is lost: events reach the disk at every epoch end, when an exception or
`KeyboardInterrupt` escapes `fit()` (Keras then calls no callback: idle writers are
flushed in the background, and at interpreter exit), and a run killed with SIGKILL after
epoch N still shows epochs 0..N, in the event files and through a real TensorBoard."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest
from events import read_scalars
from models import tiny_data, tiny_model
from oracle import poll

import keras_tbx
from keras_tbx._core import lifeline

TESTS = os.path.dirname(os.path.abspath(__file__))
STEPS = 6  # tiny_data() is 96 samples: 6 batches of 16


class Interrupt(keras.callbacks.Callback):
    """Raises `error` at the end of batch `batch` of epoch `epoch` (placed after ours)."""

    def __init__(self, epoch, batch, error=KeyboardInterrupt):
        super().__init__()
        self.epoch, self.batch, self.error, self.current = epoch, batch, error, None

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.current, batch) == (self.epoch, self.batch):
            raise self.error("stopped by the test")


class FailingData(keras.utils.PyDataset):
    """The tiny data set, whose batch `fail_at` (counted over the whole run) raises."""

    def __init__(self, fail_at):
        super().__init__()
        self.x, self.y = tiny_data()
        self.fail_at, self.served = fail_at, 0

    def __len__(self):
        return STEPS

    def __getitem__(self, i):
        self.served += 1
        if self.served == self.fail_at:
            raise ValueError("corrupt record (injected)")
        return self.x[i * 16:(i + 1) * 16], self.y[i * 16:(i + 1) * 16]


def _batch_steps(run_dir):
    return [s for s, _ in read_scalars(run_dir).get("batch_loss", [])]


class Seen(keras.callbacks.Callback):
    """Counts the batches that reached the callbacks (placed after ours)."""

    batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1


@pytest.mark.parametrize("source", ["callback", "data"])
def test_exception_out_of_fit_still_reaches_the_disk(log_dir, monkeypatch, source):
    monkeypatch.setattr(lifeline, "IDLE_FLUSH_SECONDS", 0.5)
    x, y = tiny_data()
    tb, seen = keras_tbx.TensorBoard(log_dir, update_freq=1), Seen()
    if source == "callback":
        with pytest.raises(KeyboardInterrupt):
            tiny_model().fit(x, y, epochs=3, batch_size=16, verbose=0,
                             callbacks=[tb, seen, Interrupt(epoch=1, batch=3)])
        assert seen.batches == STEPS + 4
    else:  # tf.data re-raises the error of the Python data source
        with pytest.raises(Exception, match="corrupt record"):
            tiny_model().fit(FailingData(fail_at=STEPS + 6), epochs=3, verbose=0, callbacks=[tb, seen])
        assert STEPS < seen.batches < 2 * STEPS
    train = os.path.join(log_dir, "train")
    # Only epoch 0's end flushed; the batch scalars after it wait in memory until the
    # callback has been idle for IDLE_FLUSH_SECONDS.
    steps = poll(lambda: _batch_steps(train)[-1:] == [seen.batches] and _batch_steps(train),
                 timeout=20, interval=0.2, desc="batch scalars after the exception")
    assert steps == list(range(1, seen.batches + 1))
    assert [s for s, _ in read_scalars(train)["epoch_loss"]] == [0]
    tb.close()


KILL_CHILD = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {tests!r})
    import keras, keras_tbx
    from models import tiny_data, tiny_model
    mode, log_dir, marker = sys.argv[1:4]

    class Marker(keras.callbacks.Callback):  # after ours: runs once ours has flushed
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                with open(marker + ".tmp", "w") as f:
                    f.write(str(os.getpid()))
                os.replace(marker + ".tmp", marker)
        def on_train_batch_end(self, batch, logs=None):
            if os.path.exists(marker):
                if mode == "interrupt" and batch == 3:
                    raise KeyboardInterrupt  # out of fit and out of the script
                time.sleep(0.2)  # wait for the SIGKILL mid-epoch

    x, y = tiny_data()
    tb = keras_tbx.TensorBoard(log_dir, update_freq=1, histogram_freq=1)
    tiny_model().fit(x, y, epochs=100, batch_size=16, verbose=0, validation_split=0.25,
                     callbacks=[tb, Marker()])
""")


def _child(mode, log_dir, marker):
    return subprocess.Popen(
        [sys.executable, "-c", KILL_CHILD.format(tests=TESTS), mode, str(log_dir), str(marker)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )


def test_sigkill_after_epoch_n_keeps_epochs_0_to_n(tb_run_dir, tmp_path, tb_server):
    # Both children at once: one SIGKILLed in epoch 3, one dying of a KeyboardInterrupt.
    killed_dir, interrupted_dir = tb_run_dir / "killed", tb_run_dir / "interrupted"
    killed = _child("kill", killed_dir, tmp_path / "killed.ready")
    interrupted = _child("interrupt", interrupted_dir, tmp_path / "interrupted.ready")
    try:
        poll(lambda: (tmp_path / "killed.ready").exists() or killed.poll() is not None,
             timeout=180, interval=0.1, desc="the child finishing epoch 2")
        assert killed.poll() is None, killed.stdout.read()[-3000:]
        time.sleep(0.3)  # a batch or two of epoch 3 is logged (not flushed yet)
        os.kill(killed.pid, signal.SIGKILL)
        assert killed.wait(30) == -signal.SIGKILL
        interrupted.wait(180)
    finally:
        for proc in (killed, interrupted):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    output = interrupted.stdout.read()
    assert interrupted.returncode != 0 and "KeyboardInterrupt" in output, output[-3000:]

    for run_dir in (killed_dir, interrupted_dir):
        train = read_scalars(run_dir / "train")
        assert [s for s, _ in train["epoch_loss"]] == [0, 1, 2]
        assert [s for s, _ in read_scalars(run_dir / "validation")["epoch_loss"]] == [0, 1, 2]
        # validation_split=0.25 leaves 72 samples: 5 steps an epoch.
        assert _batch_steps(run_dir / "train")[:15] == list(range(1, 16))
    # The interrupted run also kept what it logged after its last epoch end (at exit).
    assert _batch_steps(interrupted_dir / "train") == list(range(1, 15 + 4 + 1))
    # And TensorBoard serves the killed run's three epochs.
    points = tb_server.scalars(killed_dir / "train", "epoch_loss", min_points=3)
    assert [step for _, step, _ in points] == [0, 1, 2]
    assert np.isfinite([value for *_, value in points]).all()
