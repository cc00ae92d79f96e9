"""Draws the picture of lesson 13 from the logs its worked code wrote.

    python course/images/export_13.py [logs/bp]

Writes `13_frequency_and_sampling.png` next to this script. Left: `batch_loss` of the
`frequency/every_step` and `frequency/every_10_steps` runs. Right: the 50 steps of the `digit`
image tag in `samples/images`, each drawn with its logged digit; the 10 that a 10-sample reservoir
keeps (TensorBoard's default for images, read with the same `EventAccumulator` size guidance the
lesson uses) in full, the others faded. A matplotlib rendering of the logged data, not a
screenshot. Not run by CI.
"""

import io
import pathlib
import sys

import numpy as np
import tensorflow as tf
from matplotlib.figure import Figure
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

HERE = pathlib.Path(__file__).resolve().parent
NAME = "13_frequency_and_sampling.png"


def load(folder, tensors=0):
    events = EventAccumulator(str(folder), size_guidance={"tensors": tensors})
    events.Reload()
    return events


def digit(event):
    # An image summary is a string tensor: width, height, then one encoded PNG per image.
    return np.asarray(Image.open(io.BytesIO(event.tensor_proto.string_val[2])).convert("L"))


def main(logs):
    fig = Figure(figsize=(8.4, 3.2), dpi=100)
    grid = fig.add_gridspec(5, 2 + 10, width_ratios=[4.2, 0.4] + [0.42] * 10)
    ax = fig.add_subplot(grid[:, 0])
    for run, style in (("every_step", {"lw": 0.8, "color": "#e8710a", "marker": "."}),
                       ("every_10_steps", {"lw": 1.5, "color": "#1a73e8", "marker": "o"})):
        events = load(logs / "frequency" / run / "train")
        steps = [e.step for e in events.Tensors("batch_loss")]
        values = [float(tf.make_ndarray(e.tensor_proto)) for e in events.Tensors("batch_loss")]
        ax.plot(steps, values, label=f"{run}: {len(steps)} points", ms=3 if run == "every_step" else 5, **style)
    ax.set_title("batch_loss", fontsize=9)
    ax.set_xlabel("optimizer step", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)

    folder = logs / "samples" / "images"
    every = load(folder).Tensors("digit")
    kept = {e.step for e in load(folder, tensors=10).Tensors("digit")}
    for event in every:
        cell = fig.add_subplot(grid[event.step // 10, 2 + event.step % 10])
        cell.imshow(digit(event), cmap="gray", vmin=0, vmax=255, alpha=1.0 if event.step in kept else 0.18)
        cell.set_title(str(event.step), fontsize=6, pad=1, color="black" if event.step in kept else "#bbb",
                       fontweight="bold" if event.step in kept else "normal")
        cell.set_xticks([])
        cell.set_yticks([])
    fig.text(0.76, 0.005, f"digit: {len(every)} steps logged, the slider offers the {len(kept)} in full",
             ha="center", fontsize=8)
    fig.subplots_adjust(left=0.06, right=0.99, top=0.92, bottom=0.14, wspace=0.08, hspace=0.45)
    fig.savefig(HERE / NAME)
    print(NAME, (HERE / NAME).stat().st_size, "bytes; kept", sorted(kept))


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "logs/bp"))
