"""Exports the pictures of lesson 03 from the logs its worked code wrote.

    python course/images/export_03.py [logs/images]

Reads the newest `input-grids-*` and `cnn-*` runs under the folder and writes
`03_input_grids.png` (the three `inputs/*` grids side by side) and `03_grad_cam.png`
(`analysis/grad_cam` at the last step) next to this script. Not run by CI.
"""

import io
import pathlib
import sys

import numpy as np
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

HERE = pathlib.Path(__file__).resolve().parent


def newest(folder, prefix):
    return sorted(folder.glob(f"{prefix}-*"))[-1]


def images(run, tag, step=-1):
    events = EventAccumulator(str(run), size_guidance={"tensors": 0})
    events.Reload()
    event = events.Tensors(tag)[step]
    return [np.asarray(Image.open(io.BytesIO(png)).convert("RGB")) for png in event.tensor_proto.string_val[2:]]


def main(logs):
    grids = newest(logs, "input-grids")
    tags = ["inputs/1_as_stored", "inputs/2_mean_added_back", "inputs/3_fully_undone"]
    parts = [images(grids, tag)[0] for tag in tags]
    gap = np.full((parts[0].shape[0], 12, 3), 255, np.uint8)
    row = np.concatenate([parts[0], gap, parts[1], gap, parts[2]], axis=1)
    Image.fromarray(row).save(HERE / "03_input_grids.png", optimize=True)
    cam = images(newest(logs, "cnn") / "train", "analysis/grad_cam")[0]
    Image.fromarray(cam).save(HERE / "03_grad_cam.png", optimize=True)
    for name in ("03_input_grids.png", "03_grad_cam.png"):
        print(name, (HERE / name).stat().st_size, "bytes")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "logs/images"))
