"""keras_tbx on Keras' JAX backend (writing still goes through tf.summary), in a fresh
process because the backend is chosen at import time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from events import read_scalars

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    sys.path.insert(0, {tests!r})
    import keras, keras_tbx
    from keras.src.callbacks.callback_list import CallbackList
    from models import tiny_data, tiny_model

    x, y = tiny_data()
    out = {{"backend": keras.backend.backend(), "async": {{}}, "history": {{}}}}
    for name, cb in [
        ("tbx_epoch", keras_tbx.TensorBoard(os.path.join({log_dir!r}, "epoch"))),
        ("tbx_batch", keras_tbx.TensorBoard(os.path.join({log_dir!r}, "batch"), update_freq=2)),
        ("keras", keras.callbacks.TensorBoard(os.path.join({log_dir!r}, "keras"))),
    ]:
        model = tiny_model()
        out["async"][name] = CallbackList([cb], model=model)._async_train
        history = model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[cb])
        out["history"][name] = history.history["loss"]
    print("RESULT" + json.dumps(out))
    """
)


@pytest.mark.skipif(
    not __import__("importlib").util.find_spec("jax"), reason="jax is not installed"
)
def test_jax_backend_logs_and_keeps_async_dispatch(log_dir):
    env = dict(os.environ, KERAS_BACKEND="jax")
    script = SCRIPT.format(tests=os.path.dirname(__file__), log_dir=str(log_dir))
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=240
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULT"))
    out = json.loads(line[len("RESULT"):])
    assert out["backend"] == "jax"
    # D10: Keras' callback turns off async batch dispatch; ours does not, in either mode.
    assert out["async"] == {"tbx_epoch": True, "tbx_batch": True, "keras": False}
    epoch = read_scalars(os.path.join(log_dir, "epoch", "train"))["epoch_loss"]
    assert [v for _, v in epoch] == pytest.approx(out["history"]["tbx_epoch"], rel=1e-6)
    batch = read_scalars(os.path.join(log_dir, "batch", "train"))["batch_loss"]
    assert [s for s, _ in batch] == [2, 4, 6, 8, 10, 12]
