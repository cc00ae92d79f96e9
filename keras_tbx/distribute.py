"""Opt-in fix for Keras 3 `model.fit` under a multi-worker `MultiWorkerMirroredStrategy`.

Keras 3.15's TensorFlow trainer crashes as soon as `fit` (or `evaluate`) runs with two or
more workers, before any callback is called. Two upstream bugs, both in
`keras/src/backend/tensorflow/trainer.py`:

1. `TensorFlowTrainer._maybe_symbolic_build` builds the model from the first batch after
   reducing it across workers with `strategy.reduce("MEAN", batch, axis=None)`, which
   fails on a multi-worker `PerReplica` batch (`ValueError: Attempt to convert a value
   (PerReplica...)`, keras-team/keras#20585). Only the batch's shapes and dtypes are used.
2. `reduce_per_replica(..., reduction="auto")` averages the step's logs across workers
   with `strategy.reduce("MEAN", v, axis=0)`; a loss or metric is a rank-0 value, and the
   reduction fails (`Invalid reduction dimension 0 for input with 0 dimensions`,
   tensorflow/tensorflow#72388). On values of rank >= 1 (a vector metric such as
   `F1Score(average=None)`) it does not fail but averages the components together.

`enable_multi_worker_fit()` replaces exactly these two, and only changes what they do in
multi-worker mode (the predicate is Keras' own, `_collective_all_reduce_multi_worker`):

1. `_maybe_symbolic_build` builds from `strategy.experimental_local_results(v)[0]` (this
   worker's first replica: shapes only, no collective), then calls Keras' own
   `_symbolic_build` as before.
2. `reduce_per_replica` with `"auto"`/`"mean"` reduces each value with
   `strategy.reduce("MEAN", v, axis=None)`: the element-wise mean across replicas, which is
   what the same function computes without workers (`tf.reduce_mean(local results,
   axis=0)`). `"first"`, `"sum"` and `"concat"` (used by `predict`) are unchanged.

Everywhere else (one process, `MirroredStrategy`, `TPUStrategy`, the default strategy) both
functions call Keras' originals. Nothing is patched on import: call it yourself, on every
worker, before `fit`. It is version-gated: it refuses Keras versions it was not tested with
(see `TESTED_KERAS`) unless `force=True`.

Example:
    ```python
    import keras_tbx.distribute

    keras_tbx.distribute.enable_multi_worker_fit()  # every worker, before fit
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        model = make_model()
    model.fit(dataset, epochs=3, callbacks=[keras_tbx.TensorBoard("logs/run1")])
    ```
"""

from __future__ import annotations

import contextlib

__all__ = [
    "TESTED_KERAS",
    "disable_multi_worker_fit",
    "enable_multi_worker_fit",
    "multi_worker_fit",
    "multi_worker_fit_enabled",
]

# Keras versions (major.minor) whose trainer the patch was written for and tested with.
TESTED_KERAS = ("3.15",)

_originals = {}  # name -> Keras' original, while the patch is in place


def _check_version(version: str, force: bool) -> None:
    """Raises unless `version` is a tested Keras release (or `force`)."""
    if force or ".".join(version.split(".")[:2]) in TESTED_KERAS:
        return
    raise RuntimeError(
        f"keras_tbx.distribute.enable_multi_worker_fit was tested with Keras "
        f"{', '.join(v + '.x' for v in TESTED_KERAS)} only, and this is Keras {version}. "
        "Its trainer may have fixed these bugs or changed the functions the fix replaces. "
        "Try multi-worker `fit` without it first; pass force=True to apply it anyway."
    )


def _trainer_module():
    import keras

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            "keras_tbx.distribute.enable_multi_worker_fit fixes Keras' TensorFlow trainer "
            f"(MultiWorkerMirroredStrategy); the backend is {keras.backend.backend()!r}."
        )
    from keras.src.backend.tensorflow import trainer

    return trainer


