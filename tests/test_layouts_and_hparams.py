"""Custom scalar layouts and HParams written by `keras_tbx.TensorBoard` and `sweep`: read
back from the event files and served by a real TensorBoard."""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest
from events import read_scalars, read_tags, read_tensors
from google.protobuf import json_format
from models import tiny_data, tiny_model
from oracle import TensorBoardServer
from tensorboard.plugins.custom_scalar import layout_pb2
from tensorboard.plugins.hparams import metadata
from test_summary_hparams import hparams_contents, session
from test_summary_layouts import PER_STEP_CHARTS, charts

import keras_tbx
from keras_tbx import hparams as hp
from keras_tbx import summary

STATUSES = ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]


def written_layout(run_dir):
    [(step, blob)] = read_tensors(run_dir, "custom_scalars__config__")
    assert step == 0
    return summary.parse_layout(layout_pb2.Layout.FromString(blob.item()))


class RaiseAt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("diverged")


def test_hparams_session_status_and_config(tmp_path):
    x, y = tiny_data(n=32)
    units = summary.HParam("units", summary.IntInterval(1, 64))
    hparams = {units: 8, "optimizer": "sgd", "bias": True, "lr": 0.05}

    ok = tmp_path / "ok"
    tb = keras_tbx.TensorBoard(ok, hparams=hparams)
    model = tiny_model()
    model.fit(x, y, epochs=2, validation_split=0.25, verbose=0, callbacks=[tb])
    model.fit(x, y, epochs=1, verbose=0, callbacks=[tb])  # the same session goes on
    assert session(ok)[1] == "STATUS_SUCCESS"
    for tag in ("_hparams_/session_start_info", "_hparams_/experiment", "_hparams_/session_end_info"):
        assert len(read_tensors(ok, tag)) == 1, tag
    exp = metadata.parse_experiment_plugin_data(hparams_contents(ok)["_hparams_/experiment"])
    assert [(m.name.tag, m.name.group) for m in exp.metric_infos] == [
        ("epoch_loss", "train"), ("epoch_loss", "validation"),
        ("epoch_accuracy", "train"), ("epoch_accuracy", "validation"),
    ]  # fmt: skip
    infos = {h.name: h for h in exp.hparam_infos}
    assert (infos["units"].domain_interval.min_value, infos["units"].domain_interval.max_value) == (1, 64)
    assert [v.bool_value for v in infos["bias"].domain_discrete.values] == [False, True]
    assert infos["optimizer"].WhichOneof("domain") is None  # one run cannot know the others

    # fit() raising: Keras calls no callback, the with-block records the failure and the
    # parts finish (the config and the layout after the first epoch are written).
    raised = tmp_path / "raised"
    with pytest.raises(RuntimeError, match="diverged"):
        with keras_tbx.TensorBoard(raised, hparams={"lr": 0.05}) as tb:
            tiny_model().fit(x, y, epochs=3, verbose=0, callbacks=[tb, RaiseAt(1)])
    assert session(raised)[1] == "STATUS_FAILURE"
    assert read_tags(raised)["hparams"] >= {"_hparams_/experiment"}
    assert [c.title for c in written_layout(raised)] == ["Metrics", "Learning rate"]

    # A loss that is not finite (stopped by TerminateOnNaN) ends as a failure too.
    nan = tmp_path / "nan"
    x_nan = x.copy()
    x_nan[0, 0] = np.nan
    tiny_model().fit(x_nan, y, epochs=2, verbose=0, callbacks=[
        keras_tbx.TensorBoard(nan, hparams={"lr": 0.05}), keras.callbacks.TerminateOnNaN()])
    assert session(nan)[1] == "STATUS_FAILURE"


def test_layout_modes(tmp_path):
    x, y = tiny_data(n=32)
    mine = {"Mine": {"loss": ["Multiline", ["^epoch_loss$"]]}}

    alone = tmp_path / "alone"
    tb = keras_tbx.TensorBoard(alone, layout=mine, auto_layout=False)
    model = tiny_model()
    model.fit(x, y, epochs=1, verbose=0, callbacks=[tb])
    model.fit(x, y, epochs=1, verbose=0, callbacks=[tb])
    assert written_layout(alone) == summary.parse_layout(mine)  # once, the user's only

    none = tmp_path / "none"
    tiny_model().fit(x, y, epochs=1, verbose=0,
                     callbacks=[keras_tbx.TensorBoard(none, auto_layout=False)])  # fmt: skip
    assert read_tags(none) == {}  # nothing at the root at all

    with pytest.raises(ValueError, match=r"Argument `layout\['Mine'\]\['loss'\]\[0\]` must be a chart kind"):
        keras_tbx.TensorBoard(tmp_path, layout={"Mine": {"loss": ["Lines", ["^a$"]]}})
    with pytest.raises(TypeError, match=r"Received: auto_layout='yes'"):
        keras_tbx.TensorBoard(tmp_path, auto_layout="yes")


