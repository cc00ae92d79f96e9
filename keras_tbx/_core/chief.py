"""Who writes: the one decision every keras_tbx writer consults.

A distributed job runs the same training code in several processes; summaries must come
from one of them (the *chief*), or every point is written once per process. Everything
else (the forward and backward passes, reading metric variables summed across workers)
still runs everywhere: only writing is decided here.

Where the answer comes from, first match wins:

1. A TensorFlow strategy: the `strategy` given, else `model.distribute_strategy` (inside
   a Keras callback `tf.distribute.get_strategy()` is the default strategy, so the model's
   is the one to ask), else the strategy whose scope is active.
   - one process (default strategy, `MirroredStrategy`, `OneDeviceStrategy`, a
     `MultiWorkerMirroredStrategy` without a cluster): chief;
   - `TPUStrategy`: one client drives every TPU host: chief;
   - a cluster (`MultiWorkerMirroredStrategy`, `ParameterServerStrategy`): the task of
     type `"chief"` (the coordinator of a parameter-server job), or worker 0 when the
     cluster has no chief job, or an `"evaluator"` (a side-car job of its own, as in
     TensorFlow's `multi_worker_util.is_chief`); not other workers or `"ps"` tasks.
2. No strategy: `TF_CONFIG` when it names a cluster and this process's task (same rule).
3. JAX with several processes (Keras' JAX backend, or `jax.distributed.initialize()`
   called): `jax.process_index() == 0`.
4. `torch.distributed` initialized: rank 0.
5. Otherwise one process: chief.
"""

from __future__ import annotations

import json
import os
import sys

__all__ = ["is_chief", "task", "worker_name"]


def is_chief_task(task_type, task_id, jobs) -> bool:
    """Whether task `task_type:task_id` of a cluster whose jobs are `jobs` writes.

    Args:
        task_type: `"chief"`, `"worker"`, `"evaluator"`, `"ps"`, ...
        task_id: The task's index in its job.
        jobs: The cluster's job names (a dict or `ClusterSpec.as_dict()`; only the keys
            matter).
    """
    if task_type in ("chief", "evaluator"):
        return True
    return task_type == "worker" and int(task_id or 0) == 0 and "chief" not in jobs


def _from_resolver(resolver):
    """`(task_type, task_id, jobs)` of a cluster resolver, or None outside a cluster."""
    task_type = getattr(resolver, "task_type", None)
    if resolver is None or task_type is None:
        return None
    try:
        jobs = resolver.cluster_spec().as_dict()
    except Exception:  # noqa: BLE001 - a resolver that cannot list its cluster
        jobs = {}
    return task_type, int(getattr(resolver, "task_id", 0) or 0), jobs


def _from_strategy(strategy):
    import tensorflow as tf

    tpu = (tf.distribute.TPUStrategy, tf.distribute.experimental.TPUStrategy)
    if isinstance(strategy, tpu):
        return None  # a single client drives all TPU hosts
    return _from_resolver(getattr(strategy, "cluster_resolver", None))


def _from_tf_config():
    try:
        config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    except ValueError:
        return None
    cluster, this = config.get("cluster") or {}, config.get("task") or {}
    if not cluster or this.get("type") is None:
        return None
    return this["type"], int(this.get("index", 0) or 0), cluster


def _current_strategy():
    if "tensorflow" not in sys.modules:
        return None
    tf = sys.modules["tensorflow"]
    return tf.distribute.get_strategy() if tf.distribute.has_strategy() else None


def _backend():
    keras = sys.modules.get("keras")
    try:
        return keras.backend.backend() if keras is not None else None
    except Exception:  # noqa: BLE001 - a partially imported keras
        return None


def _jax_distributed(jax) -> bool:
    """Whether `jax.distributed.initialize()` ran (asked without starting JAX's backends,
    which would take accelerator memory in a TensorFlow process that merely imports JAX)."""
    try:
        return bool(jax.distributed.is_initialized())
    except Exception:  # noqa: BLE001 - older JAX without is_initialized
        return False


def _role(model=None, strategy=None):
    """`(task_type, task_id, jobs)` of this process in a distributed job, None for one process."""
    if strategy is None and model is not None:
        try:
            strategy = getattr(model, "distribute_strategy", None)
        except Exception:  # noqa: BLE001 - backends without strategies
            strategy = None
    if strategy is None and model is None:
        strategy = _current_strategy()
    if strategy is not None:
        return _from_strategy(strategy)
    if model is None:
        role = _from_tf_config()
        if role is not None:
            return role
    jax = sys.modules.get("jax")
    if jax is not None and (_backend() == "jax" or _jax_distributed(jax)):
        if jax.process_count() > 1:
            return "process", jax.process_index(), {"process": range(jax.process_count())}
    torch = sys.modules.get("torch")
    dist = getattr(torch, "distributed", None)
    if dist is not None and dist.is_available() and dist.is_initialized():
        if dist.get_world_size() > 1:
            return "rank", dist.get_rank(), {"rank": range(dist.get_world_size())}
    return None


def task(model=None, *, strategy=None):
    """This process's task in a distributed job: `(task_type, task_id)`, or None for one
    process. JAX processes are `("process", jax.process_index())`, torch ranks
    `("rank", rank)`.

    Args:
        model: The Keras model being trained (its `distribute_strategy` decides), or None.
        strategy: A `tf.distribute.Strategy` to decide from instead.
    """
    role = _role(model, strategy)
    return None if role is None else role[:2]


def is_chief(model=None, *, strategy=None) -> bool:
    """Whether this process is the one that writes summaries (see the module docstring).

    Args:
        model: The Keras model being trained, or None.
        strategy: A `tf.distribute.Strategy` to decide from instead of the model's.

    Returns:
        True when this process writes.
    """
    role = _role(model, strategy)
    if role is None:
        return True
    task_type, task_id, _ = role
    if task_type in ("process", "rank"):
        return task_id == 0
    return is_chief_task(*role)


def worker_name(model=None, *, strategy=None) -> str:
    """A folder name for this process's own files: `"<task_type>_<task_id>"`
    (`"worker_1"`, `"chief_0"`, `"process_1"` under JAX, `"rank_1"` under torch), or
    `"process_<pid>"` outside a distributed job."""
    this = task(model, strategy=strategy)
    return f"process_{os.getpid()}" if this is None else f"{this[0]}_{this[1]}"