def _first_local(strategy, batch):
    """Each distributed value of `batch` replaced by its first local replica's value."""
    import tensorflow as tf
    from keras import tree

    return tree.map_structure(
        lambda v: strategy.experimental_local_results(v)[0]
        if isinstance(v, tf.distribute.DistributedValues) else v,
        batch,
    )


def _make_symbolic_build(trainer, original):
    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = self._distribute_strategy
        if (strategy is None or iterator is None
                or not trainer._collective_all_reduce_multi_worker(strategy)):
            return original(self, iterator=iterator, data_batch=data_batch)
        for _, _, it in iterator:
            data_batch = _first_local(strategy, next(it))
            break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    _maybe_symbolic_build.__doc__ = (
        "keras_tbx.distribute: builds from the first local replica's batch under "
        "multi-worker MultiWorkerMirroredStrategy; Keras' original otherwise.")
    return _maybe_symbolic_build


def _make_reduce(trainer, original):
    def reduce_per_replica(values, strategy, reduction):
        if (reduction not in ("auto", "mean")
                or not trainer._collective_all_reduce_multi_worker(strategy)):
            return original(values, strategy, reduction)
        from keras import tree

        return tree.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)

    reduce_per_replica.__doc__ = (
        "keras_tbx.distribute: element-wise mean across replicas (axis=None) under "
        "multi-worker MultiWorkerMirroredStrategy; Keras' original otherwise.")
    return reduce_per_replica


def enable_multi_worker_fit(*, force: bool = False) -> None:
    """Makes Keras 3 `model.fit` / `evaluate` work under multi-worker MultiWorkerMirroredStrategy.

    Replaces `TensorFlowTrainer._maybe_symbolic_build` and the trainer module's
    `reduce_per_replica` with versions that differ from Keras' only in multi-worker mode
    (see the module docstring for exactly what changes). Calling it again does nothing.
    Call it on every worker before `fit`; `disable_multi_worker_fit()` restores Keras'.

    Args:
        force: Apply the fix on a Keras version it was not tested with.

    Raises:
        RuntimeError: On an untested Keras version (without `force`), or a backend other
            than TensorFlow.

    Example:
        ```python
        keras_tbx.distribute.enable_multi_worker_fit()
        model.fit(dataset, epochs=3, callbacks=[keras_tbx.TensorBoard("logs/run1")])
        ```
    """
    import keras

    _check_version(keras.version(), force)
    trainer = _trainer_module()
    if _originals:
        return
    cls = trainer.TensorFlowTrainer
    _originals["_maybe_symbolic_build"] = cls.__dict__["_maybe_symbolic_build"]
    _originals["reduce_per_replica"] = trainer.reduce_per_replica
    cls._maybe_symbolic_build = _make_symbolic_build(trainer, _originals["_maybe_symbolic_build"])
    trainer.reduce_per_replica = _make_reduce(trainer, _originals["reduce_per_replica"])


def disable_multi_worker_fit() -> None:
    """Restores Keras' own functions (a no-op when the fix is not in place).

    Train functions already traced keep what they were traced with; a new `fit` on a new
    model uses Keras' functions again.
    """
    if not _originals:
        return
    from keras.src.backend.tensorflow import trainer

    trainer.TensorFlowTrainer._maybe_symbolic_build = _originals.pop("_maybe_symbolic_build")
    trainer.reduce_per_replica = _originals.pop("reduce_per_replica")


def multi_worker_fit_enabled() -> bool:
    """Whether `enable_multi_worker_fit()` is in effect."""
    return bool(_originals)


@contextlib.contextmanager
def multi_worker_fit(*, force: bool = False):
    """`enable_multi_worker_fit()` for the duration of a `with` block.

    Leaves the fix in place if it was already enabled before the block.

    Example:
        ```python
        with keras_tbx.distribute.multi_worker_fit():
            model.fit(dataset, epochs=3)
        ```
    """
    was_enabled = multi_worker_fit_enabled()
    enable_multi_worker_fit(force=force)
    try:
        yield
    finally:
        if not was_enabled:
            disable_multi_worker_fit()
