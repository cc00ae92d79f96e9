"""Concurrent runs with one log root: `keras_tbx.run_dir` gives every training its own
folder, even when they start in the same second; two trainings that share one `log_dir`
both keep their events (TensorFlow names each event file after its host, process id and
time), and TensorBoard then shows their points interleaved on one curve."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from events import event_files, read_scalars

import keras_tbx

TESTS = os.path.dirname(os.path.abspath(__file__))


def test_run_dir_names_and_collisions(tmp_path):
    stamp = time.strptime("2025-01-02 03:04:05", "%Y-%m-%d %H:%M:%S")
    root = tmp_path / "logs"  # created on demand
    first = keras_tbx.run_dir(root, "cnn", timestamp=stamp)
    second = keras_tbx.run_dir(root, "cnn", timestamp=stamp)
    assert first == os.path.join(root, "cnn-20250102-030405")
    assert second == first + "-1"
    assert keras_tbx.run_dir(root, timestamp=stamp) == os.path.join(root, "20250102-030405")
    assert sorted(os.listdir(root)) == ["20250102-030405", "cnn-20250102-030405", "cnn-20250102-030405-1"]
    assert all(not os.listdir(os.path.join(root, d)) for d in os.listdir(root))


def test_run_dir_threads_racing_get_distinct_folders(tmp_path):
    stamp = time.localtime()
    barrier, found = threading.Barrier(8), []

    def claim():
        barrier.wait()
        found.append(keras_tbx.run_dir(tmp_path, "race", timestamp=stamp))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(found)) == 8 and len(os.listdir(tmp_path)) == 8


CHILD = textwrap.dedent("""
    import json, os, sys, time
    sys.path.insert(0, {tests!r})
    import keras, keras_tbx
    from models import tiny_data, tiny_model
    root, shared, go, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    x, y = tiny_data(seed=seed)
    open(go + ".ready" + str(seed), "w").close()
    while not os.path.exists(go):  # both processes leave this loop together
        time.sleep(0.005)
    own = keras_tbx.run_dir(root, "exp")
    h = tiny_model(seed=seed).fit(
        x, y, epochs=3, batch_size=16, verbose=0, validation_split=0.25,
        callbacks=[keras_tbx.TensorBoard(own, update_freq=2),  # its own folder
                   keras_tbx.TensorBoard(shared, update_freq=2)])  # and one both share
    print(json.dumps({{"own": own, "history": h.history}}))
""")


def test_two_trainings_started_together(tmp_path):
    root, shared, go = tmp_path / "logs", tmp_path / "logs" / "shared", tmp_path / "go"
    child = CHILD.format(tests=TESTS)
    procs = [
        subprocess.Popen([sys.executable, "-c", child, str(root), str(shared), str(go), str(seed)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        for seed in (1, 2)
    ]
    try:
        deadline = time.monotonic() + 180
        while not all(os.path.exists(f"{go}.ready{s}") for s in (1, 2)):
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs), \
                [p.stderr.read()[-2000:] for p in procs if p.poll() is not None]
            time.sleep(0.05)
        go.touch()
        outputs = [p.communicate(timeout=180) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in outputs]
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]

    # Their own timestamped folders: distinct, each holding exactly its own run.
    own = [r["own"] for r in results]
    assert len(set(own)) == 2 and all(os.path.basename(p).startswith("exp-") for p in own)
    for result in results:
        epochs = read_scalars(os.path.join(result["own"], "train"))["epoch_loss"]
        assert [v for _, v in epochs] == pytest.approx(result["history"]["loss"], rel=1e-6)

    # One shared folder: two event files per run folder, every point of both runs kept.
    for run, key in (("train", "loss"), ("validation", "val_loss")):
        assert len(event_files(shared / run)) == 2
        points = read_scalars(shared / run)["epoch_loss"]
        assert sorted(s for s, _ in points) == [0, 0, 1, 1, 2, 2]
        expected = sorted(v for r in results for v in r["history"][key])
        assert sorted(v for _, v in points) == pytest.approx(expected, rel=1e-6)
