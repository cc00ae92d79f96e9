"""Bad input is refused at once, with the error type and a message that names the argument
(Keras' template: "Argument `x` must be ... Received: x=..."), across the public callback
and the toolkit functions; legal but odd input gives a documented result.

`test_arguments_and_failures.py` holds the first table of `keras_tbx.TensorBoard`
arguments (update_freq, histogram_freq, profile_batch, class_names, sample, log_dir under
a file, ...); this table adds the rest and the toolkit.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import keras_tbx
from keras_tbx import hparams as hp
from keras_tbx import profiler
from keras_tbx import summary as S


def _tb(**kwargs):
    kwargs.setdefault("log_dir", _tb.log_dir)
    return keras_tbx.TensorBoard(**kwargs)


def _in_writer(fn):
    """Runs `fn` with a default writer set (tf.summary-style functions need one)."""

    def call():
        import tensorflow as tf

        with tf.summary.create_file_writer(_tb.writer_dir).as_default(step=0):
            return fn()

    return call


ONE_CHART = {"Cat": {"Chart": ["Multiline", ["^epoch_loss$"]]}}
CASES = [
    # --- keras_tbx.TensorBoard: wrong types and out-of-range values
    ("histogram_freq str", lambda: _tb(histogram_freq="1"), ValueError, "Argument `histogram_freq` must be"),
    ("write_images int", lambda: _tb(write_images=1), TypeError, "Received: write_images=1"),
    ("write_steps_per_second None", lambda: _tb(write_steps_per_second=None), TypeError,
     "Argument `write_steps_per_second`"),
    ("auto_layout str", lambda: _tb(auto_layout="no"), TypeError, "Received: auto_layout='no'"),
    ("log_dir bytes", lambda: _tb(log_dir=b"/tmp/x"), TypeError, "Received: log_dir=b'/tmp/x'"),
    ("log_dir None", lambda: _tb(log_dir=None), TypeError, "Received: log_dir=None"),
    ("profile_batch floats", lambda: _tb(profile_batch=(2.0, 3)), ValueError, r"Received: profile_batch=\(2.0, 3\)"),
    ("profile_epoch negative", lambda: _tb(profile_epoch=-1), ValueError, "Received: profile_epoch=-1"),
    ("profile_epoch with profile_batch", lambda: _tb(profile_epoch=1, profile_batch=2), ValueError,
     "Argument `profile_epoch` must be None when `profile_batch` is set"),
    ("profile_options level", lambda: _tb(profile_options={"host_tracer_level": 7}), ValueError,
     r"Argument `profile_options\['host_tracer_level'\]` must be an integer from 0 to 3"),
    ("profile_options key", lambda: _tb(profile_options={"bogus": 1}), ValueError, "'bogus' is not"),
    ("profile_options str", lambda: _tb(profile_options="fast"), TypeError, "Received: profile_options='fast'"),
    ("class_names empty", lambda: _tb(class_names=[]), ValueError, "Received: class_names=\\[\\]"),
    ("class_names negative", lambda: _tb(class_names=-2), ValueError, "Received: class_names=-2"),
    ("confusion_max_classes 1", lambda: _tb(class_names=3, confusion_max_classes=1), ValueError,
     "Received: confusion_max_classes=1"),
    ("num_thresholds float", lambda: _tb(class_names=3, num_thresholds=1.5), TypeError,
     "Received: num_thresholds=1.5"),
    # --- layouts
    ("layout chart kind", lambda: _tb(layout={"Cat": {"Chart": ["Pie", ["x"]]}}), ValueError,
     r"Argument `layout\['Cat'\]\['Chart'\]\[0\]` must be a chart kind"),
    ("layout margin of 2", lambda: _tb(layout={"Cat": {"Chart": ["Margin", ["a", "b"]]}}), ValueError,
     "exactly 3 tags"),
    ("layout bad regex", lambda: _tb(layout={"Cat": {"Chart": ["Multiline", ["(unclosed"]]}}), ValueError,
     "must be a valid regular expression"),
    ("layout str", lambda: _tb(layout="Cat"), TypeError, "Received: layout='Cat'"),
    ("layout empty category", lambda: _tb(layout={"Cat": {}}), TypeError, r"Argument `layout\['Cat'\]`"),
    ("custom_scalars_pb tags not a list", lambda: S.custom_scalars_pb({"A": {"B": ["Multiline", "x"]}}),
     TypeError, r"Argument `layout\['A'\]\['B'\]\[1\]` must be a list of tag regexes"),
    # --- hparams values and domains
    ("hparams list value", lambda: _tb(hparams={"lr": [0.1]}), TypeError, r"Argument `hparams\['lr'\]`"),
    ("hparams NaN", lambda: _tb(hparams={"lr": float("nan")}), ValueError,
     r"Argument `hparams\['lr'\]` must be a finite number"),
    ("hparams inf", lambda: _tb(hparams={"lr": float("inf")}), ValueError, r"Received: hparams\['lr'\]=inf"),
    ("hparams int key", lambda: _tb(hparams={3: 0.1}), TypeError, "Argument `hparams` must be keyed by"),
    ("hparams outside domain", lambda: _tb(hparams={hp.HParam("u", hp.Discrete([1, 2])): 3}), ValueError,
     r"Argument `hparams\['u'\]` must be in the domain"),
    ("RealInterval reversed", lambda: hp.RealInterval(1.0, 0.0), ValueError, "Argument `max_value` must be >="),
    ("RealInterval log from 0", lambda: hp.RealInterval(0.0, 1.0, log=True), ValueError,
     "Argument `min_value` must be > 0 when log=True"),
    ("RealInterval NaN", lambda: hp.RealInterval(float("nan"), 1.0), ValueError,
     "Argument `min_value` must be a finite number"),
    ("sweep zero trials", lambda: hp.sweep(lambda t: None, {"u": hp.RealInterval(0.0, 1.0)}, _tb.log_dir,
                                           method="random", trials=0), ValueError, "Received: trials=0"),
    ("sweep empty list domain", lambda: hp.sweep(lambda t: None, {"u": []}, _tb.log_dir), ValueError,
     r"Argument `space\['u'\]` must be a non-empty list"),
    ("sweep mixed domain", lambda: hp.sweep(lambda t: None, {"u": [1, "a"]}, _tb.log_dir), TypeError,
     r"Argument `space\['u'\]` must be a list of values of one kind"),
    ("sweep method", lambda: hp.sweep(lambda t: None, {"u": [1]}, _tb.log_dir, method="bayes"), ValueError,
     "Received: method='bayes'"),
    ("sweep grid over reals", lambda: hp.sweep(lambda t: None, {"u": hp.RealInterval(0.0, 1.0)}, _tb.log_dir),
     ValueError, r"Argument `space\['u'\]` must be a list of values or a small IntInterval"),
    # --- scalars: tags and values
    ("scalars not a dict", lambda: S.scalars_pb([1.0]), TypeError, "Argument `values` must be a dict"),
    ("scalars str value", lambda: S.scalars_pb({"loss": "abc"}), TypeError, r"Received: values\['loss'\]='abc'"),
    ("scalars bytes tag", lambda: S.scalars_pb({b"\xff": 1.0}), TypeError, "Argument `values` must have str tags"),
    ("scalars non-UTF-8 tag", lambda: S.scalars_pb({"loss\udcff": 1.0}), ValueError,
     "Argument `values` must have tags that are valid Unicode"),
    ("scalars empty tag", lambda: S.scalars_pb({"": 1.0}), ValueError, "Argument `values` must have non-empty tags"),
    # --- images: rank, channels, dtype, size
    ("image rank 2", _in_writer(lambda: S.image("x", np.zeros((4, 4)))), ValueError,
     r"Argument `data` must be a batch of images of shape \(k, h, w, c\).*shape \(4, 4\)"),
    ("image rank 3", _in_writer(lambda: S.image("x", np.zeros((4, 4, 3)))), ValueError, "Argument `data`"),
    ("image 2 channels", _in_writer(lambda: S.image("x", np.zeros((1, 4, 4, 2)))), ValueError,
     r"c in \{1, 3, 4\}"),
    ("image complex", _in_writer(lambda: S.image("x", np.zeros((1, 4, 4, 3), complex))), TypeError,
     "Argument `data` must hold real numbers"),
    ("image strings", _in_writer(lambda: S.image("x", np.full((1, 2, 2, 1), "a"))), TypeError,
     "Argument `data` must hold real numbers"),
    ("image huge", _in_writer(lambda: S.image("x", np.broadcast_to(np.uint8(0), (1, 10_000, 10_000, 1)))),
     ValueError, "Argument `data` must hold images of at most 67108864 pixels"),
    ("image max_outputs 0", _in_writer(lambda: S.image("x", np.zeros((1, 2, 2, 1)), max_outputs=0)), ValueError,
     "Received: max_outputs=0"),
    ("image_grid rank", lambda: S.image_grid(np.zeros((4, 4))), ValueError, "argument `images` must hold"),
    # --- classification toolkit: mismatched class names, non-finite and invalid counts
    ("confusion labels out of range", lambda: S.confusion_matrix_counts([0, 5], [0, 1], 3), ValueError,
     r"argument `labels` must hold class indices in \[0, 3\)"),
    ("confusion float labels", lambda: S.confusion_matrix_counts([0.5, 1], [0, 1], 3), ValueError,
     "argument `labels` must hold integer class indices"),
    ("confusion not square", lambda: S.confusion_matrix_pb("cm", np.ones((3, 4))), ValueError,
     "argument `matrix` must be a square"),
    ("confusion class_names mismatch", lambda: S.confusion_matrix_pb("cm", np.ones((3, 3)), class_names=["a", "b"]),
     ValueError, r"argument `class_names` must have one name per class \(3\)"),
    ("confusion NaN counts", lambda: S.confusion_matrix_pb("cm", np.full((3, 3), np.nan)), ValueError,
     "argument `matrix` must hold finite counts >= 0"),
    ("confusion negative counts", lambda: S.per_class_metrics(-np.ones((2, 2))), ValueError,
     "argument `matrix` must hold finite counts >= 0"),
    ("per_class class_names mismatch", lambda: S.per_class_scalars_pb(np.ones((3, 3)), class_names=["a"]),
     ValueError, "argument `class_names` must have one name per class"),
    ("pr_counts NaN scores", lambda: S.pr_counts(np.array([[1, 0]]), np.array([[np.nan, 0.2]])), ValueError,
     "argument `scores` must not contain NaN"),
    ("pr_counts shapes", lambda: S.pr_counts(np.array([[1, 0]]), np.array([[0.3, 0.2, 0.1]])), ValueError,
     "arguments `labels` and `scores` disagree"),
    # --- profiler helpers
    ("start_server port -1", lambda: profiler.start_server(-1), ValueError, "Received: port=-1"),
    ("start_server port str", lambda: profiler.start_server("6009"), TypeError, "Received: port='6009'"),
    ("capture address", lambda: profiler.capture("http://x:1", _tb.log_dir, 100), ValueError,
     "Received: addr='http://x:1'"),
    ("capture duration", lambda: profiler.capture("grpc://127.0.0.1:1", _tb.log_dir, 0), ValueError,
     "Received: duration_ms=0"),
    ("capture options", lambda: profiler.capture("grpc://127.0.0.1:1", _tb.log_dir, 100, options={"x": 1}),
     ValueError, "Argument `options` must be a dict whose keys"),
    # --- run folders and writers
    ("run_dir name with /", lambda: keras_tbx.run_dir(_tb.log_dir, "a/b"), ValueError, "Received: name='a/b'"),
    ("run_dir name ..", lambda: keras_tbx.run_dir(_tb.log_dir, ".."), ValueError, "Received: name='..'"),
    ("run_dir root None", lambda: keras_tbx.run_dir(None), TypeError, "Received: root=None"),
    ("create_file_writer int", lambda: S.create_file_writer(123), TypeError, "Received: log_dir=123"),
    ("create_file_writer under a file", lambda: S.create_file_writer(os.path.join(_tb.blocker, "run")),
     ValueError, "Argument `log_dir` must be a directory path that can be created"),
]


@pytest.fixture(autouse=True)
def _folders(tmp_path):
    _tb.log_dir = str(tmp_path / "logs")
    _tb.blocker = str(tmp_path / "a_file")
    _tb.writer_dir = str(tmp_path / "writer")
    with open(_tb.blocker, "w") as f:
        f.write("not a directory")


def test_the_matrix_is_large_enough():
    assert len(CASES) >= 30 and len({name for name, *_ in CASES}) == len(CASES)


@pytest.mark.parametrize("name, call, error, message", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_naming_the_argument(name, call, error, message, tmp_path):
    with pytest.raises(error, match=message) as raised:
        call()
    assert type(raised.value) is error  # exactly this type, not a subclass
    assert "`" in str(raised.value)  # an argument is named
    # Refused before anything was written.
    assert not os.path.exists(_tb.log_dir) or not any(
        f.startswith("events.out") for _, _, files in os.walk(_tb.log_dir) for f in files)


# --- legal but odd input: documented, tested results ------------------------------------


def test_odd_scalar_values_and_tags_are_written_as_given():
    """NaN and infinite scalars are written (TensorBoard draws them as gaps / markers),
    and a tag is data inside the event file, never a path: "../x" stays a tag."""
    pb = S.scalars_pb({"loss": float("nan"), "gain": float("inf"), "../../escape": 1.0})
    values = {v.tag: v.tensor.float_val[0] for v in pb.value}
    assert np.isnan(values["loss"]) and values["gain"] == np.inf and values["../../escape"] == 1.0


def test_odd_images_have_documented_renderings(tmp_path):
    """A constant image is drawn mid-grey, a NaN image black; a huge image passed to
    `image_grid` is scaled down to its tile size."""
    import tensorflow as tf
    from events import read_images

    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default(step=0):
        S.image("odd", np.stack([np.full((4, 4, 1), 7.0), np.full((4, 4, 1), np.nan)]), max_outputs=2)
    writer.flush()
    (step, (constant, nan)), = read_images(tmp_path, "odd")
    assert step == 0 and (constant == 127).all() and (nan == 0).all()
    grid = S.image_grid(np.broadcast_to(np.uint8(200), (1, 6_000, 6_000, 3)))
    assert grid.shape[0] < 1_000 and grid.shape[1] < 1_000 and grid.dtype == np.uint8


def test_odd_histograms_and_vector_metrics():
    """Non-finite weights still give a histogram (TensorBoard's own bucketing); a matrix
    metric is split into one scalar per component named `row_col`."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        pb = S.histograms_pb([("w", np.array([np.nan, 1.0, np.inf]))])
    assert [v.tag for v in pb.value] == ["w"]
    assert [name for name, _ in S.split_metric("f1", np.zeros((2, 2)))] == ["f1/0_0", "f1/0_1", "f1/1_0", "f1/1_1"]


def test_non_utf8_log_dir_is_usable(tmp_path):
    """A log_dir whose name is not valid UTF-8 (bytes decoded with surrogateescape, as
    Python does for such file names) is accepted and written as those bytes."""
    odd = os.path.join(str(tmp_path), os.fsdecode(b"run-\xff"))
    tb = keras_tbx.TensorBoard(odd)
    assert tb.log_dir == odd and not os.path.exists(odd)
