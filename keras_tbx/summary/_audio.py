"""Audio summaries (WAV clips for TensorBoard's Audio dashboard), with or without TF."""

from __future__ import annotations

import io
import numbers
import wave

import numpy as np
from tensorboard.compat.proto import summary_pb2, types_pb2
from tensorboard.plugins.audio import metadata as audio_metadata

from keras_tbx.summary._raw import write_summary_pb


def _fail(fn, message):
    raise ValueError(f"`{fn}`: {message}")


def _clips(data, sample_rate, max_outputs, encoding, fn) -> np.ndarray:
    """Validated `(k, t, c)` float64 clips (at most `max_outputs`)."""
    if encoding != "wav":
        _fail(fn, f'argument `encoding` must be "wav". Received: encoding={encoding!r}')
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Integral) or sample_rate <= 0:
        _fail(fn, f"argument `sample_rate` must be a positive integer (Hz). Received: sample_rate={sample_rate!r}")
    if isinstance(max_outputs, bool) or not isinstance(max_outputs, numbers.Integral) or max_outputs < 1:
        _fail(fn, f"argument `max_outputs` must be a positive integer. Received: max_outputs={max_outputs!r}")
    a = np.asarray(data)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[1] < 1 or a.shape[2] < 1:
        _fail(fn, "argument `data` must have shape (k, t) or (k, t, channels) with at least one frame. "
                  f"Received shape {a.shape}.")
    if a.dtype.kind != "f":
        _fail(fn, f"argument `data` must hold floats in [-1, 1]. Received dtype {a.dtype}.")
    a = a[:max_outputs].astype(np.float64)
    if not np.all(np.isfinite(a)):
        _fail(fn, "argument `data` must be finite (it holds NaN or Inf).")
    if a.size and np.abs(a).max() > 1.0:
        _fail(fn, f"argument `data` must hold floats in [-1, 1]. Received values up to {np.abs(a).max():.4g}.")
    return a


def encode_wav(clip, sample_rate: int) -> bytes:
    """One `(t, c)` float clip in [-1, 1] as 16-bit PCM WAV bytes (as `tf.audio.encode_wav`:
    each sample is `round(x * 32767)`)."""
    pcm = np.round(np.asarray(clip, dtype=np.float64) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(pcm.shape[1])
        out.setsampwidth(2)
        out.setframerate(int(sample_rate))
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def audio_pb(name, data, sample_rate, *, max_outputs=3, encoding="wav", labels=None, description=None):
    """An audio summary as `tf.summary.audio` writes it, built without TensorFlow.

    Args:
        name: Tag.
        data: `(k, t)` (mono) or `(k, t, c)` floats in [-1, 1]: k clips of t frames.
        sample_rate: Samples per second (a positive int).
        max_outputs: Most clips kept (the first ones).
        encoding: "wav" (16-bit PCM), the one encoding TensorBoard plays.
        labels: Optional markdown label per clip (shown under each clip).
        description: Optional markdown description.

    Returns:
        A `Summary` proto for TensorBoard's Audio dashboard.

    Raises:
        ValueError: On a bad shape, non-float or out-of-range data, a non-positive
            `sample_rate` or `max_outputs`, another encoding, or labels that do not
            match the clips.

    Example:
        >>> t = np.arange(8000) / 8000
        >>> pb = audio_pb("tone", np.sin(2 * np.pi * 440 * t)[None] * 0.5, 8000)
        >>> pb.value[0].tag
        'tone'
    """
    clips = _clips(data, sample_rate, max_outputs, encoding, "audio_pb")
    if labels is not None:
        labels = [str(label) for label in labels][: len(clips)]
        if len(labels) != len(clips):
            _fail("audio_pb", f"argument `labels` must have one entry per clip ({len(clips)}). "
                              f"Received {len(labels)}.")
    meta = audio_metadata.create_summary_metadata(
        display_name=None, description=description, encoding=audio_metadata.Encoding.Value("WAV"))
    summary = summary_pb2.Summary()
    value = summary.value.add(tag=name, metadata=meta)
    value.tensor.dtype = types_pb2.DT_STRING
    value.tensor.tensor_shape.dim.add(size=len(clips))
    value.tensor.tensor_shape.dim.add(size=2)
    for i, clip in enumerate(clips):
        value.tensor.string_val.extend([encode_wav(clip, sample_rate), (labels[i] if labels else "").encode()])
    return summary


def audio(name, data, sample_rate, step=None, *, max_outputs=3, encoding="wav", labels=None,
          description=None) -> bool:
    """Writes audio clips to the default writer (TensorBoard's Audio dashboard).

    Same as `tf.summary.audio`, plus `(k, t)` mono input, per-clip `labels`, and a clear
    error for out-of-range data (TensorFlow clips it silently).

    Args:
        name: Tag.
        data: `(k, t)` or `(k, t, c)` floats in [-1, 1] (e.g. a model's generated waveforms).
        sample_rate: Samples per second (a positive int).
        step: Step; defaults to `tf.summary.experimental.get_step()`.
        max_outputs, encoding, labels, description: As `audio_pb`.

    Returns:
        True if written, False if no default writer is set or recording is off.

    Raises:
        ValueError: As `audio_pb`.

    Example:
        >>> import tensorflow as tf
        >>> with tf.summary.create_file_writer("/tmp/logs").as_default():
        ...     audio("generated", np.zeros((2, 16000)), 16000, step=1)
        True
    """
    pb = audio_pb(name, data, sample_rate, max_outputs=max_outputs, encoding=encoding, labels=labels,
                  description=description)
    return write_summary_pb(pb, step)
