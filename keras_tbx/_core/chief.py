"""Who writes: the one decision every keras_tbx writer consults."""

from __future__ import annotations

import sys


def _strategy_is_chief(strategy) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return True  # one process: default, Mirrored, OneDevice strategies
    task_type = getattr(resolver, "task_type", None)
    task_id = getattr(resolver, "task_id", 0) or 0
    if task_type is None or task_type == "chief":
        return True  # single client (TPUStrategy) or the chief / coordinator
    if task_type == "worker":
        try:
            jobs = resolver.cluster_spec().as_dict()
        except Exception:  # noqa: BLE001 - no cluster spec: treat worker 0 as chief
            jobs = {}
        return "chief" not in jobs and int(task_id) == 0
    return False  # ps, evaluator


def is_chief(model=None) -> bool:
    """Whether this process is the one that writes summaries.

    TensorFlow: decided from `model.distribute_strategy` (inside callbacks
    `tf.distribute.get_strategy()` is the default strategy, so it cannot be used): one
    process writes; under a cluster the `chief` task writes, or worker 0 when there is no
    chief job. JAX: process 0. torch: rank 0 when `torch.distributed` is initialized.

    Args:
        model: The Keras model being trained, or None (then only the backend is consulted).

    Returns:
        True when this process writes.
    """
    try:
        strategy = getattr(model, "distribute_strategy", None) if model is not None else None
    except Exception:  # noqa: BLE001 - backends without strategies
        strategy = None
    if strategy is not None:
        return _strategy_is_chief(strategy)
    if "jax" in sys.modules:
        try:
            return sys.modules["jax"].process_index() == 0
        except Exception:  # noqa: BLE001
            return True
    if "torch" in sys.modules:
        dist = getattr(sys.modules["torch"], "distributed", None)
        if dist is not None and dist.is_available() and dist.is_initialized():
            return dist.get_rank() == 0
    return True
