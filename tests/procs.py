"""Finding and stopping the processes a notebook or lesson left running.

A notebook kernel (or a lesson's subprocess) runs in its own fresh working directory, and
everything it launches (`%tensorboard` servers, TensorBoard's data server) inherits that
directory. So "started after `since` with a working directory under `workdir`" picks exactly
those processes, never another session's.
"""

from __future__ import annotations

import os
import pathlib
import signal

import psutil


def started_in(workdir: pathlib.Path, since: float) -> list[psutil.Process]:
    """Live processes (other than this one) created after `since` (a `time.time()`), whose
    working directory is `workdir` or below it."""
    workdir = pathlib.Path(workdir).resolve()
    found = []
    for proc in psutil.process_iter(["cwd", "create_time"]):
        cwd, created = proc.info["cwd"], proc.info["create_time"]
        if proc.pid == os.getpid() or not cwd or created is None or created < since - 1:
            continue
        if pathlib.Path(cwd) == workdir or workdir in pathlib.Path(cwd).parents:
            found.append(proc)
    return found


def stop(procs: list[psutil.Process]) -> None:
    """SIGTERM (a TensorBoard server then removes its info file), SIGKILL after 15 s; info
    files of killed servers are removed so a later `%tensorboard` does not "reuse" them."""
    from tensorboard import manager

    for proc in procs:
        try:
            proc.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=15)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=5)
    info_dir = manager._get_info_dir()
    for proc in procs:
        stale = os.path.join(info_dir, f"pid-{proc.pid}.info")
        if os.path.exists(stale):
            os.remove(stale)


def stop_started_in(workdir: pathlib.Path, since: float) -> list[int]:
    """`stop(started_in(workdir, since))`; returns the pids stopped."""
    procs = started_in(workdir, since)
    stop(procs)
    return [p.pid for p in procs]
