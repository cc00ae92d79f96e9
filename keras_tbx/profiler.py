"""On-demand profiling of a running job: an opt-in profiler server and a capture client.

In the training process, start the server (opt-in: it listens on every network interface)
before creating the callback; `keras_tbx.TensorBoard` then marks every training step, so
a capture shows step times:

```python
keras_tbx.profiler.start_server(6009)
model.fit(x, y, epochs=50, callbacks=[keras_tbx.TensorBoard("logs/run1")])
```

From anywhere that reaches that port, capture a few seconds into the run folder:

```python
keras_tbx.profiler.capture("grpc://127.0.0.1:6009", "logs/run1/train", duration_ms=2000)
```

or `keras-tbx profile --addr grpc://127.0.0.1:6009 --logdir logs/run1/train --duration-ms 2000`,
or TensorBoard's Profile tab > "Capture profile" with `127.0.0.1:6009` (that writes into
TensorBoard's `--logdir`).
"""

from __future__ import annotations

import glob
import os
import re
import socket
import warnings

from keras_tbx._core.validation import _fail, check_int, check_profile_options

__all__ = ["capture", "server_port", "start_server"]

_server = None  # (port, handle) once started in this process

_ADDRESS = re.compile(r"^(?:grpc://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")


def start_server(port: int) -> str:
    """Starts the backend's profiler server in this process, so it can be captured on demand.

    Opt-in and never started by keras_tbx on its own: TensorFlow's profiler server listens
    on ALL network interfaces (it has no host argument) without authentication. Whoever
    reaches the port can trace this process and have it write profile files into any
    directory it can write to. Use it on a trusted network or behind a firewall, and reach
    it from elsewhere through an SSH tunnel. A warning says so every time.

    Start it before creating `keras_tbx.TensorBoard`: the callback then wraps every
    training step in a step marker (free while nobody captures).

    Args:
        port: TCP port, 1-65535.

    Returns:
        The address to capture from on this machine, `"grpc://localhost:<port>"`.

    Raises:
        ValueError, TypeError: On an invalid port.
        RuntimeError: When a server already runs on another port (one per process), the
            port is taken (TensorFlow would only log that), or the backend has no profiler
            keras_tbx can drive (torch; JAX below Python 3.12).

    Example:
        ```python
        keras_tbx.profiler.start_server(6009)
        model.fit(x, y, epochs=50, callbacks=[keras_tbx.TensorBoard("logs/run1")])
        # elsewhere: keras-tbx profile --addr grpc://HOST:6009 --logdir logs/run1/train
        ```
    """
    global _server
    port = check_int("port", port, minimum=1)
    if port > 65535:
        _fail("port", "an integer from 1 to 65535", port)
    address = f"grpc://localhost:{port}"
    if _server is not None:
        if _server[0] == port:
            return address
        raise RuntimeError(
            f"keras_tbx.profiler.start_server: a profiler server already runs on port "
            f"{_server[0]}; there is one per process."
        )
    from keras_tbx._core.profiling import backend_profiler

    profiler, why_not = backend_profiler()
    if profiler is None:
        raise RuntimeError(f"keras_tbx.profiler.start_server: {why_not}.")
    _check_port_free(port)
    warnings.warn(
        f"keras_tbx.profiler.start_server({port}): the profiler server listens on ALL network "
        "interfaces, without authentication. Anyone who can reach this port can trace this "
        "process and make it write files wherever it may write. Use it only on a trusted "
        "network or behind a firewall (reach it through an SSH tunnel).",
        RuntimeWarning,
        stacklevel=2,
    )
    _server = (port, profiler.start_server(port))
    return address


def _check_port_free(port: int) -> None:
    """Raises when `port` cannot be bound on all interfaces, as the server will try to."""
    for family, host in ((socket.AF_INET6, "::"), (socket.AF_INET, "0.0.0.0")):
        try:
            probe = socket.socket(family, socket.SOCK_STREAM)
        except OSError:
            continue  # no IPv6 on this machine
        with probe:
            try:
                probe.bind((host, port))
            except OSError as e:
                raise RuntimeError(
                    f"keras_tbx.profiler.start_server: port {port} is not free ({e.strerror}); "
                    "choose another one."
                ) from e
            return


