"""Run writers: one lazily created `tf.summary` file writer per run folder.

Everything keras_tbx writes goes through `RunWriter.write_pb` (a `Summary` proto at a
step) or `RunWriter.add_scalars` (buffered, flushed in one compiled call). A failure to
write warns once per `WriterPool` and never raises into the training loop.

Nothing written is lost when training stops abnormally: see `keras_tbx._core.lifeline`
(pools with unflushed events are flushed once idle, and at interpreter exit).
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import threading
import time
import warnings

from keras_tbx._core import lifeline

from keras_tbx.summary._scalars import scalars_pb

_log = logging.getLogger("keras_tbx")

# Buffered scalar events are written when this many are pending or this many seconds have
# passed since the last write, and always at epoch end, at train end and on `flush()`.
MAX_PENDING = 256
MAX_PENDING_SECONDS = 5.0
# Up to this many pending events are written eagerly; more go through one compiled call.
_EAGER_LIMIT = 4


def _is_io_error(error) -> bool:
    """Whether `error` says the event file cannot be written (as opposed to a bad summary)."""
    if isinstance(error, OSError):
        return True
    import tensorflow as tf

    return isinstance(error, tf.errors.OpError) and not isinstance(
        error, (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError)
    )


class RunWriter:
    """Writes summaries into one run folder (`<log_dir>/train`, `<log_dir>/validation`, ...).

    The underlying file writer is created on first write (no empty event files) and is
    re-created after `close()` if more is written.
    """

    def __init__(self, path: str, report):
        self.path = path
        self._report = report
        self._writer = None
        self._write_many = None
        self._pending = []  # (step, serialized Summary)
        self._last_write = time.monotonic()
        self._lock = threading.RLock()
        self._dirty = False  # written since the last flush
        self._last_activity = time.monotonic()
        self._broken = False  # an I/O error since the last flush: writes are dropped
        self.scalar_tags = set()  # every scalar tag written, for the automatic layout

    def _file_writer(self):
        if self._broken:
            raise OSError("writing is suspended until the next flush after an I/O error")
        if self._writer is None:
            import tensorflow as tf

            self._writer = tf.summary.create_file_writer(self.path)
            self._write_many = None
        self._dirty, self._last_activity = True, time.monotonic()
        return self._writer

    def write_pb(self, summary, step: int) -> None:
        """Writes a `Summary` proto at `step` now (after any pending scalars)."""
        if summary is None or not summary.value:
            return
        self.scalar_tags.update(
            v.tag for v in summary.value if v.metadata.plugin_data.plugin_name == "scalars"
        )
        with self._lock:
            self._flush_pending()
            self._guard(self._write_raw, [(int(step), summary.SerializeToString())])

    def write_with(self, fn, step: int) -> None:
        """Calls `fn()` with this run's writer as default at `step` (for tf.summary ops)."""
        import tensorflow as tf

        def call():
            with self._file_writer().as_default(step=int(step)), tf.summary.record_if(True):
                fn()

        with self._lock:
            self._flush_pending()
            self._guard(call)

    def add_scalars(self, values, step: int) -> None:
        """Queues scalars for `step`; they reach the file in batches (see MAX_PENDING)."""
        if not values:
            return
        try:
            blob = scalars_pb(values).SerializeToString()
        except TypeError as e:
            self._report(self.path, e)
            return
        self.scalar_tags.update(values)
        with self._lock:
            self._pending.append((int(step), blob))
            self._dirty, self._last_activity = True, time.monotonic()
            if (
                len(self._pending) >= MAX_PENDING
                or time.monotonic() - self._last_write >= MAX_PENDING_SECONDS
            ):
                self._flush_pending()

    def _flush_pending(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, []
            self._guard(self._write_raw, pending)
        self._last_write = time.monotonic()

    def _write_raw(self, events) -> None:
        import tensorflow as tf

        writer = self._file_writer()
        if len(events) <= _EAGER_LIMIT:
            with writer.as_default(), tf.summary.record_if(True):
                for step, blob in events:
                    tf.summary.experimental.write_raw_pb(blob, step=step)
            return
        if self._write_many is None:
            self._write_many = _compiled_writer(writer)
        steps, blobs = zip(*events)
        self._write_many(tf.constant(steps, tf.int64), tf.constant(blobs, tf.string))

    def flush(self) -> None:
        """Writes pending scalars, flushes the file writer and checks the file is there.

        TensorFlow's writer swallows I/O errors (a removed or unwritable directory loses
        every later event silently), so the check is ours: a missing event file is
        reported and the writer is re-created on the next write.
        """
        with self._lock:
            self._flush_pending()
            if self._writer is not None:
                self._guard(self._flush_and_check)
            self._dirty = False
            # After an I/O error, the next write tries again in a new event file: at most
            # one new file per flush (epoch) while the fault lasts.
            self._broken = False

    def _flush_and_check(self) -> None:
        self._writer.flush()
        if "://" not in self.path and not glob.glob(
            os.path.join(glob.escape(self.path), "events.out.tfevents.*")
        ):
            # Start a fresh event file on the next write.
            self._writer, self._write_many = None, None
            raise OSError(f"the event file in {self.path!r} disappeared; events since the last flush are lost")

    def close(self) -> None:
        """Flushes and closes the file writer; a later write opens a new one."""
        with self._lock:
            self._flush_pending()
            if self._writer is not None:
                writer, self._writer, self._write_many = self._writer, None, None
                self._guard(writer.close)

    def _guard(self, fn, *args) -> None:
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 - logging must never stop training
            if self._broken:
                return  # already reported; nothing reaches the disk until the next flush
            if _is_io_error(e) and self._writer is not None:
                # TensorFlow's writer stays failed after an I/O error (a full disk): drop
                # it, so that writing resumes in a new event file once the fault clears.
                writer, self._writer, self._write_many = self._writer, None, None
                self._broken = True
                try:
                    writer.close()
                except Exception:  # noqa: BLE001, S110 - the file is already failing
                    pass
            self._report(self.path, e)


def _compiled_writer(writer):
    import tensorflow as tf

    @tf.function(
        input_signature=[tf.TensorSpec([None], tf.int64), tf.TensorSpec([None], tf.string)],
        autograph=False,
    )
    def write_many(steps, blobs):
        def body(i):
            tf.summary.experimental.write_raw_pb(blobs[i], step=steps[i])
            return (i + 1,)

        with writer.as_default(), tf.summary.record_if(True):
            tf.while_loop(lambda i: i < tf.shape(steps)[0], body, (tf.constant(0),))
        return tf.constant(True)

    return write_many


class NullRunWriter:
    """The writer non-chief processes get: accepts everything, writes nothing."""

    path = None
    scalar_tags = frozenset()
    _dirty = False
    _last_activity = 0.0

    def write_pb(self, summary, step):
        pass

    def write_with(self, fn, step):
        pass

    def add_scalars(self, values, step):
        pass

    def flush(self):
        pass

    def close(self):
        pass


class WriterPool:
    """The run writers under one `log_dir`, and the single place that decides who writes.

    Non-chief processes get `NullRunWriter`s: they create nothing in `log_dir`. The one
    thing they may keep there is their own profile, under `own_dir(run)`.

    Args:
        log_dir: Root log directory.
        is_chief: Callable returning whether this process writes. Asked once, on first use.
        owner: Name used in warnings (e.g. "keras_tbx.TensorBoard").
        worker_name: Callable returning this process's folder name under
            `<log_dir>/workers/` (`keras_tbx._core.chief.worker_name`); asked only on a
            non-chief process that calls `own_dir`.
    """

    def __init__(self, log_dir: str, is_chief, owner: str = "keras_tbx", worker_name=None):
        self.log_dir = log_dir
        self._is_chief = is_chief
        self._worker_name = worker_name
        self._chief = None
        self._owner = owner
        self._runs = {}
        self._warned = False
        self._lock = threading.RLock()
        self._drains = []
        self._touched = False  # a hook ran since the last idle flush
        self._last_activity = time.monotonic()
        lifeline.watch(self)

    @property
    def chief(self) -> bool:
        if self._chief is None:
            self._chief = bool(self._is_chief())
        return self._chief

    def run(self, name: str = ""):
        """The writer for run folder `name` ("" is `log_dir` itself)."""
        if name not in self._runs:
            if self.chief:
                self._runs[name] = RunWriter(os.path.join(self.log_dir, name), self._report)
            else:
                self._runs[name] = NullRunWriter()
        return self._runs[name]

    def own_dir(self, run: str = "") -> str:
        """Where this process keeps files of its own (profiles) for run folder `run`:
        `<log_dir>/<run>` on the chief, `<log_dir>/workers/<worker name>/<run>` elsewhere,
        so workers never write into the chief's runs. Nothing is created here."""
        if self.chief:
            return os.path.join(self.log_dir, run)
        from keras_tbx._core.chief import worker_name

        name = (self._worker_name or worker_name)()
        return os.path.join(self.log_dir, "workers", name, run)

    def add_drain(self, fn) -> None:
        """Registers `fn()`, called (under `busy()`'s lock) before an idle or exit flush,
        to hand over events its owner still buffers."""
        self._drains.append(fn)

    @contextlib.contextmanager
    def busy(self):
        """Wraps a callback hook: no idle flush runs meanwhile, and the pool is not idle
        until `lifeline.IDLE_FLUSH_SECONDS` after it."""
        with self._lock:
            try:
                yield
            finally:
                self._touched, self._last_activity = True, time.monotonic()

    def _flush_if_idle(self, now: float, at_exit: bool = False) -> None:
        if self._chief is not True:
            return  # undecided or not the chief: nothing of ours to flush, so stay out of TF
        runs = list(self._runs.values())
        if not (self._touched or any(w._dirty for w in runs)):
            return
        last = max([self._last_activity] + [w._last_activity for w in runs])
        if not at_exit and now - last < lifeline.IDLE_FLUSH_SECONDS:
            return
        # Never wait on a hook that is running; at exit, wait a little for the one running.
        if not self._lock.acquire(timeout=5 if at_exit else 0):
            return
        try:
            self._touched = False
            for drain in self._drains:
                try:
                    drain()
                except Exception as e:  # noqa: BLE001 - best effort
                    _log.debug("%s: draining buffered events failed: %s", self._owner, e)
            self.flush()
        finally:
            self._lock.release()

    def scalar_tags(self) -> set:
        """Every scalar tag written so far, in any run."""
        return set().union(*(writer.scalar_tags for writer in self._runs.values()))

    def flush(self) -> None:
        """Flushes every run writer. The caller has handed over its buffered events (parts
        write theirs at epoch end), so nothing is left for an idle or exit flush."""
        self._touched = False
        for writer in self._runs.values():
            writer.flush()

    def close(self) -> None:
        for writer in self._runs.values():
            writer.close()

    def _report(self, path, error) -> None:
        if not self._warned:
            self._warned = True
            warnings.warn(
                f"{self._owner} could not write summaries to {path!r}: "
                f"{type(error).__name__}: {error}. Training goes on; further logging "
                "errors from this callback are logged at DEBUG level only.",
                RuntimeWarning,
                stacklevel=2,
            )
        else:
            _log.debug("%s could not write to %s: %s", self._owner, path, error)
