"""keras_tbx.summary classification toolkit: values against sklearn / brute force /
TensorBoard's own pr_curve summary, and images decoded from real event files."""

import time

import numpy as np
import pytest
from events import read_images, read_scalar_dtypes, read_scalars, read_tags, read_tensors
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from sklearn.metrics import precision_recall_fscore_support

from keras_tbx import summary
from keras_tbx.summary import _render

N_CLASSES = 7
EMPTY, NEVER_PREDICTED = 5, 6  # class 5 has no examples, class 6 is never predicted


@pytest.fixture(scope="module")
def tf():
    import tensorflow as tf

    return tf


def _write(tf, log_dir, fn):
    writer = tf.summary.create_file_writer(str(log_dir))
    with writer.as_default():
        assert fn() is True
    writer.close()


@pytest.fixture
def labelled():
    rng = np.random.default_rng(3)
    labels = rng.choice([c for c in range(N_CLASSES) if c != EMPTY], size=500)
    predictions = np.where(rng.random(500) < 0.6, labels, rng.integers(0, N_CLASSES, 500))
    predictions[predictions == NEVER_PREDICTED] = 0
    weights = rng.random(500) * 2
    return labels, predictions, weights


def test_confusion_matrix_counts_equals_sklearn(labelled):
    labels, predictions, weights = labelled
    ours = summary.confusion_matrix_counts(labels, predictions, N_CLASSES)
    assert ours.dtype == np.float64 and ours.shape == (N_CLASSES, N_CLASSES)
    np.testing.assert_array_equal(ours, sk_confusion_matrix(labels, predictions, labels=range(N_CLASSES)))
    weighted = summary.confusion_matrix_counts(labels, predictions, N_CLASSES, sample_weight=weights)
    expected = sk_confusion_matrix(labels, predictions, labels=range(N_CLASSES), sample_weight=weights)
    np.testing.assert_allclose(weighted, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "labels, predictions, argument",
    [([0, 3], [0, 1], "labels"), ([0, 1], [-1, 1], "predictions"), ([0.5, 1], [0, 1], "labels")],
)
def test_confusion_matrix_counts_names_the_bad_argument(labels, predictions, argument):
    with pytest.raises(ValueError, match=f"argument `{argument}`"):
        summary.confusion_matrix_counts(labels, predictions, 3)


def test_per_class_and_macro_metrics_equal_sklearn(labelled):
    labels, predictions, weights = labelled
    for sample_weight in (None, weights):
        matrix = summary.confusion_matrix_counts(labels, predictions, N_CLASSES, sample_weight)
        assert matrix[EMPTY].sum() == 0 and matrix[:, NEVER_PREDICTED].sum() == 0
        ours = summary.per_class_metrics(matrix)
        p, r, f, s = precision_recall_fscore_support(
            labels, predictions, labels=range(N_CLASSES), zero_division=0, sample_weight=sample_weight
        )
        for key, expected in {"precision": p, "recall": r, "accuracy": r, "f1": f, "support": s}.items():
            np.testing.assert_allclose(ours[key], expected, rtol=0, atol=1e-12, err_msg=key)
        macro = summary.macro_metrics(matrix)
        mp, mr, mf, _ = precision_recall_fscore_support(
            labels, predictions, labels=range(N_CLASSES), zero_division=0,
            sample_weight=sample_weight, average="macro",
        )
        assert macro["precision"] == pytest.approx(mp, abs=1e-12)
        assert macro["recall"] == macro["accuracy"] == pytest.approx(mr, abs=1e-12)
        assert macro["f1"] == pytest.approx(mf, abs=1e-12)
        w = np.ones(len(labels)) if sample_weight is None else sample_weight
        overall = np.sum(w * (labels == predictions)) / np.sum(w)
        assert macro["accuracy_overall"] == pytest.approx(overall, abs=1e-12)
    assert summary.macro_metrics(np.zeros((3, 3)))["accuracy_overall"] == 0.0


def test_metrics_from_counts_equal_sklearn_multilabel_at_a_threshold():
    rng = np.random.default_rng(4)
    indicators = (rng.random((300, 5)) < 0.3).astype(int)
    indicators[:, 4] = 0  # a label never present
    scores = np.clip(indicators * 0.3 + rng.random((300, 5)) * 0.7, 0, 1)
    tp, fp, tn, fn = summary.pr_counts(indicators, scores, num_thresholds=101)
    ours = summary.metrics_from_counts(tp[:, 50], fp[:, 50], fn[:, 50])  # threshold 0.5
    p, r, f, s = precision_recall_fscore_support(indicators, (scores >= 0.5).astype(int), zero_division=0)
    for key, expected in {"precision": p, "recall": r, "f1": f, "support": s}.items():
        np.testing.assert_allclose(ours[key], expected, rtol=0, atol=1e-12, err_msg=key)