# A value and its bounds, for a margin chart.
def confidence_mean(y_true, y_pred):
    return keras.ops.max(y_pred, axis=-1)


def confidence_lower(y_true, y_pred):
    return keras.ops.max(y_pred, axis=-1) - 0.1


def confidence_upper(y_true, y_pred):
    return keras.ops.max(y_pred, axis=-1) + 0.1


def _served_layout(tb_server, expected):
    """Waits until the merged layout TensorBoard serves holds every chart of `expected`
    (other tests' runs add theirs: same-titled categories merge, charts are not deduplicated
    by title)."""

    def flat(categories):
        return {(c.title, chart.SerializeToString(deterministic=True))
                for c in categories for chart in c.chart}  # fmt: skip

    def check():
        served = json_format.ParseDict(tb_server.get_json("/data/plugin/custom_scalars/layout"),
                                       layout_pb2.Layout())  # fmt: skip
        return flat(summary.layout_pb(expected).category) <= flat(served.category)

    tb_server.poll(check, desc="our charts in /data/plugin/custom_scalars/layout")


@pytest.mark.server
def test_custom_scalars_served(tb_server, tb_run_dir):
    confidence = [
        keras.metrics.MeanMetricWrapper(fn, name=f"confidence_{name}")
        for name, fn in (("mean", confidence_mean), ("lower", confidence_lower), ("upper", confidence_upper))
    ]
    model = tiny_model(loss="categorical_crossentropy",
                       metrics=("accuracy", keras.metrics.F1Score(average=None), *confidence))  # fmt: skip
    mine = {
        "Metrics": {"loss": ["Multiline", ["^epoch_loss$", "^batch_loss$"]]},
        "Mine": {"confidence band": ["Margin", ["epoch_confidence_mean", "epoch_confidence_lower",
                                                "epoch_confidence_upper"]]},
    }  # fmt: skip
    cb = keras_tbx.TensorBoard(tb_run_dir, update_freq=2, layout=mine)
    x, y = tiny_data()
    history = model.fit(x, keras.utils.to_categorical(y, 3), epochs=2, batch_size=16,
                        validation_split=0.25, verbose=0, callbacks=[cb]).history  # fmt: skip

    runs = {"train": tb_run_dir / "train", "validation": tb_run_dir / "validation"}
    tags = {run: set(read_scalars(path)) for run, path in runs.items()}
    auto = summary.automatic_layout(tags["train"] | tags["validation"])
    assert charts(auto) == {
        **PER_STEP_CHARTS,
        "Per class": [("f1 score per class", ("^epoch_f1_score/",))],
        "Bounds": [
            ("confidence (per step)", ("batch_confidence_mean", "batch_confidence_lower",
                                       "batch_confidence_upper")),
            ("confidence", ("epoch_confidence_mean", "epoch_confidence_lower", "epoch_confidence_upper")),
        ],
    }  # fmt: skip
    expected = summary.merge_layouts(mine, auto)
    assert written_layout(tb_run_dir) == expected  # the user's "loss" chart wins
    _served_layout(tb_server, expected)

    # Every chart's regex brings back exactly the tags it matches among those written.
    def payload(run, chart):
        answer = tb_server.get_json("/data/plugin/custom_scalars/scalars",
                                    run=tb_server.run_name(runs[run]), tag=chart.tag_filter)  # fmt: skip
        assert answer["regex_valid"]
        return answer["tag_to_events"]

    for chart in (ch for c in expected for ch in c.charts):
        want = {run: {t for t in tags[run] if re.match(chart.tag_filter, t)} for run in runs}
        assert want["train"] | want["validation"], chart
        for run in runs:
            tb_server.poll(lambda: set(payload(run, chart)) == want[run],
                           desc=f"{chart.title!r} in {run}", timeout=30)  # fmt: skip
    [loss] = [ch for ch in expected[0].charts if ch.title == "loss"]
    train, val = payload("train", loss), payload("validation", loss)
    assert [p[2] for p in train["epoch_loss"]] == pytest.approx(history["loss"], rel=1e-6)
    assert [p[2] for p in val["epoch_loss"]] == pytest.approx(history["val_loss"], rel=1e-6)
    assert [p[1] for p in train["batch_loss"]] == [2, 4, 6, 8, 10]  # 5 steps per epoch


