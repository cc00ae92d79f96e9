"""Text for TensorBoard's Text tab: the model summary, the compile config and
hyperparameters, run metadata (markdown), and tf.summary-style text writers."""

from __future__ import annotations

import datetime
import platform
import sys


def _cell(value) -> str:
    """A markdown table cell: floats to 6 significant digits, pipes escaped, newlines flattened."""
    if isinstance(value, float):
        value = f"{value:.6g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(rows, header=("name", "value")) -> str:
    """A markdown table of `(name, value)` rows under `header`."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def model_summary_markdown(model) -> str:
    """What `model.summary()` prints, as a markdown code block.

    The text is captured through `model.summary(print_fn=...)`, so it is exactly what
    Keras prints (its box-drawing table) and keeps its alignment in the Text tab.
    """
    lines = []
    model.summary(print_fn=lambda text, **kwargs: lines.append(text))
    text = "\n".join(lines).rstrip("\n")
    return f"```\n{text}\n```"


def _describe(obj):
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [_describe(o) for o in obj]
    if isinstance(obj, dict):
        return {k: _describe(o) for k, o in obj.items()}
    name = getattr(obj, "name", None) or getattr(obj, "__name__", None) or type(obj).__name__
    return f"{type(obj).__name__}({name!r})" if callable(obj) and not isinstance(obj, type) else str(name)


def compile_config(model) -> dict:
    """The compile settings of a model as a flat `{name: value}` dict: the optimizer's
    class and each field of its config (`optimizer.learning_rate`, ...), the loss, loss
    weights, metrics, `steps_per_execution`, `jit_compile`, `run_eagerly`."""
    config = {}
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        config["optimizer"] = type(optimizer).__name__
        try:
            opt_config = optimizer.get_config()
        except Exception:  # noqa: BLE001 - a custom optimizer without a config
            opt_config = {}
        for key, value in opt_config.items():
            if key == "name" or value is None:
                continue
            if isinstance(value, dict) and "class_name" in value:  # a schedule
                value = f"{value['class_name']}({value.get('config', {})})"
            config[f"optimizer.{key}"] = value
    config["loss"] = _describe(getattr(model, "loss", None))
    if getattr(model, "loss_weights", None) is not None:
        config["loss_weights"] = model.loss_weights
    compiled = getattr(model, "_compile_config", None)
    metrics = compiled.config.get("metrics") if compiled is not None else None
    config["metrics"] = _describe(metrics)
    for key in ("steps_per_execution", "jit_compile", "run_eagerly"):
        if hasattr(model, key):
            config[key] = getattr(model, key)
    return config


def config_markdown(config: dict, hparams: dict | None = None) -> str:
    """The compile config (and hyperparameters) as markdown tables.

    Args:
        config: `{name: value}`, e.g. from `compile_config(model)`; rows in its order.
        hparams: Optional `{name or HParam: value}` hyperparameters, a second table.
    """
    parts = ["**Compile config**", "", markdown_table(config.items())]
    if hparams:
        parts += ["", "**Hyperparameters**", "",
                  markdown_table((getattr(k, "name", k), v) for k, v in hparams.items())]
    return "\n".join(parts)


def _versions() -> list:
    import importlib.metadata as md

    rows = []
    for dist in ("keras-tbx", "keras", "tensorflow", "tensorboard", "jax", "torch"):
        try:
            rows.append((dist, md.version(dist)))
        except md.PackageNotFoundError:
            continue
    return rows


def _devices() -> str:
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            return ", ".join(str(d) for d in jax.devices())
        if backend == "torch":
            import torch

            return f"cpu, {torch.cuda.device_count()} CUDA device(s)"
        import tensorflow as tf

        return ", ".join(f"{d.name} ({d.device_type})" for d in tf.config.list_logical_devices())
    except Exception as e:  # noqa: BLE001 - metadata must never fail a run
        return f"unknown ({type(e).__name__})"


def run_metadata_markdown(start_time: datetime.datetime | None = None) -> str:
    """Where and how this run started, as a markdown table: keras_tbx, Keras,
    TensorFlow, TensorBoard (and JAX / torch when installed) versions, the Keras backend,
    the devices, Python, the platform, the command line (`sys.argv`) and the start time.
    """
    import keras

    start = start_time or datetime.datetime.now().astimezone()
    rows = [(f"version of {dist}", version) for dist, version in _versions()]
    rows += [
        ("backend", keras.backend.backend()),
        ("devices", _devices()),
        ("python", sys.version.split()[0]),
        ("platform", platform.platform()),
        ("command line", " ".join(sys.argv)),
        ("start time", start.isoformat(timespec="seconds")),
    ]
    return markdown_table(rows)


def text_pb(name: str, data: str, *, description=None):
    """A text `Summary` proto (markdown), without writing it."""
    from tensorboard.plugins.text.summary_v2 import text_pb as _text_pb

    return _text_pb(name, data, description=description)


def text(name: str, data: str, step=None, *, description=None) -> bool:
    """Writes markdown text to the default writer (`tf.summary.text`).

    Returns:
        True if written, False when no default writer is set.
    """
    import tensorflow as tf

    return bool(tf.summary.text(name, data, step=step, description=description))
