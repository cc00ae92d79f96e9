"""The backend's profiler behind one small interface: sessions, step markers, the server.

TensorFlow's profiler on the TensorFlow backend; `jax.profiler` on the JAX backend where
Keras supports it (Python >= 3.12). Nothing is imported until used.
"""

from __future__ import annotations

import logging
import sys

_log = logging.getLogger("keras_tbx")

# Keras 3 refuses JAX profiling below Python 3.12: jax.profiler crashed training runs there
# (keras-team/keras#20450). keras_tbx follows the same rule.
JAX_MIN_PYTHON = (3, 12)


class TFProfiler:
    """`tf.profiler.experimental`."""

    def start(self, logdir: str, options: dict) -> None:
        import tensorflow as tf

        from keras_tbx._core.validation import default_profiler_options

        # Options only when they differ from TF's defaults: TF 2.21 logs a warning per
        # option it is given (and ignores them, see `ignores_options`).
        given = options != default_profiler_options()
        tf.profiler.experimental.start(
            logdir, options=tf.profiler.experimental.ProfilerOptions(**options) if given else None
        )

    def stop(self) -> None:
        import tensorflow as tf

        tf.profiler.experimental.stop()

    def marker(self, step: int):
        """Opens a step marker. It records only while a session traces (ours or a remote
        capture); otherwise it is a cheap no-op."""
        import tensorflow as tf

        trace = tf.profiler.experimental.Trace("train", step_num=step, _r=1)
        trace.__enter__()
        return trace

    def warm_up(self) -> None:
        """Starts and drops a session, so one-time set-up (loading CUPTI on GPU) is not
        charged to the first profiled step."""
        import tensorflow as tf

        tf.profiler.experimental.start("")
        tf.profiler.experimental.stop(save=False)

    def ignores_options(self) -> bool:
        """Whether local sessions ignore `ProfilerOptions`, as TensorFlow 2.21's do (its
        bindings reject every value: "host_tracer_level expects an i value"). Probed by
        asking for no host tracing and checking whether host events still record."""
        import tensorflow as tf
        from tensorflow.python.profiler import trace

        tf.profiler.experimental.start(
            "", options=tf.profiler.experimental.ProfilerOptions(host_tracer_level=0)
        )
        try:
            return bool(trace.enabled())
        finally:
            tf.profiler.experimental.stop(save=False)

    def start_server(self, port: int):
        import tensorflow as tf

        tf.profiler.experimental.server.start(port)


class JaxProfiler:
    """`jax.profiler`. It has no device-tracer or delay option; those are not applied."""

    def start(self, logdir: str, options: dict) -> None:
        import jax

        jax_options = jax.profiler.ProfileOptions()
        jax_options.host_tracer_level = options["host_tracer_level"]
        jax_options.python_tracer_level = options["python_tracer_level"]
        jax.profiler.start_trace(logdir, profiler_options=jax_options)

    def stop(self) -> None:
        import jax

        jax.profiler.stop_trace()

    def marker(self, step: int):
        import jax

        annotation = jax.profiler.StepTraceAnnotation("train", step_num=step)
        annotation.__enter__()
        return annotation

    def warm_up(self) -> None:
        pass

    def ignores_options(self) -> bool:
        return False

    def start_server(self, port: int):
        import jax

        return jax.profiler.start_server(port)  # keep the handle: the server lives with it


def backend_profiler():
    """The profiler of Keras' backend: `(profiler, None)`, or `(None, why there is none)`."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        return TFProfiler(), None
    if backend == "jax":
        if sys.version_info >= JAX_MIN_PYTHON:
            return JaxProfiler(), None
        return None, (
            "profiling on the JAX backend needs Python >= 3.12, as in Keras (jax.profiler "
            "crashed training under older Pythons, keras-team/keras#20450); this is Python "
            f"{sys.version_info.major}.{sys.version_info.minor}. Use the TensorFlow backend "
            "to profile here"
        )
    return None, (
        f"the {backend} backend has no profiler that keras_tbx can drive; use the "
        "TensorFlow backend, or JAX on Python >= 3.12 (on torch, torch.profiler directly)"
    )


def safely(what: str, fn, *args):
    """`fn(*args)`, or None with the error logged: profiler failures never stop training."""
    try:
        return fn(*args)
    except Exception as e:  # noqa: BLE001
        _log.error("keras_tbx: %s failed: %s: %s", what, type(e).__name__, e)
        return None