@pytest.fixture(scope="module")
def hparams_server(tmp_path_factory):
    """A TensorBoard of its own: the HParams dashboard shows one experiment per log dir
    (the config of any run, chosen arbitrarily), so a sweep cannot share the log dir of
    the session's server with other tests' runs. Launched now, ready when first asked."""
    server = TensorBoardServer(tmp_path_factory.mktemp("hparams_logs")).launch()
    yield server
    server.stop()


@pytest.mark.server
def test_sweep_in_the_hparams_dashboard(hparams_server):
    x, y = tiny_data()
    space = {
        "units": hp.IntInterval(2, 12),
        "lr": hp.RealInterval(0.01, 0.3, log=True),
        "optimizer": ["sgd", "adam"],
        hp.HParam("bias", hp.Discrete([True, False])): None,
    }

    def train(trial):
        keras.utils.set_random_seed(trial.index)
        model = keras.Sequential([
            keras.Input((6,)),
            keras.layers.Dense(trial["units"], activation="relu", use_bias=trial["bias"]),
            keras.layers.Dense(3, activation="softmax"),
        ])  # fmt: skip
        optimizer = {"sgd": keras.optimizers.SGD, "adam": keras.optimizers.Adam}[trial["optimizer"]]
        model.compile(optimizer(trial["lr"]), "sparse_categorical_crossentropy", metrics=["accuracy"])
        callbacks = [trial.callback()] + ([RaiseAt(1)] if trial.index == 2 else [])
        return model.fit(x, y, epochs=3, validation_split=0.25, verbose=0, callbacks=callbacks)

    log_dir = hparams_server.logdir / "sweep"
    results = hp.sweep(train, space, log_dir, method="random", trials=3, seed=1, verbose=0)
    assert [r.status for r in results] == ["success", "success", "failure"]
    assert all(type(r.hparams["units"]) is int for r in results)
    assert results[2].error == "RuntimeError: diverged"
    hparams_server.wait_ready()

    exp = hparams_server.hparams_experiment(min_hparams=4, min_metrics=4)
    infos = {h["name"]: h for h in exp["hparamInfos"]}
    assert infos["units"]["domainInterval"] == {"minValue": 2.0, "maxValue": 12.0}
    assert infos["lr"]["domainInterval"] == {"minValue": 0.01, "maxValue": 0.3}
    assert (infos["optimizer"]["type"], infos["optimizer"]["domainDiscrete"]) == ("DATA_TYPE_STRING", ["adam", "sgd"])
    assert (infos["bias"]["type"], infos["bias"]["domainDiscrete"]) == ("DATA_TYPE_BOOL", [False, True])
    metrics = [(m["name"]["tag"], m["name"]["group"]) for m in exp["metricInfos"]]
    assert metrics == [("epoch_loss", "train"), ("epoch_loss", "validation"),
                       ("epoch_accuracy", "train"), ("epoch_accuracy", "validation")]  # fmt: skip

    body = {
        "experimentName": "", "allowedStatuses": STATUSES, "startIndex": 0, "sliceSize": 100,
        "colParams": [{"hparam": name} for name in infos]
        + [{"metric": {"tag": tag, "group": group}} for tag, group in metrics],
    }  # fmt: skip

    def groups():
        answer = hparams_server.post_json("/data/plugin/hparams/session_groups", body)
        found = {g["name"]: g for g in answer["sessionGroups"]}
        # Complete once every session's end (its status) is loaded too: the server may have
        # read a trial's root run before the session end was appended.
        complete = len(found) == 3 and all(
            len(g["metricValues"]) == 4 and g["sessions"][0]["status"] != "STATUS_UNKNOWN"
            for g in found.values())
        return found if complete else None

    found = hparams_server.poll(groups, desc="3 session groups with 4 metrics each and their status")
    assert sorted(found) == ["sweep/trial-000", "sweep/trial-001", "sweep/trial-002"]
    for result in results:
        group = found[f"sweep/{result.name}"]
        assert group["hparams"] == result.hparams  # JSON numbers: 7.0 == 7
        [one] = group["sessions"]
        assert one["name"] == f"sweep/{result.name}"
        assert one["status"] == {"success": "STATUS_SUCCESS", "failure": "STATUS_FAILURE"}[result.status]
        values = {(m["name"]["tag"], m["name"]["group"]): m["value"] for m in group["metricValues"]}
        assert values == pytest.approx({
            ("epoch_loss", "train"): result.metrics["loss"],
            ("epoch_loss", "validation"): result.metrics["val_loss"],
            ("epoch_accuracy", "train"): result.metrics["accuracy"],
            ("epoch_accuracy", "validation"): result.metrics["val_accuracy"],
        }, rel=1e-6)  # fmt: skip
        steps = {m["trainingStep"] for m in group["metricValues"]}
        assert steps == ({2} if result.status == "success" else {1})  # the last epoch logged
