"""Nothing logged is lost when training stops abnormally.

Keras calls no callback when an exception or `KeyboardInterrupt` escapes `fit()`, so what a
callback logged since its last flush would wait in memory. A daemon thread flushes every
watched `WriterPool` that has unflushed events and has been idle (no callback hook
running, no write) for `IDLE_FLUSH_SECONDS`, after its owner hands over what it still
buffers (`WriterPool.add_drain`); the same happens at interpreter exit (`atexit`). A
SIGKILL loses at most what was logged since the last flush (every epoch end, or idleness).
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref

# A pool with unflushed events and no activity for this long is flushed in the background.
IDLE_FLUSH_SECONDS = 5.0

_live = weakref.WeakSet()
_live_lock = threading.Lock()
_flusher = None
_exiting = False


def watch(pool) -> None:
    """Flushes `pool` (a `WriterPool`) when idle and at exit, while it is alive."""
    global _flusher
    with _live_lock:
        _live.add(pool)
        if _flusher is None:
            # Registered after TensorFlow's import, so it runs before TensorFlow's own
            # exit handlers (atexit is last-in, first-out).
            atexit.register(_flush_all_at_exit)
            _flusher = threading.Thread(target=_flush_idle_forever, name="keras_tbx-flush", daemon=True)
            _flusher.start()


def _flush_idle_forever() -> None:
    while not _exiting:
        time.sleep(min(1.0, IDLE_FLUSH_SECONDS / 4))
        now = time.monotonic()
        with _live_lock:
            pools = list(_live)
        for pool in pools:
            if _exiting:
                return
            pool._flush_if_idle(now)


def _flush_all_at_exit() -> None:
    global _exiting
    _exiting = True
    with _live_lock:
        pools = list(_live)
    for pool in pools:
        pool._flush_if_idle(time.monotonic(), at_exit=True)