def test_per_class_scalars_written_as_float32_with_sanitized_names(tf, log_dir):
    matrix = np.array([[3.0, 1, 0], [0, 2, 2], [1, 0, 0]])
    names = ["cat", "big dog", "a/b"]
    _write(tf, log_dir, lambda: summary.per_class_scalars("per_class", matrix, step=4, class_names=names))
    scalars = read_scalars(log_dir)
    safe = ["cat", "big_dog", "a_b"]
    metrics = summary.per_class_metrics(matrix)
    macro = summary.macro_metrics(matrix)
    expected = {f"per_class/{m}/{c}": metrics[m][i] for m in ("accuracy", "precision", "recall", "f1")
                for i, c in enumerate(safe)}
    expected.update({f"per_class/macro/{m}": macro[m] for m in ("accuracy", "precision", "recall", "f1")})
    assert set(scalars) == set(expected)
    for tag, value in expected.items():
        assert scalars[tag] == [(4, pytest.approx(np.float32(value), abs=0))], tag
    assert set().union(*read_scalar_dtypes(log_dir).values()) == {"float32"}
    pb = summary.per_class_scalars_pb(matrix, names, prefix="val")
    assert {v.tag for v in pb.value} == {t.replace("per_class/", "val/", 1) for t in expected}


def test_per_class_scalars_reject_bad_class_names():
    with pytest.raises(ValueError, match="argument `class_names`.*one name per class"):
        summary.per_class_scalars_pb(np.eye(3), ["a", "b"])
    with pytest.raises(ValueError, match="'a b' and 'a_b', both tagged 'a_b'"):
        summary.per_class_scalars_pb(np.eye(2), ["a b", "a_b"])
    with pytest.raises(ValueError, match="argument `matrix`"):
        summary.per_class_scalars_pb(np.ones((2, 3)))


def _scores(n=400, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, classes))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    probs[:5] = [0.0, 1.0, 0.5, 0.25, 0.75][: classes] + [0.0] * max(0, classes - 5)  # exact thresholds
    return rng.integers(0, classes, n), probs, rng.random(n)


def _bucket(s, T):
    return int(min(max(np.floor(s * (T - 1)), 0), T - 1))


@pytest.mark.parametrize("T", [2, 11, 101])
def test_pr_counts_equal_brute_force_and_histograms(T):
    labels, scores, weights = _scores()
    tp, fp, tn, fn = summary.pr_counts(labels, scores, num_thresholds=T, sample_weight=weights)
    C = scores.shape[1]
    pos_hist, neg_hist = np.zeros((C, T)), np.zeros((C, T))
    for x in range(len(labels)):
        for c in range(C):
            (pos_hist if labels[x] == c else neg_hist)[c, _bucket(scores[x, c], T)] += weights[x]
    for c in range(C):
        bucket = np.array([_bucket(s, T) for s in scores[:, c]])
        positive = labels == c
        for i in range(T):
            at = bucket >= i
            assert tp[c, i] == pytest.approx(np.sum(weights[positive & at]), abs=1e-9)
            assert fp[c, i] == pytest.approx(np.sum(weights[~positive & at]), abs=1e-9)
            assert fn[c, i] == pytest.approx(np.sum(weights[positive & ~at]), abs=1e-9)
            assert tn[c, i] == pytest.approx(np.sum(weights[~positive & ~at]), abs=1e-9)
    for ours, theirs in zip((tp, fp, tn, fn), summary.pr_counts_from_histograms(pos_hist, neg_hist)):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)
    onehot = np.eye(C)[labels]
    for a, b in zip((tp, fp, tn, fn), summary.pr_counts(onehot, scores, T, sample_weight=weights)):
        np.testing.assert_array_equal(a, b)