def server_port() -> int | None:
    """The port of the profiler server started in this process, or None."""
    return None if _server is None else _server[0]


def capture(addr, logdir, duration_ms: int = 2000, *, options=None, num_tracing_attempts: int = 3):
    """Captures a profile from running profiler servers into `logdir/plugins/profile/<time>/`.

    Blocks for about `duration_ms`. The profiled processes write the files, so `logdir` must
    be a path they can write (relative paths are made absolute here, for a process on this
    machine). Give the run folder (`<log_dir>/train`) so the Profile tab lists the capture
    beside that run's scalars. The options are applied (TensorFlow 2.21's own client drops
    them; this one uses the client TensorBoard's "Capture profile" button uses).

    Args:
        addr: `grpc://host:port` (or `host:port`); several, comma-separated, for a
            multi-worker job.
        logdir: Folder to write the profile under.
        duration_ms: How long to trace, in milliseconds (>= 1).
        options: `tf.profiler.experimental.ProfilerOptions` or a dict of its fields
            (`host_tracer_level`, `python_tracer_level`, `device_tracer_level`,
            `delay_ms`); TensorFlow's defaults otherwise.
        num_tracing_attempts: Retries when a trace comes back empty.

    Returns:
        The new profile folders under `logdir` (empty when `logdir` is not visible here).

    Raises:
        ValueError, TypeError: On an invalid argument.
        RuntimeError: When no server answered or nothing was traced.

    Example:
        ```python
        keras_tbx.profiler.capture("grpc://10.0.0.2:6009", "logs/run1/train", 3000)
        ```
    """
    service = _check_addresses(addr)
    if not isinstance(logdir, (str, os.PathLike)) or not os.fspath(logdir):
        _fail("logdir", "a non-empty path (str or os.PathLike)", logdir, TypeError)
    logdir = os.fspath(logdir)
    if "://" not in logdir:
        logdir = os.path.abspath(logdir)
    duration_ms = check_int("duration_ms", duration_ms, minimum=1)
    attempts = check_int("num_tracing_attempts", num_tracing_attempts, minimum=1)
    options = check_profile_options("options", options)

    pattern = os.path.join(glob.escape(logdir), "plugins", "profile", "*")
    before = set(glob.glob(pattern))
    try:
        _trace(service, logdir, duration_ms, attempts, options)
    except Exception as e:  # noqa: BLE001 - one clear error for every failure
        raise RuntimeError(
            f"keras_tbx.profiler.capture: no profile from {addr}: {e}. Is a profiler server "
            "running there (keras_tbx.profiler.start_server) and reachable from here?"
        ) from e
    return sorted(set(glob.glob(pattern)) - before)


def _check_addresses(addr) -> str:
    """`addr` as the comma-separated `host:port` list the profiler client takes."""
    constraint = '"grpc://host:port" or "host:port", several separated by commas'
    if not isinstance(addr, str):
        _fail("addr", constraint, addr, TypeError)
    parts = [a.strip() for a in addr.split(",")]
    matches = [_ADDRESS.match(a) for a in parts]
    if not all(matches) or not all(0 < int(m.group(2)) < 65536 for m in matches):
        _fail("addr", constraint, addr)
    return ",".join(f"{m.group(1)}:{m.group(2)}" for m in matches)


def _trace(service: str, logdir: str, duration_ms: int, attempts: int, options: dict) -> None:
    """The xprof client (TensorBoard's Capture button; no TensorFlow import), else TF's."""
    try:
        from xprof.convert import _pywrap_profiler_plugin as client
    except ImportError:
        import tensorflow as tf

        tf.profiler.experimental.client.trace(
            service, logdir, duration_ms, num_tracing_attempts=attempts,
            options=tf.profiler.experimental.ProfilerOptions(**options),
        )
        return
    client.trace(service, logdir, "", True, duration_ms, attempts, options)
