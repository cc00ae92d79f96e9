"""Draws the picture of lesson 09 from the layout and scalars its worked code logged.

    python course/images/export_09.py [logs/layouts/mlp]

Reads the layout the callback wrote (`custom_scalars__config__` in the run folder), takes two of
its charts, `Loss / per step, train and validation` (a multiline chart: two tags of two runs) and
`Validation accuracy / with its 95% interval` (a margin chart), finds the tags each chart's
regex matches in `train/`, `validation/` and `interval/` as the dashboard does, and writes
`09_custom_scalars.png` next to this script. A matplotlib rendering of the logged data, not a
screenshot. Not run by CI.
"""

import pathlib
import re
import sys

import tensorflow as tf
from matplotlib.figure import Figure
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.custom_scalar import layout_pb2

from keras_tbx import summary

HERE = pathlib.Path(__file__).resolve().parent
RUNS = ("train", "validation", "interval")
CHARTS = (("Loss", "per step, train and validation"), ("Validation accuracy", "with its 95% interval"))
COLOURS = {"train": "#e8710a", "validation": "#1a73e8", "interval": "#12b5cb"}


def load(folder):
    events = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    events.Reload()
    return events


def series(events, tag):
    points = [(e.step, float(tf.make_ndarray(e.tensor_proto))) for e in events.Tensors(tag)]
    return [s for s, _ in points], [v for _, v in points]


def main(run):
    [config] = load(run).Tensors("custom_scalars__config__")
    layout = summary.parse_layout(layout_pb2.Layout.FromString(config.tensor_proto.string_val[0]))
    charts = {(c.title, chart.title): chart for c in layout for chart in c.charts}
    runs = {name: load(run / name) for name in RUNS if (run / name).is_dir()}

    fig = Figure(figsize=(7.6, 3.1), dpi=100)
    for ax, key in zip(fig.subplots(1, 2), CHARTS):
        chart = charts[key]
        if isinstance(chart, summary.Margin):
            for name, events in runs.items():
                if chart.value not in events.Tags()["tensors"]:
                    continue
                steps, value = series(events, chart.value)
                _, lower = series(events, chart.lower)
                _, upper = series(events, chart.upper)
                ax.fill_between(steps, lower, upper, color=COLOURS[name], alpha=0.25,
                                label=f"{name}: {chart.lower} to {chart.upper}")
                ax.plot(steps, value, marker="o", color=COLOURS[name], label=f"{name}: {chart.value}")
            ax.set_xticks(steps)
            ax.set_xlabel("step (epoch)", fontsize=8)
        else:
            pattern = re.compile(chart.tag_filter)
            for name, events in runs.items():
                for tag in sorted(t for t in events.Tags()["tensors"] if pattern.search(t)):
                    steps, values = series(events, tag)
                    ax.plot(steps, values, marker="o" if len(steps) < 10 else ".", color=COLOURS[name],
                            label=f"{name}: {tag}")
            ax.set_xlabel("optimizer step", fontsize=8)
        ax.set_title(" / ".join(key), fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(HERE / "09_custom_scalars.png")
    print("09_custom_scalars.png", (HERE / "09_custom_scalars.png").stat().st_size, "bytes")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "logs/layouts/mlp"))