def test_pr_counts_match_tensorboards_pr_curve_summary():
    from tensorboard.plugins.pr_curve import summary as pr_summary
    from tensorboard.util import tensor_util

    labels, scores, _ = _scores(seed=1)
    # float32 scores on bucket edges: 0.29 * 100 is 29.0 in float32, 28.999... in float64.
    scores32 = np.concatenate([scores, np.full((50, 4), 0.29)]).astype(np.float32)
    labels = np.concatenate([labels, np.arange(50) % 4])
    for probs in (scores32.astype(np.float64), scores32):
        counts = summary.pr_counts(labels, probs, num_thresholds=101)
        for c in range(probs.shape[1]):
            theirs = pr_summary.pb("x", labels == c, probs[:, c], num_thresholds=101)
            data = tensor_util.make_ndarray(theirs.value[0].tensor)
            for row in range(4):
                np.testing.assert_array_equal(counts[row][c], data[row])
    edge = np.float32(0.29)
    assert np.floor(edge * np.float32(100)) == 29 and np.floor(np.float64(edge) * 100) == 28
    # One sigmoid unit: (n,) scores with 0/1 labels give one class.
    tp, *_ = summary.pr_counts([0, 1, 1], [0.2, 0.9, 0.4], num_thresholds=3)
    np.testing.assert_array_equal(tp, [[2, 1, 0]])


def test_pr_counts_bad_input():
    with pytest.raises(ValueError, match="argument `labels`"):
        summary.pr_counts([0, 9], np.full((2, 3), 0.3))
    with pytest.raises(ValueError, match="argument `num_thresholds`"):
        summary.pr_counts([0], [[1.0, 0.0]], num_thresholds=1)
    with pytest.raises(ValueError, match="NaN"):
        summary.pr_counts([0], [[np.nan, 0.0]])


def test_pr_curves_proto_matches_raw_data_pb_and_reads_back(tf, log_dir):
    from tensorboard.plugins.pr_curve import summary as pr_summary
    from tensorboard.util import tensor_util

    labels, scores, _ = _scores(seed=2)
    labels[labels == 3] = 0  # class 3 has no positives: recall 0/0 -> 0
    tp, fp, tn, fn = summary.pr_counts(labels, scores, num_thresholds=21)
    names = ["cat", "dog", "big bird", "empty"]
    safe = ["cat", "dog", "big_bird", "empty"]
    pb = summary.pr_curves_pb(tp, fp, tn, fn, names, tag_prefix="val_pr")
    for c, name in enumerate(safe):
        precision = tp[c] / np.maximum(1e-7, tp[c] + fp[c])
        recall = tp[c] / np.maximum(1e-7, tp[c] + fn[c])
        reference = pr_summary.raw_data_pb(
            f"val_pr/{name}", tp[c], fp[c], tn[c], fn[c], precision, recall, num_thresholds=21
        ).value[0]
        ours = pb.value[c]
        assert ours.tag == reference.tag == f"val_pr/{name}/pr_curves"
        assert ours.metadata.SerializeToString() == reference.metadata.SerializeToString()
        np.testing.assert_array_equal(
            tensor_util.make_ndarray(ours.tensor), tensor_util.make_ndarray(reference.tensor)
        )
    _write(tf, log_dir, lambda: summary.pr_curves("pr_curve", (tp, fp, tn, fn), step=7, class_names=names))
    assert read_tags(log_dir)["pr_curves"] == {f"pr_curve/{n}/pr_curves" for n in safe}
    for c, name in enumerate(safe):
        [(step, data)] = read_tensors(log_dir, f"pr_curve/{name}/pr_curves")
        assert step == 7 and data.shape == (6, 21) and data.dtype == np.float32
        for row, counts in enumerate((tp, fp, tn, fn)):
            np.testing.assert_array_equal(data[row], counts[c])
        expected_precision = np.float32(tp[c] / np.maximum(1e-7, tp[c] + fp[c]))
        np.testing.assert_array_equal(data[4], expected_precision)
    [(_, empty)] = read_tensors(log_dir, "pr_curve/empty/pr_curves")
    assert np.all(empty[5] == 0)  # no positives: recall is 0, not NaN


def test_most_confused_classes_finds_planted_confusions():
    rng = np.random.default_rng(0)
    matrix = np.diag(rng.integers(50, 100, 1000)).astype(float)
    planted = np.sort(rng.choice(1000, 28, replace=False))
    for a, b in zip(planted, np.roll(planted, 1)):
        matrix[a, b] += rng.integers(1, 20)
    np.testing.assert_array_equal(summary.most_confused_classes(matrix, 30), planted)
    assert _render._subtitle(matrix, planted) == "28 most-confused of 1000 classes"
    # More confused classes than fit: the largest off-diagonal mass wins.
    mass = np.arange(1, 41) * 10.0
    confused = rng.choice(1000, 40, replace=False)
    for (a, b), m in zip(zip(confused[::2], confused[1::2]), mass[::2]):
        matrix[a, b] += m + 1000
    top = np.sort(confused[-30:])
    np.testing.assert_array_equal(summary.most_confused_classes(matrix, 30), top)
    np.testing.assert_array_equal(summary.most_confused_classes(np.eye(1000), 30), np.arange(30))
    assert _render._subtitle(np.eye(1000), np.arange(30)) == "30 first of 1000 classes"
    np.testing.assert_array_equal(summary.most_confused_classes(matrix[:20, :20], 30), np.arange(20))


