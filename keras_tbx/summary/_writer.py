"""A file writer for custom training loops that writes from the chief process only."""

from __future__ import annotations


def create_file_writer(log_dir, strategy=None, **kwargs):
    """`tf.summary.create_file_writer(log_dir)` on the chief, a no-op writer elsewhere.

    In a distributed job every process runs the same loop; with this writer the loop's
    `tf.summary` calls need no rank checks: on the chief they write, on the other
    processes they do nothing (`tf.summary.create_noop_writer()`: nothing is created in
    `log_dir`, and summary functions return False). Who the chief is comes from
    `keras_tbx`'s one rule (task `"chief"`, or worker 0 of a cluster without one; JAX
    process 0; torch rank 0), see `keras_tbx._core.chief`. Everything else in the loop,
    the steps and any reduction through `strategy`, must still run on every process.

    Args:
        log_dir: Run folder for the event file.
        strategy: The `tf.distribute.Strategy` the loop runs under. None: the strategy
            whose scope is active, else `TF_CONFIG`, else the JAX / torch process rank,
            else one process (chief). Pass it when the writer is created outside
            `strategy.scope()`, or in a Keras callback (`self.model.distribute_strategy`).
        **kwargs: Passed to `tf.summary.create_file_writer` (`max_queue`,
            `flush_millis`, `filename_suffix`, ...).

    Returns:
        A `tf.summary.SummaryWriter`.

    Example:
        ```python
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        writer = keras_tbx.summary.create_file_writer("logs/run1/train", strategy)
        with writer.as_default():
            for step, batch in enumerate(dataset):
                loss = train_step(batch)  # every worker
                tf.summary.scalar("loss", loss, step=step)  # written by the chief only
        ```
    """
    import tensorflow as tf

    from keras_tbx._core.chief import is_chief
    from keras_tbx._core.validation import check_log_dir

    log_dir = check_log_dir(log_dir)
    if is_chief(strategy=strategy):
        return tf.summary.create_file_writer(log_dir, **kwargs)
    return tf.summary.create_noop_writer()
