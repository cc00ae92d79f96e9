"""On-demand profiling (keras_tbx.profiler, `keras-tbx profile`, TensorBoard's Capture button),
run inside a network namespace that has only loopback: TF's profiler server listens on every
interface, so it is never started on the test machine's real network."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest
from xplane import event_names, profile_files, step_markers

from keras_tbx import profiler

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
PORT = 6009  # free in a fresh network namespace


def _cli(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "keras_tbx", "profile", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_cli_profile_reports_bad_addresses_and_absent_servers(tmp_path):
    proc = _cli("--addr", "localhost", "--logdir", str(tmp_path))
    assert proc.returncode == 1
    assert "Argument `addr` must be \"grpc://host:port\"" in proc.stderr
    assert "Received: addr='localhost'" in proc.stderr
    # Nothing listens on port 1: the client fails at once (no server is started here). The
    # command never imports TensorFlow or Keras (blocked here), so it answers in a blink.
    code = (
        "import sys; sys.modules['tensorflow'] = sys.modules['keras'] = None; "
        "from keras_tbx.cli import main; sys.exit(main(['profile', '--addr', "
        f"'grpc://127.0.0.1:1', '--logdir', {str(tmp_path)!r}, '--duration-ms', '100', "
        "'--attempts', '1']))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "keras_tbx.profiler.capture: no profile from grpc://127.0.0.1:1" in proc.stderr
    assert profile_files(tmp_path) == []


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"addr": "grpc://h:70000"}, ValueError, "Argument `addr` must be"),
        ({"addr": 6009}, TypeError, "Received: addr=6009"),
        ({"duration_ms": 0}, ValueError, "Argument `duration_ms` must be an integer >= 1"),
        ({"options": {"device_tracer_level": 2}}, ValueError,
         r"Argument `options\['device_tracer_level'\]` must be an integer from 0 to 1"),
    ],
)
def test_capture_checks_its_arguments(tmp_path, kwargs, error, match):
    args = {"addr": "grpc://127.0.0.1:1", "logdir": tmp_path, "duration_ms": 100, **kwargs}
    with pytest.raises(error, match=match):
        profiler.capture(**args)


def test_start_server_checks_the_port():
    with pytest.raises(ValueError, match="Argument `port` must be an integer from 1 to 65535"):
        profiler.start_server(70000)
    with pytest.raises(TypeError, match="Received: port='6009'"):
        profiler.start_server("6009")
    assert profiler.server_port() is None  # nothing was started


WORKER = textwrap.dedent(
    """
    import json, os, socket, subprocess, sys, threading, time, warnings
    sys.path.insert(0, {tests!r})
    from oracle import TensorBoardServer

    run, port = {run!r}, {port}
    # TensorBoard in this namespace too, for its Capture button; it writes into its --logdir.
    board = TensorBoardServer(os.path.join(run, "train")).launch()
    import keras, keras_tbx
    from models import tiny_data, tiny_model

    out = {{}}
    with socket.socket() as held:  # a port someone else listens on: refused, not half-started
        held.bind(("127.0.0.1", port + 1))
        held.listen()
        try:
            keras_tbx.profiler.start_server(port + 1)
        except RuntimeError as e:
            out["busy"] = str(e)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        address = keras_tbx.profiler.start_server(port)
    out["address"], out["warnings"] = address, [str(w.message) for w in caught]
    out["listening"] = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in open(table).read().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                out["listening"].append(local.rsplit(":", 1)[0])

    begun = []  # (monotonic time, first optimizer step) of every training batch
    stop = threading.Event()

    class Log(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            begun.append((time.monotonic(), int(self.model.optimizer.iterations.numpy()) + 1))
            self.model.stop_training = stop.is_set()

    def timed(name, fn):
        start = time.monotonic()
        out[name] = {{"result": fn()}}
        out[name]["steps"] = [s for t, s in begun if start <= t <= time.monotonic()]

    def clients():
        while len(begun) < 20:  # past the first steps (tracing)
            time.sleep(0.05)
        try:
            timed("cli", lambda: subprocess.run(
                [sys.executable, "-m", "keras_tbx", "profile", "--addr", f"grpc://127.0.0.1:{{port}}",
                 "--logdir", os.path.join(run, "train"), "--duration-ms", "1000"],
                capture_output=True, text=True, timeout=60).stdout)
            timed("api", lambda: keras_tbx.profiler.capture(
                address, os.path.join(run, "api"), 1000, options={{"python_tracer_level": 1}}))
            board.wait_ready()
            timed("button", lambda: board.get_json(
                "/data/plugin/profile/capture_profile", timeout=60,
                service_addr=f"127.0.0.1:{{port}}", duration=1000))
        finally:
            stop.set()

    thread = threading.Thread(target=clients)
    thread.start()
    x, y = tiny_data(n=1600)
    model = tiny_model()
    model.fit(x, y, epochs=1000, batch_size=16, verbose=0,
              callbacks=[keras_tbx.TensorBoard(run), Log()])  # created after start_server
    thread.join()
    board.stop()
    print("RESULT" + json.dumps(out))
    """
)


def _namespace_unavailable() -> str | None:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "needs `unshare` and `ip` (util-linux, iproute2)"
    if os.geteuid() != 0:
        return "needs root for `unshare -n` (a network namespace with only loopback)"
    probe = subprocess.run(["unshare", "-n", "ip", "link", "set", "lo", "up"], capture_output=True)
    if probe.returncode != 0:
        return f"`unshare -n` is not permitted here: {probe.stderr.decode().strip()}"
    return None


@pytest.mark.server
@pytest.mark.skipif(_namespace_unavailable() is not None, reason=str(_namespace_unavailable()))
def test_on_demand_capture_from_cli_api_and_tensorboard_button(tb_server, tb_run_dir):
    script = WORKER.format(tests=TESTS, run=str(tb_run_dir), port=PORT)
    proc = subprocess.run(
        ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" -c "$1"', sys.executable, script],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(next(l for l in proc.stdout.splitlines() if l.startswith("RESULT"))[6:])

    assert out["busy"] == (f"keras_tbx.profiler.start_server: port {PORT + 1} is not free "
                           "(Address already in use); choose another one.")
    # The warning is loud and true: the server listens on the wildcard address.
    assert out["address"] == f"grpc://localhost:{PORT}"
    [warning] = out["warnings"]
    assert "listens on ALL network interfaces, without authentication" in warning
    assert out["listening"] and all(set(a) == {"0"} for a in out["listening"]), out["listening"]

    assert out["button"]["result"] == {"result": "Capture profile successfully. Please refresh."}
    [cli_folder] = [l.split(" to ", 1)[1] for l in out["cli"]["result"].splitlines()
                    if l.startswith("Profile written to ")]
    train = tb_server.run_name(tb_run_dir / "train")
    captures = {f"{train}/{os.path.basename(os.path.dirname(f))}"
                for f in profile_files(tb_run_dir / "train")}
    assert len(captures) == 2 and f"{train}/{os.path.basename(cli_folder)}" in captures
    listed = tb_server.profile_runs([tb_run_dir / "train"])
    assert captures <= set(listed)
    for capture in sorted(captures):
        client = "cli" if capture.endswith(os.path.basename(cli_folder)) else "button"
        tools = tb_server.profile_tools(capture, {"overview_page", "trace_viewer@"})
        assert {"overview_page", "trace_viewer@"} <= set(tools)
        events = tb_server.profile_data(capture, "trace_viewer")["traceEvents"]
        steps = sorted(int(e["args"]["step_num"]) for e in events
                       if e.get("ph") == "X" and e.get("name", "").startswith("train "))
        # One marker per step traced: consecutive optimizer steps, all begun while this
        # client was capturing.
        assert len(steps) >= 3, (client, steps)
        assert steps == list(range(steps[0], steps[0] + len(steps))), client
        assert set(steps) <= set(out[client]["steps"]), client

    # Options reach the profiled process through capture(): Python calls are traced.
    [api_folder] = out["api"]["result"]
    [api_file] = profile_files(tb_run_dir / "api")
    assert os.path.dirname(api_file) == api_folder
    assert any(name.startswith("$") for name in event_names(api_file))
    assert step_markers(api_file)
    cli_file = next(f for f in profile_files(tb_run_dir / "train") if f.startswith(cli_folder))
    assert not any(name.startswith("$") for name in event_names(cli_file))
