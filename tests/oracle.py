"""Test oracle: a real TensorBoard server, queried over its HTTP API.

Nothing here is mocked: ``TensorBoardServer`` runs the installed
``tensorboard`` as a subprocess (``python -m tensorboard.main``) on
``127.0.0.1`` with an OS-chosen port, and tests ask it what it sees through
the same ``/data/...`` routes the TensorBoard frontend uses. Because the
server reloads the log dir asynchronously (``--reload_interval 1``), every
convenience getter *polls* until the expected data has appeared, and raises
``AssertionError`` (with the last answer / exception and the tail of the
server's log) on timeout.

Caveat the oracle pins (tensorboard 2.21, tensorboard-data-server 0.7): the
default fast loader serves only float32 tensor scalars and legacy
``simple_value`` scalars; float64/int tensor scalars are on disk (see
``events.read_scalar_dtypes``) but silently never served.

Run names are paths relative to the server's log dir with ``/`` separators
(``"test_x/train"``). Every method that takes ``run`` also accepts a path
under the log dir (absolute or ``pathlib.Path``), converted with
``run_name``.

Public API::

    poll(fn, *, timeout=60, interval=0.5, desc="") -> truthy value of fn()
    decode_png(data) -> np.ndarray
    class TensorBoardServer(logdir, *, log_path=None, reload_interval=1,
                            samples_per_plugin="images=100,text=100",
                            extra_args=(), start_timeout=90, env=None)
        .start() -> self          .stop(timeout=15)    (also a context manager)
        .launch() -> self         .wait_ready() -> self   (start() in two halves)
        .url .port .pid .logdir .log_path .startup_seconds
        .is_running() .log_tail(chars=4000) .run_name(run)
        .get_json(path, **params) .post_json(path, body) .get_bytes(path, **params)
        .poll(fn, *, timeout=60, interval=0.5, desc="")
        .runs() .wait_for_runs(expected_runs, timeout=60)
        .plugin_tags(plugin, run, expected=(), timeout=60) -> set[str]
        .scalar_tags(run, expected=(), timeout=60) -> set[str]
        .scalars(run, tag, min_points=1, timeout=60) -> [[wall, step, value], ...]
        .image_entries(run, tag, min_count=1, sample=0, timeout=60) -> [dict, ...]
        .images(run, tag, min_count=1, sample=0, timeout=60) -> [np.ndarray, ...]
        .histograms(run, tag, min_count=1, timeout=60) -> [[wall, step, [[l, r, c], ...]], ...]
        .text(run, tag, min_count=1, timeout=60) -> [dict, ...]
        .plugins_listing(enabled=(), timeout=60) -> dict
        .graph_info(run=None, timeout=60) -> dict
        .hparams_experiment(min_hparams=0, min_metrics=0, timeout=60) -> dict
        .profile_runs(expected=(), timeout=60) -> list[str]   ("<run>/<capture time>")
        .profile_tools(run, expected=(), timeout=60) -> list[str]
        .profile_data(run, tool, host=None, timeout=90) -> parsed JSON of one tool

Profile plugin answers come gzip-compressed whatever the request says; ``get_bytes``
decompresses them. Serving a profile writes cache files next to it in the log dir.
"""

from __future__ import annotations

import atexit
import gzip
import io
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar, Union

import numpy as np

T = TypeVar("T")
RunLike = Union[str, "os.PathLike[str]"]

HOST = "127.0.0.1"
_SERVING_RE = re.compile(r"TensorBoard \S+ at (http://[^\s/]+:(\d+)/?)")
_PR_SET_PDEATHSIG = 1

__all__ = ["TensorBoardServer", "poll", "decode_png"]


class _ServerDied(Exception):
    """Raised inside a poll to stop it at once: the server process exited."""


def _describe(value: Any, limit: int = 2000) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... [{len(text)} chars]"


