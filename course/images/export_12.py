"""Writes the picture of lesson 12 from the logs its MirroredStrategy run wrote.

    python course/images/export_12.py [logs/distributed/mirrored-<stamp>]

Reads the `validation/` run of the newest `mirrored-*` run (or the one given) and writes
`12_confusion_counts.png` next to this script: `confusion_matrix/counts` at the last step, the PNG
byte for byte as TensorBoard's Images tab shows it (the counts of both replicas added together).
Uses `export_04.write_images`, which sits next to this script. Not run by CI.
"""

import pathlib
import sys

from export_04 import write_images

if __name__ == "__main__":
    runs = sorted(pathlib.Path("logs/distributed").glob("mirrored-*"))
    run = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else runs[-1]
    write_images(run, {"confusion_matrix/counts": ("12_confusion_counts.png", -1)})
