"""Draws the picture of lesson 01 from the scalars its worked code logged.

    python course/images/export_01.py [logs/fit]

Reads the newest `dense16-*` and `dense128-*` runs and writes `01_epoch_curves.png` next to this
script: `epoch_loss` and `epoch_accuracy`, one line per run folder (`train`, `validation`) of
each experiment, as the Scalars tab draws one chart per tag and one line per run. A matplotlib
rendering of the logged values, unsmoothed, not a screenshot. Not run by CI.
"""

import pathlib
import sys

import tensorflow as tf
from matplotlib.figure import Figure
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

HERE = pathlib.Path(__file__).resolve().parent
EXPERIMENTS = {"dense16": "#e8710a", "dense128": "#1a73e8"}
STYLES = {"train": "--", "validation": "-"}


def scalars(folder, tag):
    events = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    events.Reload()
    points = [(e.step, float(tf.make_ndarray(e.tensor_proto))) for e in events.Tensors(tag)]
    return [s for s, _ in points], [v for _, v in points]


def main(logs):
    fig = Figure(figsize=(7.2, 3.2), dpi=100)
    axes = fig.subplots(1, 2)
    for ax, tag in zip(axes, ("epoch_loss", "epoch_accuracy")):
        for name, colour in EXPERIMENTS.items():
            run = sorted(logs.glob(f"{name}-*"))[-1]
            for subrun, style in STYLES.items():
                steps, values = scalars(run / subrun, tag)
                ax.plot(steps, values, ls=style, marker="o", color=colour, label=f"{name}-.../{subrun}")
        ax.set_title(tag, fontsize=9)
        ax.set_xticks(steps)
        ax.set_xlabel("step (epoch)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=4, fontsize=7)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(HERE / "01_epoch_curves.png")
    print("01_epoch_curves.png", (HERE / "01_epoch_curves.png").stat().st_size, "bytes")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "logs/fit"))
