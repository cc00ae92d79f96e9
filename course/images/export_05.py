"""Draws the pictures of lesson 05 from the logs its worked code wrote.

    python course/images/export_05.py [logs/histograms]

Reads the newest `healthy-*`, `vanishing-*` and `exploding-*` runs and writes, next to this
script, `05_gradient_norms.png` (layer gradient norms at each run's last logged step) and
`05_histograms.png` (the first layer's kernel and its gradients over the steps, drawn like
TensorBoard's offset mode, healthy against vanishing). Not run by CI.
"""

import pathlib
import sys

import numpy as np
import tensorflow as tf
from matplotlib.figure import Figure
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

HERE = pathlib.Path(__file__).resolve().parent
RUNS = {"healthy": "healthy", "vanishing": "vanishing", "exploding": "exploding"}


def load(logs, prefix):
    folder = sorted(logs.glob(f"{prefix}-*"))[-1] / "train"
    events = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    events.Reload()
    return events


def series(events, tag):
    return [(e.step, tf.make_ndarray(e.tensor_proto)) for e in events.Tensors(tag)]


def layer_norms(events):
    tags = sorted(t for t in events.Tags()["tensors"] if t.startswith("gradients/norm/"))
    tags.sort(key=lambda t: (t.endswith("output"), t))
    values = []
    for tag in tags:
        finite = [(s, float(v)) for s, v in series(events, tag) if np.isfinite(v)]
        values.append(finite[-1])
    return [t.split("/")[-1] for t in tags], values


def ridge(ax, steps, title):
    """Histograms stacked front to back, older steps higher and lighter (offset mode)."""
    peak = max(h[:, 2].max() for _, h in steps)
    for i, (step, h) in enumerate(steps):
        x = np.repeat(np.concatenate([h[:, 0], h[-1:, 1]]), 2)[1:-1]
        y = np.repeat(h[:, 2], 2) / peak * 2.5
        base = (len(steps) - 1 - i)
        shade = 0.25 + 0.6 * i / max(len(steps) - 1, 1)
        ax.fill_between(x, base, base + y, color=(1 - shade, 0.45 * (1 - shade) + 0.2, shade), alpha=0.8, lw=0.5,
                        edgecolor="white")
    ax.set_yticks(range(len(steps)), [str(s) for s, _ in steps][::-1], fontsize=7)
    ax.set_ylabel("step", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.tick_params(axis="x", labelsize=7)
    ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 3))


def main(logs):
    events = {name: load(logs, prefix) for name, prefix in RUNS.items()}

    fig = Figure(figsize=(6.4, 3.4), dpi=100)
    ax = fig.subplots()
    deepest, _ = layer_norms(events["vanishing"])
    position = {layer: i for i, layer in enumerate(deepest)}  # dense_i at i, output last
    for name, marker in (("healthy", "o"), ("vanishing", "s"), ("exploding", "^")):
        layers, values = layer_norms(events[name])
        steps = sorted({s for s, _ in values})
        ax.plot([position[layer] for layer in layers], [v for _, v in values], marker=marker,
                label=f"{name} (step {steps[-1]})")
    ax.set_xticks(range(len(deepest)), deepest, rotation=30, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("gradients/norm/<layer>", fontsize=8)
    ax.set_title("Layer gradient norms on the probe, input side to output side", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(HERE / "05_gradient_norms.png")

    fig = Figure(figsize=(7.2, 5.2), dpi=100)
    axes = fig.subplots(2, 2)
    for col, name in enumerate(("healthy", "vanishing")):
        weights = series(events[name], f"{name}/dense_0/kernel/histogram")
        grads = series(events[name], f"gradients/{name}/dense_0/kernel")
        ridge(axes[0, col], weights, f"{name}: dense_0 kernel")
        ridge(axes[1, col], grads, f"{name}: gradients of the dense_0 kernel")
    fig.tight_layout()
    fig.savefig(HERE / "05_histograms.png")
    for name in ("05_gradient_norms.png", "05_histograms.png"):
        print(name, (HERE / name).stat().st_size, "bytes")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "logs/histograms"))
