"""Writes the pictures of lesson 04 from the logs its worked code wrote.

    python course/images/export_04.py [logs/classification/cnn-<stamp>]

Reads the `validation/` run of the newest `cnn-*` run (or the one given) and writes, next to this
script two images the callback logged, byte for byte as TensorBoard's Images tab shows them:
`04_confusion_matrix.png` (`confusion_matrix/normalized` at the last step) and
`04_prediction_grid.png` (`predictions/grid` at the first step, the one with mistakes in the
sample). Not run by CI.
"""

import pathlib
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

HERE = pathlib.Path(__file__).resolve().parent
IMAGES = {  # tag: (file, which logged step: -1 the last, 0 the first)
    "confusion_matrix/normalized": ("04_confusion_matrix.png", -1),
    "predictions/grid": ("04_prediction_grid.png", 0),
}


def write_images(run, images):
    """Writes, next to this script, images logged in `run/validation/`: `{tag: (file, index)}`."""
    events = EventAccumulator(str(run / "validation"), size_guidance={"tensors": 0})
    events.Reload()
    for tag, (name, index) in images.items():
        event = events.Tensors(tag)[index]
        # An image summary is a string tensor: width, height, then one encoded PNG per image.
        width, height, png = event.tensor_proto.string_val[:3]
        (HERE / name).write_bytes(png)
        print(f"{name}: {tag} at step {event.step}, {int(width)}x{int(height)}, {len(png)} bytes")


if __name__ == "__main__":
    runs = sorted(pathlib.Path("logs/classification").glob("cnn-*"))
    write_images(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else runs[-1], IMAGES)
