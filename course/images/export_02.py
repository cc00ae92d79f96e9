"""Draws the pictures of lesson 02 from the scalars its worked code logged.

    python course/images/export_02.py [logs/scalars]

Reads the newest `epoch-*`, `batch10-*` and `lr-decay-*` runs and writes, next to this script,
`02_train_validation.png` (`epoch_loss` and `epoch_accuracy`, train against validation) and
`02_batch_vs_epoch.png` (`batch_loss` every 10 steps against `epoch_loss`, and
`batch_learning_rate` against `epoch_learning_rate` under the halving schedule). Matplotlib
renderings of the logged values, unsmoothed, not screenshots. Not run by CI.
"""

import pathlib
import sys

import tensorflow as tf
from matplotlib.figure import Figure
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

HERE = pathlib.Path(__file__).resolve().parent
STEPS_PER_EPOCH = 63  # the lesson's `train.cardinality()`: 4,000 digits in batches of 64
COLOURS = {"train": "#e8710a", "validation": "#1a73e8"}  # orange and blue, as TensorBoard often draws them


def scalars(logs, prefix, subrun, tag):
    """`(steps, values)` of one tag of the newest `<prefix>-*` run."""
    folder = sorted(logs.glob(f"{prefix}-*"))[-1] / subrun
    events = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    events.Reload()
    points = [(e.step, float(tf.make_ndarray(e.tensor_proto))) for e in events.Tensors(tag)]
    return [s for s, _ in points], [v for _, v in points]


def per_epoch_segments(ax, steps, values, label, **style):
    """epoch_loss is the mean over an epoch: drawn across the optimizer steps of that epoch."""
    for i, (epoch, value) in enumerate(zip(steps, values)):
        ax.plot([epoch * STEPS_PER_EPOCH, (epoch + 1) * STEPS_PER_EPOCH], [value, value],
                label=label if i == 0 else None, **style)


def per_epoch_points(ax, steps, values, label, **style):
    """epoch_learning_rate is the rate at an epoch's end: drawn at that epoch's last step."""
    ax.plot([(epoch + 1) * STEPS_PER_EPOCH for epoch in steps], values, ls="none", marker="D",
            label=label, **style)


def train_validation(logs, path):
    fig = Figure(figsize=(7.2, 3.0), dpi=100)
    for ax, tag in zip(fig.subplots(1, 2), ("epoch_loss", "epoch_accuracy")):
        for subrun, colour in COLOURS.items():
            steps, values = scalars(logs, "epoch", subrun, tag)
            ax.plot(steps, values, marker="o", color=colour, label=f"epoch-.../{subrun}")
        ax.set_title(tag, fontsize=9)
        ax.set_xticks(steps)
        ax.set_xlabel("step (epoch)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)


def batch_vs_epoch(logs, path):
    fig = Figure(figsize=(7.2, 3.0), dpi=100)
    left, right = fig.subplots(1, 2)
    for ax, run, (batch_tag, epoch_tag), draw in (
        (left, "batch10", ("batch_loss", "epoch_loss"), per_epoch_segments),
        (right, "lr-decay", ("batch_learning_rate", "epoch_learning_rate"), per_epoch_points),
    ):
        steps, values = scalars(logs, run, "train", batch_tag)
        ax.plot(steps, values, marker=".", color=COLOURS["train"], label=f"{batch_tag} (every 10 steps)")
        steps, values = scalars(logs, run, "train", epoch_tag)
        draw(ax, steps, values, f"{epoch_tag} (per epoch)", color="#555", lw=2, alpha=0.6)
        for boundary in (STEPS_PER_EPOCH, 2 * STEPS_PER_EPOCH):
            ax.axvline(boundary, color="#999", lw=0.8, ls="--")
        ax.set_title(f"{run}-.../train", fontsize=9)
        ax.set_xlabel("optimizer step (dashed: epoch boundaries)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    right.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
    fig.tight_layout()
    fig.savefig(path)


def main(logs):
    train_validation(logs, HERE / "02_train_validation.png")
    batch_vs_epoch(logs, HERE / "02_batch_vs_epoch.png")
    for name in ("02_train_validation.png", "02_batch_vs_epoch.png"):
        print(name, (HERE / name).stat().st_size, "bytes")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "logs/scalars"))
