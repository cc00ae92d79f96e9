"""Security: nothing we start listens beyond the loopback interface, a training run writes
no file outside its `log_dir`, and tag names (class names) with "../" stay tags inside the
event files, never paths.

TensorFlow's profiler server is the one exception, opt-in and documented: it has no host
argument and listens on all interfaces (`keras_tbx.profiler.start_server` warns).
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import textwrap

import psutil
from events import read_tags

TESTS = os.path.dirname(os.path.abspath(__file__))


def _listening(proc: psutil.Process) -> list[str]:
    """The addresses `proc` and its descendants listen on (TCP)."""
    found = []
    for p in [proc, *proc.children(recursive=True)]:
        try:
            connections = p.net_connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        found += [c.laddr.ip for c in connections if c.status == psutil.CONN_LISTEN]
    return found


def test_tensorboard_we_start_listens_on_loopback_only(tb_server):
    # The test oracle and `keras-tbx demo --serve` start TensorBoard with the same
    # `--host 127.0.0.1` (test_cli.py checks serve's command line).
    addresses = _listening(psutil.Process(tb_server.pid))
    assert addresses, "the server listens somewhere"
    assert all(ipaddress.ip_address(a).is_loopback for a in addresses), addresses
    assert "127.0.0.1" in addresses


CHILD = textwrap.dedent("""
    import json, os, sys
    sys.path.insert(0, {tests!r})
    import numpy as np, psutil
    import keras_tbx
    from keras_tbx import summary
    from models import tiny_data, tiny_model
    import tensorflow as tf

    x, y = tiny_data()
    names = ["../../escape", "b/../../../c", "plain"]  # class names become tags
    tb = keras_tbx.TensorBoard(
        "logs/run", histogram_freq=1, write_images=True, update_freq=2, class_names=names,
        sample=(x[:4], y[:4]), hparams={{"units": 8}}, layout={{"Mine": {{"c": ["Multiline", ["^epoch_"]]}}}})
    tiny_model().fit(x, y, epochs=2, batch_size=16, verbose=0, validation_split=0.25, callbacks=[tb])
    tb.close()
    # The toolkit in a custom loop, with hostile tags.
    writer = summary.create_file_writer("logs/run/custom")
    with writer.as_default(step=0):
        summary.scalars({{"../../../outside": 1.0, "/abs/path": 2.0}})
        summary.image("../../img", np.zeros((1, 2, 2, 1)))
    writer.close()
    listening = [c.laddr.ip for c in psutil.Process().net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN]
    print(json.dumps({{"listening": listening}}))
""")


def test_a_run_writes_only_under_log_dir_and_listens_nowhere(tmp_path):
    home, tmp, cwd = (tmp_path / d for d in ("home", "tmp", "cwd"))
    for d in (home, tmp, cwd):
        d.mkdir()
    env = {**os.environ, "HOME": str(home), "TMPDIR": str(tmp), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", CHILD.format(tests=TESTS)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1])["listening"] == []

    log_dir = cwd / "logs" / "run"
    outside = [os.path.join(d, f) for root in (home, tmp, cwd) for d, _, files in os.walk(root)
               for f in files if not os.path.join(d, f).startswith(str(log_dir) + os.sep)]
    # Elsewhere only the dependencies' own caches (not keras_tbx's writing): Keras' config
    # (written when keras is imported), matplotlib's font cache (the label font comes
    # from matplotlib's data) and Python's byte code of the test helpers.
    allowed = (str(home / ".keras" / "keras.json"), str(home / ".cache" / "matplotlib") + os.sep)
    assert [p for p in outside if "__pycache__" not in p and not p.startswith(allowed)] == [], outside
    assert sorted(os.listdir(tmp_path)) == ["cwd", "home", "tmp"]
    assert sorted(os.listdir(cwd)) == ["logs"] and sorted(os.listdir(cwd / "logs")) == ["run"]

    # Class names are one tag component each ("/" becomes "_"); toolkit tags stay verbatim.
    scalars = read_tags(log_dir / "validation")["scalars"]
    assert {"per_class/recall/.._.._escape", "per_class/recall/b_.._.._.._c"} <= scalars, scalars
    custom = read_tags(log_dir / "custom")
    assert {"../../../outside", "/abs/path"} <= custom["scalars"] and "../../img" in custom["images"]
