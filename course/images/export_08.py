"""Draws the picture of lesson 08 from the sweep its worked code logged.

    python course/images/export_08.py [logs/hparams_random]

Reads what the HParams dashboard reads: the experiment's domains (`_hparams_/experiment` in the
sweep folder), each trial's values (`_hparams_/session_start_info` in `trial-*/`) and the last
`epoch_accuracy` / `epoch_loss` of each trial's `validation/` run, and writes `08_parallel.png`
next to this script: a parallel-coordinates rendering like the dashboard's view, one polyline per
trial coloured by validation accuracy, `learning_rate` on a log axis. A matplotlib rendering of the
logged data, not a screenshot. Not run by CI.
"""

import math
import pathlib
import sys

import numpy as np
import tensorflow as tf
from matplotlib import colormaps
from matplotlib.figure import Figure
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import metadata

HERE = pathlib.Path(__file__).resolve().parent
METRICS = ("epoch_accuracy", "epoch_loss")  # of validation/, as the dashboard names them


def load(folder):
    events = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    events.Reload()
    return events


def experiment(logs):
    """`{hparam: (low, high, log_scale, discrete values or None)}` from the logged domains."""
    content = load(logs).SummaryMetadata(metadata.EXPERIMENT_TAG).plugin_data.content
    axes = {}
    for info in metadata.parse_experiment_plugin_data(content).hparam_infos:
        if info.HasField("domain_discrete"):
            values = sorted(v.number_value for v in info.domain_discrete.values)
            axes[info.name] = (values[0], values[-1], False, values)
        else:
            low, high = info.domain_interval.min_value, info.domain_interval.max_value
            axes[info.name] = (low, high, low > 0 and high / low >= 100, None)
    return axes


def trial(folder):
    """`({hparam: value}, {metric: last validation value})` of one trial folder."""
    content = load(folder).SummaryMetadata(metadata.SESSION_START_INFO_TAG).plugin_data.content
    start = metadata.parse_session_start_info_plugin_data(content)
    values = {name: value.number_value for name, value in start.hparams.items()}
    validation = load(folder / "validation")
    metrics = {tag: float(tf.make_ndarray(validation.Tensors(tag)[-1].tensor_proto)) for tag in METRICS}
    return values, metrics


def main(logs):
    axes = experiment(logs)
    trials = {folder.name: trial(folder) for folder in sorted(logs.glob("trial-*"))}
    for tag in METRICS:
        seen = [m[tag] for _, m in trials.values()]
        pad = 0.1 * (max(seen) - min(seen))
        axes[f"validation\n{tag}"] = (min(seen) - pad, max(seen) + pad, False, None)

    def position(axis, value):
        low, high, log, _ = axes[axis]
        if log:
            return (math.log10(value) - math.log10(low)) / (math.log10(high) - math.log10(low))
        return (value - low) / (high - low)

    fig = Figure(figsize=(7.6, 3.8), dpi=100)
    ax = fig.subplots()
    names = list(axes)
    accuracy = [m["epoch_accuracy"] for _, m in trials.values()]
    cmap, lo, hi = colormaps["viridis"], min(accuracy), max(accuracy)
    for name, (values, metrics) in trials.items():
        row = [*(values[a] for a in names[:-len(METRICS)]), *(metrics[t] for t in METRICS)]
        colour = cmap(0.85 * (metrics["epoch_accuracy"] - lo) / (hi - lo))  # viridis short of its pale yellow
        ax.plot(range(len(names)), [position(a, v) for a, v in zip(names, row)], color=colour, lw=2,
                marker="o", ms=4)
        ax.text(len(names) - 0.95, position(names[-1], row[-1]), f"{name} ({metrics['epoch_accuracy']:.3f})",
                fontsize=7, va="center", color=colour)
    for i, axis in enumerate(names):
        low, high, log, discrete = axes[axis]
        ax.plot([i, i], [0, 1], color="#444", lw=1, zorder=0)
        ticks = discrete or (np.logspace(math.log10(low), math.log10(high), 4) if log
                             else np.linspace(low, high, 5))
        for value in ticks:
            label = f"{value:g}" if log or discrete else f"{value:.3g}"
            ax.text(i - 0.04, position(axis, value), label, fontsize=7, ha="right", va="center", color="#444")
        ax.text(i, 1.04, axis + (" (log)" if log else ""), fontsize=8, ha="center", va="bottom")
    ax.set(xlim=(-0.4, len(names) + 0.3), ylim=(-0.03, 1.18))
    ax.axis("off")
    ax.set_title(f"{logs.name}: {len(trials)} trials, coloured by validation epoch_accuracy", fontsize=9,
                 y=-0.08)
    fig.tight_layout()
    fig.savefig(HERE / "08_parallel.png")
    print("08_parallel.png", (HERE / "08_parallel.png").stat().st_size, "bytes")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "logs/hparams_random"))
