"""Real multi-process jobs on 127.0.0.1 for the distribution tests.

`run_workers` starts one subprocess per worker and waits under a wall-clock deadline. A
worker whose peer died can wait forever inside a collective, so once one worker fails the
others get `grace_s` more, and every worker still running at the deadline is killed by its
PID. No process outlives the call.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time


def free_ports(n: int) -> list[int]:
    """`n` distinct TCP ports free on 127.0.0.1 right now."""
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tf_config(ports: list[int], index: int, task_type: str = "worker") -> str:
    """`TF_CONFIG` for worker `index` of a cluster of `len(ports)` workers on 127.0.0.1."""
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    return json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}})


@dataclasses.dataclass
class Worker:
    index: int
    pid: int
    returncode: int | None  # None: killed at the deadline
    stdout: str
    stderr: str
    seconds: float

    def result(self) -> dict:
        """The JSON the worker printed on a line starting with `RESULT`."""
        line = next((l for l in self.stdout.splitlines() if l.startswith("RESULT")), None)
        assert line is not None, f"worker {self.index} printed no RESULT\n{self.stderr[-4000:]}"
        return json.loads(line[len("RESULT"):])


def run_workers(argv, n: int, workdir: pathlib.Path, *, env=None, timeout_s=120, grace_s=15):
    """Runs `argv(i, ports)` (a command list) for workers i = 0..n-1 and waits for all.

    Args:
        argv: `(index, ports) -> list[str]`, the command of worker `index`.
        n: Number of workers.
        workdir: Folder for the workers' stdout/stderr files (and their cwd).
        env: `(index, ports) -> dict` of extra environment variables, or None.
        timeout_s: Wall-clock limit for the whole job.
        grace_s: Once a worker failed, how long the others may still take.

    Returns:
        The `Worker`s, in index order.
    """
    ports = free_ports(n)
    procs, files, started = [], [], time.monotonic()
    for i in range(n):
        out = open(workdir / f"worker{i}.out", "w+")
        err = open(workdir / f"worker{i}.err", "w+")
        files.append((out, err))
        extra = env(i, ports) if env else {}
        procs.append(subprocess.Popen(
            argv(i, ports), stdout=out, stderr=err, cwd=workdir,
            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **extra)))
    ended = [None] * n
    deadline = started + timeout_s
    try:
        while time.monotonic() < deadline and None in ended:
            for i, proc in enumerate(procs):
                if ended[i] is None and proc.poll() is not None:
                    ended[i] = time.monotonic() - started
                    if proc.returncode != 0:
                        deadline = min(deadline, time.monotonic() + grace_s)
            time.sleep(0.1)
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
    workers = []
    for i, (proc, (out, err)) in enumerate(zip(procs, files)):
        out.seek(0), err.seek(0)
        workers.append(Worker(
            i, proc.pid, proc.returncode if ended[i] is not None else None,
            out.read(), err.read(), ended[i] if ended[i] is not None else timeout_s))
        out.close(), err.close()
    return workers


def python(script: pathlib.Path | str, *args: str):
    """`argv` for `run_workers`: this interpreter running `script` with `args`, then the
    worker's index."""
    return lambda i, ports: [sys.executable, str(script), *args, str(i)]