def poll(
    fn: Callable[[], T],
    *,
    timeout: float = 60,
    interval: float = 0.5,
    desc: str = "",
    _context: Callable[[], str] | None = None,
) -> T:
    """Call ``fn()`` until it returns a truthy value and return that value.

    Exceptions raised by ``fn`` (including ``AssertionError``) count as "not
    yet" and are retried. On timeout raises ``AssertionError`` naming
    ``desc``, the last value and the last exception.
    """
    deadline = time.monotonic() + timeout
    last_value: Any = None
    last_exc: BaseException | None = None
    attempts = 0
    while True:
        attempts += 1
        try:
            last_value = fn()
            last_exc = None
            if last_value:
                return last_value
        except _ServerDied:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure means "retry"
            last_exc = exc
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    msg = [
        f"timed out after {timeout:g}s ({attempts} attempts) waiting for: {desc or fn!r}",
        f"last value: {_describe(last_value)}",
    ]
    if last_exc is not None:
        msg.append(f"last exception: {type(last_exc).__name__}: {last_exc}")
    if _context is not None:
        msg.append(_context())
    raise AssertionError("\n".join(msg)) from last_exc


def decode_png(data: bytes) -> np.ndarray:
    """Decode PNG (or any PIL-readable) bytes to a ``uint8`` ndarray."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return np.array(img, dtype=np.uint8)


def _set_pdeathsig() -> None:  # runs in the child between fork and exec
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except Exception:  # noqa: BLE001 - best effort only
        pass


class TensorBoardServer:
    """A real ``tensorboard`` subprocess serving ``logdir`` on 127.0.0.1.

    Args:
      logdir: the folder served as ``--logdir``.
      log_path: where the server's stderr+stdout go; default
        ``<logdir parent>/tensorboard_<logdir name>.log``.
      reload_interval: ``--reload_interval`` in seconds.
      samples_per_plugin: ``--samples_per_plugin`` value (``""`` to omit).
      extra_args: more command-line flags.
      start_timeout: seconds to wait for ``/data/environment`` to answer.
      env: extra environment variables for the server process.
    """

    def __init__(
        self,
        logdir: RunLike,
        *,
        log_path: RunLike | None = None,
        reload_interval: float = 1,
        samples_per_plugin: str = "images=100,text=100",
        extra_args: Sequence[str] = (),
        start_timeout: float = 90,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.logdir = pathlib.Path(logdir).resolve()
        if log_path is None:
            log_path = self.logdir.parent / f"tensorboard_{self.logdir.name}.log"
        self.log_path = pathlib.Path(log_path)
        self.reload_interval = reload_interval
        self.samples_per_plugin = samples_per_plugin
        self.extra_args = list(extra_args)
        self.start_timeout = start_timeout
        self.extra_env = dict(env or {})
        self.url: str | None = None
        self.port: int | None = None
        self.startup_seconds: float | None = None
        self._proc: subprocess.Popen | None = None
        self._t0 = 0.0
        self._log_file = None
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    # ------------------------------------------------------------ lifecycle

    def command(self) -> list[str]:
        """The command line used to start the server."""
        cmd = [
            sys.executable, "-m", "tensorboard.main",
            "--logdir", str(self.logdir),
            "--host", HOST,
            "--port", "0",
            "--reload_interval", f"{self.reload_interval:g}",
        ]
        if self.samples_per_plugin:
            cmd += ["--samples_per_plugin", self.samples_per_plugin]
        return cmd + self.extra_args

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> "TensorBoardServer":
        """Start the server and block until ``/data/environment`` answers."""
        return self.launch().wait_ready()

    def launch(self) -> "TensorBoardServer":
        """Spawn the server process without waiting for it (see ``wait_ready``)."""
        if self._proc is not None:
            raise RuntimeError("server already launched")
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        env["PYTHONUNBUFFERED"] = "1"
        env.update(self.extra_env)
        self._t0 = time.monotonic()
        self._log_file = open(self.log_path, "wb")
        self._proc = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=_set_pdeathsig if sys.platform.startswith("linux") else None,
        )
        atexit.register(self.stop)
        return self

    def wait_ready(self) -> "TensorBoardServer":
        """Block until the launched server answers ``GET /data/environment``
        (at most ``start_timeout`` s after ``launch``); stops it on failure.
        Sets ``url``, ``port`` and ``startup_seconds`` (launch to ready)."""
        if self._proc is None:
            self.launch()
        if self.startup_seconds is not None:
            return self
        try:
            self.url = self._poll_alive(
                self._discover_url,
                timeout=max(1.0, self.start_timeout - (time.monotonic() - self._t0)),
                interval=0.2,
                desc=f"TensorBoard (pid {self.pid}) to print its URL",
            )
            self.port = int(urllib.parse.urlsplit(self.url).port)
            self._poll_alive(
                lambda: self.get_json("/data/environment") is not None,
                timeout=max(1.0, self.start_timeout - (time.monotonic() - self._t0)),
                interval=0.2,
                desc=f"GET {self.url}data/environment",
            )
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - self._t0
        return self

    def _discover_url(self) -> str | None:
        match = _SERVING_RE.search(self.log_tail(chars=200_000))
        if match:
            return match.group(1).rstrip("/") + "/"
        try:  # fallback: the info file TensorBoard writes once it is serving
            from tensorboard import manager

            for info in manager.get_all():
                if info.pid == self.pid and info.port:
                    return f"http://{HOST}:{info.port}/"
        except Exception:  # noqa: BLE001
            pass
        return None

    def _info_file(self) -> str | None:
        if self.pid is None:
            return None
        tmp = self.extra_env.get("TMPDIR") or tempfile.gettempdir()
        return os.path.join(tmp, ".tensorboard-info", f"pid-{self.pid}.info")

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM the server (SIGKILL after ``timeout``); idempotent.

        TensorBoard removes its ``.tensorboard-info/pid-N.info`` file on
        SIGTERM; after a SIGKILL we remove it ourselves.
        """
        atexit.unregister(self.stop)
        proc = self._proc
        if proc is not None and proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout)
        info = self._info_file()
        if info and os.path.exists(info):
            try:
                os.unlink(info)
            except OSError:
                pass
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> "TensorBoardServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self, chars: int = 4000) -> str:
        """The last ``chars`` characters of the server's log file."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - chars))
                return f.read().decode("utf-8", "replace")
        except OSError as exc:
            return f"<cannot read {self.log_path}: {exc}>"

    def _context(self) -> str:
        state = "running" if self.is_running() else (
            f"EXITED rc={self._proc.returncode}" if self._proc else "not started"
        )
        return (
            f"server: pid={self.pid} url={self.url} {state}; log {self.log_path} tail:\n"
            + self.log_tail(3000)
        )

    def _poll_alive(self, fn: Callable[[], T], **kwargs: Any) -> T:
        """``poll`` that fails fast (with the log tail) if the server died."""

        def check() -> T:
            if self._proc is None:
                raise _ServerDied("server not started")
            if self._proc.poll() is not None:
                raise _ServerDied(self._context())
            return fn()

        try:
            return poll(check, _context=self._context, **kwargs)
        except _ServerDied as exc:
            raise AssertionError(
                f"TensorBoard server is not running; was waiting for: {kwargs.get('desc')}\n{exc}"
            ) from None

    # ----------------------------------------------------------------- HTTP

    def _url_for(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        if self.url is None:
            raise RuntimeError("server not started")
        url = self.url.rstrip("/") + "/" + path.lstrip("/")
        if params:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
        return url

    def _open(self, request: urllib.request.Request | str, timeout: float) -> bytes:
        with self._opener.open(request, timeout=timeout) as resp:
            body = resp.read()
            if resp.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            return body

    def get_bytes(self, path: str, *, timeout: float = 30, **params: Any) -> bytes:
        """GET ``path`` (e.g. ``"/data/runs"``) with query ``params``; raw body."""
        return self._open(self._url_for(path, params), timeout)

    def get_json(self, path: str, *, timeout: float = 30, **params: Any) -> Any:
        """GET ``path`` with query ``params`` and parse the JSON body."""
        return json.loads(self.get_bytes(path, timeout=timeout, **params))

    def post_json(self, path: str, body: Any, *, timeout: float = 30) -> Any:
        """POST ``body`` as JSON to ``path`` and parse the JSON answer."""
        request = urllib.request.Request(
            self._url_for(path),
            data=json.dumps(body).encode("utf-8"),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        return json.loads(self._open(request, timeout))

    # -------------------------------------------------------------- polling

    def poll(
        self,
        fn: Callable[[], T],
        *,
        timeout: float = 60,
        interval: float = 0.5,
        desc: str = "",
    ) -> T:
        """Module ``poll`` that also fails fast if the server died and adds
        the server's log tail to the timeout message."""
        return self._poll_alive(fn, timeout=timeout, interval=interval, desc=desc)

    def run_name(self, run: RunLike) -> str:
        """Run name for ``run``: a name as-is, or a path under the log dir
        made relative with ``/`` separators (the log dir itself is ``"."``)."""
        if isinstance(run, str) and not os.path.isabs(run):
            return run.replace(os.sep, "/")
        path = pathlib.Path(run)
        if not path.is_absolute():
            return path.as_posix()
        rel = path.resolve().relative_to(self.logdir)
        return rel.as_posix() or "."

    def runs(self) -> list[str]:
        """The current ``/data/runs`` list (no waiting)."""
        return self.get_json("/data/runs")

    def wait_for_runs(self, expected_runs: Iterable[RunLike], *, timeout: float = 60) -> list[str]:
        """Poll ``/data/runs`` until it includes all ``expected_runs``."""
        expected = {self.run_name(r) for r in expected_runs}

        def check():
            runs = self.runs()
            return (runs,) if expected <= set(runs) else None

        return self.poll(check, timeout=timeout, desc=f"runs {sorted(expected)} in /data/runs")[0]

    def plugin_tags(
        self, plugin: str, run: RunLike, expected: Iterable[str] = (), *, timeout: float = 60
    ) -> set[str]:
        """Tags of ``run`` from ``/data/plugin/<plugin>/tags`` (scalars,
        histograms, images, text, ...), polled until ``run`` is listed and
        includes all ``expected`` tags."""
        name = self.run_name(run)
        want = set(expected)

        def check():
            tags = self.get_json(f"/data/plugin/{plugin}/tags").get(name)
            if tags is None:
                return None
            tags = set(tags)
            return (tags,) if want <= tags else None

        return self.poll(
            check, timeout=timeout, desc=f"{plugin} tags {sorted(want)} for run {name!r}"
        )[0]

    def scalar_tags(self, run: RunLike, expected: Iterable[str] = (), *, timeout: float = 60) -> set[str]:
        """Scalar tags of ``run`` (polled until ``expected`` are all there)."""
        return self.plugin_tags("scalars", run, expected, timeout=timeout)

    def scalars(
        self, run: RunLike, tag: str, min_points: int = 1, *, timeout: float = 60
    ) -> list[list[float]]:
        """``[[wall_time, step, value], ...]`` from ``/data/plugin/scalars/scalars``,
        polled until at least ``min_points`` points are served."""
        name = self.run_name(run)

        def check():
            points = self.get_json("/data/plugin/scalars/scalars", run=name, tag=tag)
            return (points,) if len(points) >= min_points else None

        return self.poll(
            check, timeout=timeout, desc=f">= {min_points} scalar points {name!r}/{tag!r}"
        )[0]

    def image_entries(
        self, run: RunLike, tag: str, min_count: int = 1, *, sample: int = 0, timeout: float = 60
    ) -> list[dict]:
        """Raw ``/data/plugin/images/images`` entries (``wall_time``, ``step``,
        ``query``, ...) for one sample index, polled until ``min_count``."""
        name = self.run_name(run)

        def check():
            entries = self.get_json(
                "/data/plugin/images/images", run=name, tag=tag, sample=sample
            )
            return (entries,) if len(entries) >= min_count else None

        return self.poll(
            check, timeout=timeout, desc=f">= {min_count} images {name!r}/{tag!r} sample {sample}"
        )[0]

    def images(
        self, run: RunLike, tag: str, min_count: int = 1, *, sample: int = 0, timeout: float = 60
    ) -> list[np.ndarray]:
        """Decoded images (uint8 arrays, in step order) of ``run``/``tag``,
        fetched through ``/data/plugin/images/individualImage``."""
        entries = self.image_entries(run, tag, min_count, sample=sample, timeout=timeout)
        return [
            decode_png(self.get_bytes("/data/plugin/images/individualImage?" + e["query"]))
            for e in entries
        ]

    def histograms(
        self, run: RunLike, tag: str, min_count: int = 1, *, timeout: float = 60
    ) -> list[list]:
        """``[[wall_time, step, [[left, right, count], ...]], ...]`` from
        ``/data/plugin/histograms/histograms``, polled until ``min_count``."""
        name = self.run_name(run)

        def check():
            data = self.get_json("/data/plugin/histograms/histograms", run=name, tag=tag)
            return (data,) if len(data) >= min_count else None

        return self.poll(
            check, timeout=timeout, desc=f">= {min_count} histograms {name!r}/{tag!r}"
        )[0]

    def text(self, run: RunLike, tag: str, min_count: int = 1, *, timeout: float = 60) -> list[dict]:
        """``/data/plugin/text/text`` entries (``wall_time``, ``step``,
        ``text`` as rendered HTML, ...), polled until ``min_count``."""
        name = self.run_name(run)

        def check():
            data = self.get_json("/data/plugin/text/text", run=name, tag=tag)
            return (data,) if len(data) >= min_count else None

        return self.poll(check, timeout=timeout, desc=f">= {min_count} text {name!r}/{tag!r}")[0]

    def plugins_listing(self, enabled: Iterable[str] = (), *, timeout: float = 60) -> dict:
        """``/data/plugins_listing``, polled until every plugin in ``enabled``
        reports ``"enabled": true``."""
        want = list(enabled)

        def check():
            listing = self.get_json("/data/plugins_listing")
            ok = all(listing.get(p, {}).get("enabled") for p in want)
            return (listing,) if ok else None

        return self.poll(check, timeout=timeout, desc=f"plugins {want} enabled")[0]

    def graph_info(self, run: RunLike | None = None, *, timeout: float = 60) -> dict:
        """``/data/plugin/graphs/info``; with ``run``, polled until it is listed."""
        name = None if run is None else self.run_name(run)

        def check():
            info = self.get_json("/data/plugin/graphs/info")
            return (info,) if name is None or name in info else None

        return self.poll(check, timeout=timeout, desc=f"graphs info for run {name!r}")[0]

    def hparams_experiment(
        self, min_hparams: int = 0, min_metrics: int = 0, *, timeout: float = 60
    ) -> dict:
        """``POST /data/plugin/hparams/experiment`` (``{"experimentName": ""}``),
        polled until it lists ``min_hparams`` hparams and ``min_metrics`` metrics."""

        def check():
            exp = self.post_json("/data/plugin/hparams/experiment", {"experimentName": ""})
            ok = (
                len(exp.get("hparamInfos", [])) >= min_hparams
                and len(exp.get("metricInfos", [])) >= min_metrics
            )
            return (exp,) if ok else None

        return self.poll(
            check,
            timeout=timeout,
            desc=f"hparams experiment with >= {min_hparams} hparams, >= {min_metrics} metrics",
        )[0]

    # -------------------------------------------------------------- profile

    def profile_runs(self, expected: Iterable[str] = (), *, timeout: float = 60) -> list[str]:
        """``/data/plugin/profile/runs``: one entry per capture, ``"<run>/<capture time>"``;
        polled until an entry starts with each ``expected`` run name + ``/``."""
        want = {self.run_name(r) for r in expected}

        def check():
            runs = self.get_json("/data/plugin/profile/runs")
            ok = all(any(r.startswith(w + "/") for r in runs) for w in want)
            return (runs,) if ok else None

        return self.poll(check, timeout=timeout, desc=f"profile runs under {sorted(want)}")[0]

    def profile_tools(
        self, run: str, expected: Iterable[str] = (), *, timeout: float = 60
    ) -> list[str]:
        """``/data/plugin/profile/run_tools?run=R`` for a capture ``R`` (from
        ``profile_runs``), polled until it lists every ``expected`` tool."""
        want = set(expected)

        def check():
            tools = self.get_json("/data/plugin/profile/run_tools", run=run)
            return (tools,) if want <= set(tools) else None

        return self.poll(check, timeout=timeout, desc=f"profile tools {sorted(want)} of {run!r}")[0]

    def profile_data(self, run: str, tool: str, host: str | None = None, *, timeout: float = 90) -> Any:
        """``/data/plugin/profile/data?run=R&tag=TOOL&host=H`` parsed; the host is the
        capture's only one (``/hosts``) unless given. The first answer converts the
        capture (seconds): the request is retried until it succeeds."""

        def check():
            name = host
            if name is None:
                hosts = self.get_json("/data/plugin/profile/hosts", run=run, tag=tool)
                if len(hosts) != 1:
                    return None
                name = hosts[0]["hostname"]
            data = self.get_json("/data/plugin/profile/data", timeout=60, run=run, tag=tool, host=name)
            return (data,) if data else None

        return self.poll(check, timeout=timeout, desc=f"profile {tool!r} of {run!r}")[0]