def _cell_pixel(i, j, k):
    edges = _render._cell_edges(k)
    return _render._TOP + edges[i] + 3, _render._LEFT + edges[j] + 3


def test_confusion_matrix_images_read_back(tf, log_dir):
    import matplotlib

    matrix = np.array([[9.0, 0, 0, 0], [2, 5, 1, 0], [0, 3, 3, 0], [1, 0, 0, 0]])
    names = ["zero", "one", "two", "three"]
    _write(tf, log_dir, lambda: summary.confusion_matrix("cm", matrix, step=2, class_names=names))
    assert read_tags(log_dir)["images"] == {"cm/counts", "cm/normalized"}
    [(step, [counts])] = read_images(log_dir, "cm/counts")
    [(_, [normalized])] = read_images(log_dir, "cm/normalized")
    assert step == 2 and counts.shape == normalized.shape == (600, 640, 3)
    blues = matplotlib.colormaps["Blues"]
    top, bottom = (np.round(np.array(blues(x)[:3]) * 255) for x in (1.0, 0.0))
    np.testing.assert_array_equal(normalized[_cell_pixel(0, 0, 4)], top)  # perfect class: 1.0
    np.testing.assert_array_equal(counts[_cell_pixel(0, 0, 4)], top)  # the largest count
    np.testing.assert_array_equal(normalized[_cell_pixel(0, 1, 4)], bottom)
    np.testing.assert_array_equal(normalized[_cell_pixel(3, 3, 4)], bottom)  # 0 of 1
    half = np.round(np.array(blues(128 / 255)[:3]) * 255)  # row "two": 3 / 6
    np.testing.assert_array_equal(normalized[_cell_pixel(2, 2, 4)], half)
    assert not np.array_equal(counts, normalized)
    pure = summary.confusion_matrix_images(matrix, names)
    np.testing.assert_array_equal(pure["normalized"], normalized)  # PNG is lossless


def test_png_summary_pb_reads_like_tf_summary_image(tf, log_dir):
    image = summary.confusion_matrix_image(np.array([[3.0, 1], [0, 2]]), ["a", "b"])
    pb = summary.confusion_matrix_pb("cm", np.array([[3.0, 1], [0, 2]]), class_names=["a", "b"])
    assert [v.tag for v in pb.value] == ["cm/counts", "cm/normalized"]

    def write():
        tf.summary.image("reference", image[None], step=1)
        return summary.image_grid_summary("grid", [image], step=1, cols=1) and bool(
            tf.summary.experimental.write_raw_pb(pb.SerializeToString(), step=1))

    _write(tf, log_dir, write)
    assert read_tags(log_dir)["images"] == {"reference", "grid", "cm/counts", "cm/normalized"}
    [(_, [reference])] = read_images(log_dir, "reference")
    [(_, [ours])] = read_images(log_dir, "cm/counts")
    np.testing.assert_array_equal(ours, reference)
    [(_, values)] = read_tensors(log_dir, "cm/counts")
    assert values.shape == (3,) and list(values[:2]) == [b"640", b"600"]  # width, height, PNG


def test_confusion_matrix_image_many_classes_and_timing():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 100, 5000)
    predictions = np.where(rng.random(5000) < 0.8, labels, rng.integers(0, 100, 5000))
    matrix = summary.confusion_matrix_counts(labels, predictions, 100)
    summary.confusion_matrix_image(matrix)  # warm-up: imports, fonts
    start = time.perf_counter()
    for normalize in (False, True):
        image = summary.confusion_matrix_image(matrix, normalize=normalize)
    assert time.perf_counter() - start < 1.0  # loose; benchmarks measure it properly
    assert image.shape == (600, 640, 3) and image.dtype == np.uint8
    every = summary.confusion_matrix_image(matrix, max_classes=1000)
    assert every.shape == (600, 640, 3)
    with pytest.raises(ValueError, match="argument `class_names`"):
        summary.confusion_matrix_image(matrix, ["a"])


