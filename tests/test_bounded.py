"""Long runs stay bounded: bytes written per epoch by each feature, and per logged step by
per-batch logging, measured on a small real model and checked against the bounds the
README documents ("Guarantees"). `python tests/test_bounded.py` prints the table.
"""

from __future__ import annotations

import os
import sys

import keras
import numpy as np
import pytest
from models import tiny_data, tiny_model

import keras_tbx

# README bounds (bytes). The model: 6 inputs, Dense(8) + Dense(3), 96 samples, 6 steps an
# epoch, validation_split=0.25 where the feature needs validation data.
PER_EPOCH_BOUND = {
    "epoch scalars": 600,  # measured 260
    "histograms": 6_000,  # 4 weights: 3,198
    "weight images": 2_000,  # 735
    "classification": 160_000,  # 3 classes, train + validation: 119,001
    "batch scalars": 1_000,  # evaluation_*_vs_iterations, at the optimizer step
    "hparams": 0,  # session and config at step 0 only
    "layout": 0,
    "text": 0,
    "graph": 0,
}
PER_STEP_BOUND = 200  # update_freq=1, loss + accuracy + learning rate: measured 154


def _feature(plugin: str, tag: str) -> str:
    if plugin == "scalars":
        if tag.startswith("per_class/"):
            return "classification"
        return "batch scalars" if tag.startswith(("batch_", "evaluation_")) else "epoch scalars"
    if plugin == "images":
        if tag.startswith(("confusion_matrix", "predictions")):
            return "classification"
        return "weight images" if tag.endswith("/image") else "images"
    return {"histograms": "histograms", "pr_curves": "classification", "hparams": "hparams",
            "custom_scalars": "layout", "graph_keras_model": "graph"}.get(plugin, plugin)


def bytes_by_feature(log_dir) -> dict:
    """`{feature: {step: bytes}}` over every event file under `log_dir`: each record's
    bytes on disk (12-byte header, 4-byte footer, the `Event`) shared among its values."""
    from events import _iter_events, event_files
    from tensorboard import data_compat

    out = {}
    for folder, _, _ in os.walk(log_dir):
        for path in event_files(folder):
            for event in _iter_events(path):
                if event.WhichOneof("what") != "summary" or not event.summary.value:
                    continue
                values = list(event.summary.value)
                overhead = (event.ByteSize() + 16 - sum(v.ByteSize() for v in values)) / len(values)
                for value in values:
                    if value.WhichOneof("value") != "tensor":
                        value = data_compat.migrate_value(value)
                    name = _feature(value.metadata.plugin_data.plugin_name, value.tag)
                    steps = out.setdefault(name, {})
                    steps[event.step] = steps.get(event.step, 0) + value.ByteSize() + overhead
    return out


ALL_FEATURES = {"histogram_freq": 1, "write_images": True, "class_names": 3,
                "hparams": {"units": 8, "optimizer": "sgd"}}


def measure(root, epochs=3) -> dict:
    """`{feature: (bytes at epoch 0, bytes per later epoch)}`, every feature at its
    default frequency in one fit (one-off records, graph, layout and hparams, are
    written at step 0)."""
    x, y = tiny_data()
    tb = keras_tbx.TensorBoard(root, **ALL_FEATURES)
    tiny_model().fit(x, y, epochs=epochs, batch_size=16, verbose=0, validation_split=0.25, callbacks=[tb])
    tb.close()
    return {name: (steps.get(0, 0), steps.get(epochs - 1, 0))
            for name, steps in bytes_by_feature(root).items()}


def measure_batch_logging(root, steps=2000) -> tuple[int, float]:
    """`(steps, bytes per logged step)` of `update_freq=1` over `steps` optimizer steps."""
    x, y = tiny_data(n=steps)
    tb = keras_tbx.TensorBoard(root, update_freq=1, write_graph=False, auto_layout=False)
    tiny_model().fit(x, y, epochs=1, batch_size=1, verbose=0, callbacks=[tb])
    tb.close()
    per_step = bytes_by_feature(root)["batch scalars"]
    assert sorted(per_step) == list(range(1, steps + 1))
    return steps, sum(per_step.values()) / steps


def test_bytes_per_epoch_of_each_feature_are_bounded(tmp_path):
    sizes = measure(str(tmp_path))
    assert set(sizes) <= set(PER_EPOCH_BOUND), sizes
    for name, (first, per_epoch) in sizes.items():
        assert per_epoch <= PER_EPOCH_BOUND[name], (name, sizes)
    # One-off records (graph, layout, hparams) are written once, not every epoch.
    for name in ("graph", "layout"):
        assert sizes[name][0] > 0 and sizes[name][1] == 0, (name, sizes)


def test_per_batch_logging_is_linear_and_bounded(tmp_path):
    steps, per_step = measure_batch_logging(str(tmp_path))
    assert 0 < per_step <= PER_STEP_BOUND
    # So 100k steps at update_freq=1 stay under 100_000 * PER_STEP_BOUND bytes.
    assert 100_000 * per_step <= 100_000 * PER_STEP_BOUND


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as root:
        for name, (first, per) in measure(os.path.join(root, "features")).items():
            print(f"| {name} | {first:,.0f} | {per:,.0f} |")
        steps, per_step = measure_batch_logging(os.path.join(root, "batch"))
        print(f"batch logging: {per_step:.1f} bytes/step over {steps} steps "
              f"-> {per_step * 100_000 / 1e6:.1f} MB per 100k steps")
    sys.exit(0)
