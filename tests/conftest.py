"""Shared fixtures: the real-TensorBoard test oracle and per-test log folders.

* ``tb_root`` (session): the log dir served by the shared TensorBoard server.
* ``tb_server`` (session, lazy): ONE ``oracle.TensorBoardServer`` over
  ``tb_root``, stopped at the end of the session. It is only started when a
  selected test requests it: the process is launched right after collection
  (so its start-up overlaps other work) and waited for on first use.
* ``tb_run_dir`` (function): a fresh, created, uniquely named folder under
  ``tb_root`` named after the test, so the test's runs show up in the server
  as ``<name>/train``, ``<name>/validation``, ...
* ``log_dir`` (function): a fresh, created ``tmp_path / "logs"`` for unit
  tests that only read event files (``events.py``), no server.

TensorFlow is not imported here; tests import it themselves.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pathlib  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402

import pytest  # noqa: E402

# Make the helper modules (events.py, oracle.py) importable from test files
# under any pytest import mode.
_TESTS_DIR = str(pathlib.Path(__file__).resolve().parent)
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)


def _sanitize(name: str, limit: int = 60) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "test"
    return name[:limit]


_TB_ROOT = pytest.StashKey[pathlib.Path]()
_TB_SERVER = pytest.StashKey[object]()


def _make_tb_root(config: pytest.Config) -> pathlib.Path:
    if _TB_ROOT not in config.stash:
        factory = config._tmp_path_factory  # what the tmp_path_factory fixture returns
        config.stash[_TB_ROOT] = factory.mktemp("tb_logs")
    return config.stash[_TB_ROOT]


def pytest_collection_finish(session: pytest.Session) -> None:
    """Launch the shared server early (without waiting for it) when a
    selected test will need it, so its ~10 s start-up overlaps with the
    tests' own TensorFlow import. Nothing starts if no test uses it."""
    config = session.config
    if config.option.collectonly or not any(
        "tb_server" in getattr(item, "fixturenames", ()) for item in session.items
    ):
        return
    from oracle import TensorBoardServer

    config.stash[_TB_SERVER] = TensorBoardServer(_make_tb_root(config)).launch()


def pytest_unconfigure(config: pytest.Config) -> None:
    server = config.stash.get(_TB_SERVER, None)
    if server is not None:
        server.stop()


@pytest.fixture(scope="session")
def tb_root(pytestconfig: pytest.Config) -> pathlib.Path:
    """The shared server's ``--logdir`` (a session temp folder)."""
    return _make_tb_root(pytestconfig)


@pytest.fixture(scope="session")
def tb_server(pytestconfig: pytest.Config, tb_root: pathlib.Path):
    """The one real TensorBoard server of the session, serving ``tb_root``."""
    from oracle import TensorBoardServer

    server = pytestconfig.stash.get(_TB_SERVER, None)
    if server is None:  # not pre-launched (e.g. requested via getfixturevalue)
        server = pytestconfig.stash[_TB_SERVER] = TensorBoardServer(tb_root)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture
def tb_run_dir(request: pytest.FixtureRequest, tb_root: pathlib.Path) -> pathlib.Path:
    """A fresh folder ``tb_root/<sanitized test name>[_N]`` (created, empty)."""
    base = _sanitize(request.node.name)
    for n in range(10_000):
        path = tb_root / (base if n == 0 else f"{base}_{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise RuntimeError(f"no free run folder name for {base!r}")


@pytest.fixture
def log_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    """A fresh, created ``tmp_path / "logs"`` folder (no server)."""
    path = tmp_path / "logs"
    path.mkdir()
    return path
