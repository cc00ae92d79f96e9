"""Server-free reader of profiler captures (``<run>/plugins/profile/<time>/<host>.xplane.pb``).

Public API::

    profile_files(run_dir) -> list[str]        every capture's xplane files, oldest first
    step_markers(path) -> list[int]            step_num of every "train" step marker, sorted
    event_names(path) -> set[str]              names of all events recorded in a capture
"""

from __future__ import annotations

import glob
import os


def profile_files(run_dir) -> list[str]:
    """The ``*.xplane.pb`` files of every capture under ``run_dir`` (sorted by capture time)."""
    return sorted(glob.glob(os.path.join(glob.escape(os.fspath(run_dir)), "plugins", "profile", "*", "*.xplane.pb")))


def _space(path: str):
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    with open(path, "rb") as f:
        return xplane_pb2.XSpace.FromString(f.read())


def _events(path: str):
    """``(plane, event name, {stat name: value})`` for every event in the capture."""
    for plane in _space(path).planes:
        names = {k: m.name for k, m in plane.event_metadata.items()}
        stats = {k: m.name for k, m in plane.stat_metadata.items()}
        for line in plane.lines:
            for event in line.events:
                values = {stats.get(s.metadata_id): s.int64_value or s.uint64_value or s.str_value
                          for s in event.stats}
                yield plane.name, names.get(event.metadata_id, ""), values


def step_markers(path: str) -> list[int]:
    """Step numbers of the ``"train"`` step markers (``Trace("train", step_num=N)``)."""
    return sorted(int(stats["step_num"]) for _, name, stats in _events(path)
                  if name == "train" and "step_num" in stats)


def event_names(path: str) -> set[str]:
    """Names of all events in the capture (TF ops, markers, Python calls when traced)."""
    return {name for _, name, _ in _events(path)}
