"""keras_tbx: Keras 3 TensorBoard callbacks and a tf.summary toolkit.

Example:
    ```python
    import keras_tbx
    model.fit(x, y, epochs=5, callbacks=[keras_tbx.TensorBoard("logs/run1")])
    ```
"""

import importlib

__version__ = "0.1.0"

__all__ = ["TensorBoard", "__version__", "distribute", "hparams", "profiler", "run_dir", "summary"]

# Keras (and with it TensorFlow, ~5 s) is imported on first use of a name that needs it,
# so `keras-tbx --help` and `import keras_tbx.summary` stay fast.
_LAZY = {
    "TensorBoard": "keras_tbx.callbacks",
    "distribute": "keras_tbx.distribute",
    "hparams": "keras_tbx.hparams",
    "profiler": "keras_tbx.profiler",
    "run_dir": "keras_tbx.runs",
    "summary": "keras_tbx.summary",
}


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        value = module if module.__name__ == f"{__name__}.{name}" else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