def _red_run(cell, length):
    """Whether `cell` holds a horizontal run of `length` pure border-red pixels."""
    red = np.all(cell == _render._RED, axis=-1)
    return any(np.convolve(row, np.ones(length), "valid").max(initial=0) >= length for row in red)


def test_image_grid_tiles_and_mistake_frames(tf, log_dir):
    images = [np.full((28, 28), (i + 1) * 20, np.uint8) for i in range(7)]
    images[1] = np.full((28, 28, 1), 40 / 255, np.float32)
    images[2] = np.dstack([np.full((20, 28), 60, np.uint8)] * 3)
    mistakes = np.array([0, 1, 0, 0, 1, 0, 0], bool)
    captions, _ = summary.prediction_captions(np.arange(7), np.arange(7))
    grid = summary.image_grid(images, captions, mistakes=mistakes, cols=3, title="Sample")
    _write(tf, log_dir, lambda: summary.image_grid_summary(
        "predictions", images, step=1, captions=captions, mistakes=mistakes, cols=3, title="Sample"))
    [(_, [written])] = read_images(log_dir, "predictions")
    np.testing.assert_array_equal(written, grid)
    head = 24
    rows, cols = 3, 3
    cell_h, cell_w = (grid.shape[0] - head) // rows, grid.shape[1] // cols
    assert grid.shape == (head + rows * cell_h, cols * cell_w, 3)
    for i in range(9):
        cell = grid[head + (i // cols) * cell_h : head + (i // cols + 1) * cell_h,
                    (i % cols) * cell_w : (i % cols + 1) * cell_w]
        if i >= 7:
            assert np.all(cell == 255)  # empty cells stay blank
            continue
        grey = (i + 1) * 20
        assert np.sum(np.all(cell == grey, axis=-1)) >= 84 * 56, i  # the tile, scaled 3x
        assert _red_run(cell, 84) == mistakes[i], i


def test_image_grid_bad_input():
    with pytest.raises(ValueError, match="argument `images`.*images\\[1\\] of shape \\(2, 3, 5\\)"):
        summary.image_grid([np.zeros((4, 4)), np.zeros((2, 3, 5))])
    with pytest.raises(ValueError, match="argument `captions`"):
        summary.image_grid([np.zeros((4, 4))], ["a", "b"])


def test_most_confident_mistakes():
    rng = np.random.default_rng(5)
    probs = rng.dirichlet(np.ones(5), size=200)
    labels = rng.integers(0, 5, 200)
    pred = probs.argmax(axis=1)
    wrong = [i for i in range(200) if pred[i] != labels[i]]
    expected = sorted(wrong, key=lambda i: (-probs[i, pred[i]], i))[:10]
    np.testing.assert_array_equal(summary.most_confident_mistakes(labels, probs, 10), expected)
    np.testing.assert_array_equal(summary.most_confident_mistakes(np.eye(5)[labels], probs, 10), expected)
    np.testing.assert_array_equal(summary.most_confident_mistakes([1, 0, 1], [0.9, 0.8, 0.3], 5), [1, 2])


def test_rendering_without_matplotlib_says_how_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r'pip install "keras-tbx\[plots\]"'):
        summary.confusion_matrix_image(np.eye(2))


def test_prediction_grid_undoes_normalisation_and_channel_order():
    from oracle import decode_png

    from keras_tbx.summary._predictions import prediction_images_pb

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(4, 8, 8, 3)).astype(np.uint8)
    mean, std = np.array([100.0, 110.0, 120.0]), np.array([50.0, 60.0, 70.0])
    bgr = rgb[..., ::-1].astype(np.float32)
    x = (bgr - mean) / std  # what a Caffe-style pipeline feeds the model
    probs = np.eye(3)[[0, 1, 2, 0]]
    display = {"denormalize": (mean, std), "channel_order": "bgr", "value_range": (0, 255)}
    pb = prediction_images_pb("p", x, [0, 1, 2, 0], probs, class_names=["a", "b", "c"], display=display)
    [grid] = [v for v in pb.value if v.tag == "p/grid"]
    got = decode_png(grid.tensor.string_val[2])
    expected = summary.image_grid(rgb, summary.prediction_captions([0, 1, 2, 0], [0, 1, 2, 0], ["a", "b", "c"],
                                                                     confidence=[1.0] * 4)[0],
                                  mistakes=[False] * 4)
    np.testing.assert_array_equal(got[..., :3], expected)
