"""Profiling with keras_tbx.TensorBoard: step ranges, a whole epoch, options, failures,
backends; what the Profile tab of a real TensorBoard serves from it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from models import tiny_data, tiny_model
from xplane import event_names, profile_files, step_markers

import keras_tbx

STEPS_PER_EPOCH = 6  # tiny_data(): 96 samples, batch size 16


def _fit(log_dir, epochs=2, **kwargs):
    x, y = tiny_data()
    return tiny_model().fit(x, y, epochs=epochs, batch_size=16, verbose=0,
                            callbacks=[keras_tbx.TensorBoard(log_dir, **kwargs)])


@pytest.mark.server
def test_profile_tab_serves_step_range_and_epoch_with_one_marker_per_step(tb_server, tb_run_dir):
    _fit(tb_run_dir / "range", profile_batch=(3, 5))
    _fit(tb_run_dir / "epoch", epochs=3, profile_epoch=1)
    runs = {name: f"{tb_server.run_name(tb_run_dir / name)}/train" for name in ("range", "epoch")}
    expected = {"range": [3, 4, 5], "epoch": list(range(STEPS_PER_EPOCH + 1, 2 * STEPS_PER_EPOCH + 1))}

    listed = tb_server.profile_runs(runs.values())
    for name, run in runs.items():
        [capture] = [r for r in listed if r.startswith(run + "/")]  # <run>/train/<capture time>
        # xprof 2.24 lists the trace viewer as "trace_viewer@" (its streaming variant);
        # tag=trace_viewer still answers with every event.
        tools = tb_server.profile_tools(capture, {"overview_page", "trace_viewer@"})
        assert {"overview_page", "trace_viewer@", "input_pipeline_analyzer", "memory_profile"} <= set(tools)

        events = tb_server.profile_data(capture, "trace_viewer")["traceEvents"]
        markers = [e for e in events if e.get("ph") == "X" and "step_num" in e.get("args", {})]
        assert sorted(int(e["args"]["step_num"]) for e in markers) == expected[name], name
        assert {e["name"] for e in markers} == {f"train {s}" for s in expected[name]}

        # The overview page's step-time graph has one row per marked step; from 6 steps on,
        # xprof leaves out the first and the last (they may be partial).
        overview = tb_server.profile_data(capture, "overview_page")
        [step_table] = [t for t in overview if t.get("cols", [{}])[0].get("id") == "stepnum"]
        shown = expected[name] if len(expected[name]) < 6 else expected[name][1:-1]
        assert [row["c"][0]["v"] for row in step_table["rows"]] == [f"train {s}" for s in shown]
        assert step_table["p"]["hardware_type"] == "CPU_ONLY"
        assert float(step_table["p"]["steptime_ms_average"]) > 0


def test_profile_epoch_counts_the_continuing_epoch_axis(log_dir):
    x, y = tiny_data()
    model = tiny_model()
    tb = keras_tbx.TensorBoard(log_dir, profile_epoch=2)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[tb])
    assert profile_files(os.path.join(log_dir, "train")) == []  # epochs 0 and 1 only
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[tb])  # epoch 2 on the charts
    [path] = profile_files(os.path.join(log_dir, "train"))
    assert step_markers(path) == list(range(2 * STEPS_PER_EPOCH + 1, 3 * STEPS_PER_EPOCH + 1))


def test_steps_per_execution_profiles_whole_calls_and_says_what_the_overview_lacks(log_dir):
    from xprof.convert import raw_to_tool_data

    x, y = tiny_data(n=480)  # 30 steps
    tb = keras_tbx.TensorBoard(log_dir, profile_batch=(20, 27))
    with pytest.warns(RuntimeWarning, match="steps_per_execution=4 .* no step-time graph"):
        tiny_model(steps_per_execution=4).fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[tb])
    [path] = profile_files(os.path.join(log_dir, "train"))
    assert step_markers(path) == [17, 21, 25]  # calls running steps 17-20, 21-24, 25-28
    # What the warning says: xprof groups Keras' multi-step loop by TF loop iteration.
    data, _ = raw_to_tool_data.xspace_to_tool_data([path], "overview_page", {})
    [steps] = [t for t in json.loads(data) if t.get("cols", [{}])[0].get("id") == "stepnum"]
    assert steps["rows"] == []


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"profile_epoch": -1}, ValueError,
         r"Argument `profile_epoch` must be None or an epoch index \(an integer >= 0\). Received: profile_epoch=-1"),
        ({"profile_epoch": "1"}, TypeError, "Received: profile_epoch='1'"),
        ({"profile_epoch": 1, "profile_batch": (2, 3)}, ValueError,
         r"must be None when `profile_batch` is set \(it is \(2, 3\)\). Received: profile_epoch=1"),
        ({"profile_options": "verbose"}, TypeError,
         "Argument `profile_options` must be a tf.profiler.experimental.ProfilerOptions or a dict"),
        ({"profile_options": {"host_level": 3}}, ValueError, "'host_level' is not"),
        ({"profile_options": {"host_tracer_level": 4}}, ValueError,
         r"Argument `profile_options\['host_tracer_level'\]` must be an integer from 0 to 3. "
         r"Received: profile_options\['host_tracer_level'\]=4"),
        ({"profile_options": {"python_tracer_level": True}}, TypeError, "from 0 to 1"),
        ({"profile_options": {"delay_ms": -5}}, ValueError, "None or an integer >= 0"),
    ],
)
def test_profiling_arguments_are_checked_in_the_constructor(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        keras_tbx.TensorBoard(tmp_path, **kwargs)


def test_profile_options_accepts_profiler_options_and_dicts(tmp_path):
    import tensorflow as tf

    defaults = {"host_tracer_level": 2, "python_tracer_level": 0, "device_tracer_level": 1, "delay_ms": None}
    assert keras_tbx.TensorBoard(tmp_path).profile_options == defaults
    options = tf.profiler.experimental.ProfilerOptions(host_tracer_level=3, device_tracer_level=0)
    assert keras_tbx.TensorBoard(tmp_path, profile_options=options).profile_options == {
        **defaults, "host_tracer_level": 3, "device_tracer_level": 0}
    assert keras_tbx.TensorBoard(tmp_path, profile_options={"delay_ms": 500}).profile_options == {
        **defaults, "delay_ms": 500}


def test_options_tensorflow_ignores_locally_are_reported(log_dir):
    # TensorFlow 2.21's local sessions reject every option value ("python_tracer_level
    # expects an i value"): the trace has markers but no Python calls. keras_tbx says so.
    with pytest.warns(RuntimeWarning, match="ignores profiler options in local profiling sessions"):
        _fit(log_dir, epochs=1, profile_batch=(2, 3), profile_options={"python_tracer_level": 1})
    [path] = profile_files(os.path.join(log_dir, "train"))
    assert step_markers(path) == [2, 3]
    assert not [name for name in event_names(path) if name.startswith("$")]  # no Python tracer


def test_a_non_chief_profiles_into_its_own_folder(log_dir, monkeypatch):
    monkeypatch.setattr("keras_tbx.callbacks.tensorboard.is_chief", lambda model: False)
    history = _fit(log_dir, profile_batch=(2, 3))
    assert len(history.history["loss"]) == 2
    assert not os.path.exists(os.path.join(log_dir, "train"))  # nothing in the chief's runs
    [path] = profile_files(os.path.join(log_dir, "workers", f"process_{os.getpid()}", "train"))
    assert step_markers(path) == [2, 3]


def test_backends_without_a_profiler_get_a_clear_message(monkeypatch, tmp_path):
    import keras

    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    with pytest.warns(UserWarning, match="the torch backend has no profiler that keras_tbx can drive"):
        tb = keras_tbx.TensorBoard(tmp_path, profile_batch=(2, 3))
    assert tb.async_safe  # no profiler part: nothing runs per batch for it
    with pytest.raises(RuntimeError, match="torch backend has no profiler"):
        keras_tbx.profiler.start_server(6009)


JAX_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, warnings
    sys.path.insert(0, {tests!r})
    import keras, keras_tbx
    from keras_tbx._core import profiling
    from models import tiny_data, tiny_model

    x, y = tiny_data()
    out = {{"backend": keras.backend.backend()}}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tb = keras_tbx.TensorBoard(os.path.join({log_dir!r}, "gated"), profile_batch=(2, 3))
    out["gated_warning"] = [str(w.message) for w in caught]
    tiny_model().fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[tb])
    try:
        keras_tbx.profiler.start_server(6009)
    except RuntimeError as e:
        out["server_error"] = str(e)
    # Where Keras allows it (Python >= 3.12) the same code path runs; exercise it here.
    profiling.JAX_MIN_PYTHON = (3, 0)
    tb = keras_tbx.TensorBoard(os.path.join({log_dir!r}, "jax"), profile_batch=(2, 4))
    tiny_model().fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[tb])
    print("RESULT" + json.dumps(out))
    """
)


@pytest.mark.skipif(not __import__("importlib").util.find_spec("jax"), reason="jax is not installed")
def test_jax_backend_profiles_through_jax_profiler_where_keras_allows(log_dir):
    script = JAX_SCRIPT.format(tests=os.path.dirname(__file__), log_dir=str(log_dir))
    proc = subprocess.run([sys.executable, "-c", script], env=dict(os.environ, KERAS_BACKEND="jax"),
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(next(l for l in proc.stdout.splitlines() if l.startswith("RESULT"))[6:])
    assert out["backend"] == "jax"
    if sys.version_info < (3, 12):
        [message] = out["gated_warning"]
        assert "profiling on the JAX backend needs Python >= 3.12" in message
        assert "`profile_batch` / `profile_epoch` is ignored" in message
        assert profile_files(os.path.join(log_dir, "gated", "train")) == []
        assert "needs Python >= 3.12" in out["server_error"]
    [path] = profile_files(os.path.join(log_dir, "jax", "train"))
    assert step_markers(path) == [2, 3, 4]
