"""Scalar summaries: many scalars in one write, and vector metrics split per component.

TensorFlow's `tf.summary.scalar` costs about a millisecond per call in eager mode on a
small CPU. `scalars()` builds one `Summary` proto for all values in pure Python and writes
it with a single `write_raw_pb` op, which is what makes per-batch logging cheap.
"""

from __future__ import annotations


import numbers
from collections.abc import Mapping, Sequence

import numpy as np
from tensorboard.compat.proto import summary_pb2, types_pb2

_SCALARS_PLUGIN = "scalars"


def _scalar_metadata(description: str | None) -> summary_pb2.SummaryMetadata:
    metadata = summary_pb2.SummaryMetadata()
    metadata.plugin_data.plugin_name = _SCALARS_PLUGIN
    if description:
        metadata.summary_description = description
    return metadata


def scalars_pb(values: Mapping[str, float], *, description: str | None = None):
    """Builds one `Summary` proto holding a scalar per tag, without writing it.

    The values are stored exactly as `tf.summary.scalar` stores them (rank-0 float32
    tensors under the `scalars` plugin), so TensorBoard cannot tell them apart.

    Args:
        values: Mapping of tag to a real number (Python or NumPy scalar).
        description: Optional markdown description attached to every tag.

    Returns:
        A `tensorboard.compat.proto.summary_pb2.Summary`.

    Raises:
        TypeError: If a value is not a real number.

    Example:
        >>> pb = scalars_pb({"batch_loss": 0.25})
        >>> pb.value[0].tag, pb.value[0].tensor.float_val[0]
        ('batch_loss', 0.25)
    """
    if not isinstance(values, Mapping):
        raise TypeError(f"Argument `values` must be a dict {{tag: number}}. Received: values={values!r}")
    summary = summary_pb2.Summary()
    metadata = _scalar_metadata(description)
    for tag, value in values.items():
        _check_tag(tag)
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value.item()
        if not isinstance(value, (numbers.Real, np.number)) or isinstance(value, bool):
            raise TypeError(
                "Argument `values` must map tags to real numbers. "
                f"Received: values[{tag!r}]={value!r} of type {type(value).__name__}"
            )
        entry = summary.value.add(tag=str(tag))
        entry.metadata.CopyFrom(metadata)
        entry.tensor.dtype = types_pb2.DT_FLOAT
        entry.tensor.float_val.append(float(value))
    return summary


def _check_tag(tag) -> None:
    """Tags are non-empty str that UTF-8 can encode (the event file stores them so)."""
    if not isinstance(tag, str):
        raise TypeError(f"Argument `values` must have str tags. Received: a tag {tag!r} of type "
                        f"{type(tag).__name__}")
    try:
        tag.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"Argument `values` must have tags that are valid Unicode (UTF-8 "
                         f"encodable). Received: a tag {tag!r}") from None
    if not tag:
        raise ValueError("Argument `values` must have non-empty tags. Received: a tag ''")


def scalars(values: Mapping[str, float], step=None, *, description: str | None = None) -> bool:
    """Writes several scalars at one step with a single op on the default writer.

    Args:
        values: Mapping of tag to a real number.
        step: Explicit int64-castable step; defaults to `tf.summary.experimental.get_step()`.
        description: Optional markdown description attached to every tag.

    Returns:
        True if written, False if no default writer is set or recording is off.

    Example:
        >>> import tensorflow as tf
        >>> with tf.summary.create_file_writer("/tmp/logs").as_default():
        ...     scalars({"loss": 0.3, "accuracy": 0.9}, step=1)
        True
    """
    import tensorflow as tf

    if not values:
        return False
    pb = scalars_pb(values, description=description)
    return bool(tf.summary.experimental.write_raw_pb(pb.SerializeToString(), step=step))


def _safe_component(name) -> str:
    return "_".join(str(name).replace("/", "_").split()) or "_"


def split_metric(name: str, value, component_names: Sequence[str] | None = None):
    """Turns one metric value into `(tag, float)` pairs, one per component.

    A scalar stays one pair `(name, value)`. A vector (for example
    `keras.metrics.F1Score(average=None)`) becomes `name/<component>` per entry, with the
    component named from `component_names` when its length matches, else by index. Arrays
    of higher rank are flattened with `i_j` indices. Values that are not numeric yield
    nothing.

    Args:
        name: The metric's tag.
        value: A Python or NumPy number, or an array-like of numbers.
        component_names: Optional names of the vector's entries (e.g. class names).

    Returns:
        A list of `(tag, float)` pairs.

    Example:
        >>> split_metric("epoch_f1", [0.5, 1.0], ["cat", "dog"])
        [('epoch_f1/cat', 0.5), ('epoch_f1/dog', 1.0)]
    """
    if isinstance(value, (numbers.Real, np.number)) and not isinstance(value, bool):
        return [(name, float(value))]
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return []
    if array.ndim == 0:
        return [(name, float(array))]
    if array.ndim == 1 and component_names is not None and len(component_names) == len(array):
        labels = [_safe_component(c) for c in component_names]
    else:
        labels = ["_".join(str(i) for i in index) for index in np.ndindex(array.shape)]
    return [(f"{name}/{label}", float(v)) for label, v in zip(labels, array.reshape(-1))]


