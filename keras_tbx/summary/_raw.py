"""Writing a prebuilt `Summary` proto to the default `tf.summary` writer."""

from __future__ import annotations


def write_summary_pb(pb, step=None) -> bool:
    """Writes `pb` (a `Summary` proto) with one `write_raw_pb` op.

    Returns:
        True if written, False if no default writer is set or recording is off.
    """
    import tensorflow as tf

    return bool(tf.summary.experimental.write_raw_pb(pb.SerializeToString(), step=step))
