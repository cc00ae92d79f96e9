"""Custom scalar layouts: parsing and validation, the proto, merging, the automatic charts."""

from __future__ import annotations

import re

import pytest
from tensorboard.plugins.custom_scalar import layout_pb2

from keras_tbx import summary
from keras_tbx.summary import Category, Margin, Multiline

USER = {
    "Losses": {
        "train vs validation": ["Multiline", ["^epoch_loss$"]],
        "band": ["Margin", ["epoch_err_mean", "epoch_err_lower", "epoch_err_upper"]],
    },
    "Speed": {"steps/s": ["multiline", ["^epoch_steps_per_second$", "^batch_steps.*"]]},
}


def test_dict_and_objects_parse_to_the_same_proto():
    objects = [
        Category("Losses", [
            Multiline("train vs validation", ["^epoch_loss$"]),
            Margin("band", "epoch_err_mean", "epoch_err_lower", "epoch_err_upper"),
        ]),
        Category("Speed", [Multiline("steps/s", ("^epoch_steps_per_second$", "^batch_steps.*"))]),
    ]  # fmt: skip
    assert summary.parse_layout(USER) == tuple(objects)
    pb = summary.layout_pb(USER)
    assert pb == summary.layout_pb(objects)
    assert [c.title for c in pb.category] == ["Losses", "Speed"]
    band = pb.category[0].chart[1].margin.series[0]
    assert (band.value, band.lower, band.upper) == ("epoch_err_mean", "epoch_err_lower", "epoch_err_upper")
    assert summary.parse_layout(pb) == tuple(objects)  # and back
    assert summary.parse_layout(None) == ()


def test_custom_scalars_pb_is_what_the_plugin_reads():
    pb = summary.custom_scalars_pb(USER)
    [value] = pb.value
    assert value.tag == "custom_scalars__config__"
    assert value.metadata.plugin_data.plugin_name == "custom_scalars"
    layout = layout_pb2.Layout.FromString(value.tensor.string_val[0])
    assert layout == summary.layout_pb(USER)


def test_tag_filter_is_what_the_dashboard_asks_for():
    assert Multiline("a", ["^x$"]).tag_filter == "^x$"
    assert Multiline("a", ["^x$", "^y"]).tag_filter == "(^x$)|(^y)"
    margin = Margin("m", "a.b", "a.b_lower", "a.b_upper")
    assert margin.tag_filter == r"(a\.b)|(a\.b_lower)|(a\.b_upper)"
    assert re.match(margin.tag_filter, "a.b_upper")


@pytest.mark.parametrize(
    "layout, error, message",
    [
        ({"L": {"c": ["Line", ["^a$"]]}}, ValueError,
         r"Argument `layout\['L'\]\['c'\]\[0\]` must be a chart kind, \"Multiline\" or \"Margin\"\. "
         r"Received: layout\['L'\]\['c'\]\[0\]='Line'"),
        ({"L": {"c": ["Margin", ["a", "b"]]}}, ValueError,
         r"exactly 3 tags \[value, lower, upper\] \(got 2\)"),
        ({"L": {"c": ["Multiline", ["(unclosed"]]}}, ValueError,
         r"Argument `layout\['L'\]\['c'\]\[1\]\[0\]` must be a valid regular expression"),
        ({"L": {"c": ["Multiline", "^a$"]}}, TypeError, r"must be a list of tag regexes"),
        ({"L": {"c": ["Multiline", []]}}, ValueError, r"non-empty list of tag regexes"),
        ({"L": {"c": ["Multiline"]}}, TypeError, r"\[kind, tags\]"),
        ({"L": {"c": ("Multiline", ["^a$"], "extra")}}, TypeError, r"\[kind, tags\]"),
        ({"L": {}}, TypeError, r"Argument `layout\['L'\]` must be a non-empty dict"),
        ({"L": ["Multiline", ["^a$"]]}, TypeError, r"Argument `layout\['L'\]` must be"),
        ({3: {"c": ["Multiline", ["^a$"]]}}, TypeError, r"category title"),
        ("^epoch_loss$", TypeError, r"Argument `layout` must be a dict"),
        ([Category("A", [Multiline("a", ["^a$"])])] * 2, ValueError, "distinct titles"),
    ],
)
def test_invalid_layouts_name_the_argument(layout, error, message):
    with pytest.raises(error, match=message):
        summary.parse_layout(layout)


def test_value_objects_validate_too():
    with pytest.raises(ValueError, match=r"Argument `tags\[1\]` must be a valid regular expression"):
        Multiline("x", ["^a$", "a**"])
    with pytest.raises(TypeError, match=r"Argument `charts\[1\]` must be a Multiline or Margin chart"):
        Category("C", [Multiline("x", ["a"]), "^b$"])
    with pytest.raises(TypeError, match=r"Argument `title` must be a non-empty string"):
        Margin("", "a", "b", "c")


def test_merge_keeps_the_first_layout_on_clashes():
    auto = summary.automatic_layout({"epoch_loss", "epoch_accuracy"})
    mine = {"Metrics": {"loss": ["Multiline", ["^epoch_loss$", "^my_loss$"]]},
            "Extra": {"x": ["Multiline", ["^x$"]]}}  # fmt: skip
    merged = summary.merge_layouts(mine, auto)
    assert [c.title for c in merged] == ["Metrics", "Extra"]
    assert [(ch.title, ch.tags) for ch in merged[0].charts] == [
        ("loss", ("^epoch_loss$", "^my_loss$")),
        ("accuracy", ("^epoch_accuracy$",)),
    ]


# What keras_tbx.TensorBoard writes for a model with a loss, accuracy, F1Score(average=None),
# batch logging, a validation split and the classification part.
TRAIN_TAGS = {
    "epoch_loss", "epoch_accuracy", "epoch_f1_score/cat", "epoch_f1_score/dog",
    "epoch_learning_rate", "epoch_steps_per_second", "batch_loss", "batch_accuracy",
    "batch_f1_score/cat", "batch_f1_score/dog", "batch_learning_rate", "batch_steps_per_second",
    "per_class/accuracy/cat", "per_class/accuracy/dog", "per_class/macro/accuracy",
    "per_class/macro/f1", "epoch_err_mean", "epoch_err_lower", "epoch_err_upper",
}  # fmt: skip
VALIDATION_TAGS = {
    "epoch_loss", "epoch_accuracy", "epoch_f1_score/cat", "epoch_f1_score/dog",
    "evaluation_loss_vs_iterations", "evaluation_accuracy_vs_iterations",
    "evaluation_f1_score_vs_iterations/cat", "per_class/accuracy/cat",
}  # fmt: skip


# The automatic charts of a run with loss and accuracy, logged per step and validated.
PER_STEP_CHARTS = {
    "Metrics": [("loss", ("^epoch_loss$",)), ("accuracy", ("^epoch_accuracy$",))],
    "Per step": [
        ("loss (per step)", ("^batch_loss$", "^evaluation_loss_vs_iterations$")),
        ("accuracy (per step)", ("^batch_accuracy$", "^evaluation_accuracy_vs_iterations$")),
    ],
    "Learning rate": [
        ("learning rate (per epoch)", ("^epoch_learning_rate(_.+)?$",)),
        ("learning rate (per step)", ("^batch_learning_rate(_.+)?$",)),
    ],
}


def charts(layout) -> dict:
    """`{category: [(chart title, tags), ...]}`."""
    return {c.title: [(ch.title, ch.tags) for ch in c.charts] for c in layout}


def test_automatic_layout_charts():
    layout = summary.automatic_layout(TRAIN_TAGS | VALIDATION_TAGS, class_names=["cat", "dog"])
    assert charts(layout) == {
        **PER_STEP_CHARTS,
        "Per class": [
            ("accuracy per class", ("^per_class/accuracy/",)),
            ("f1 score per class", ("^epoch_f1_score/",)),
            ("macro averages", ("^per_class/macro/",)),
        ],
        "Bounds": [("err", ("epoch_err_mean", "epoch_err_lower", "epoch_err_upper"))],
    }
    assert [c.title for c in layout] == ["Metrics", "Per class", "Per step", "Learning rate", "Bounds"]
    # Every chart's filter matches tags that are written, and only the ones it should.
    matched = {
        ch.title: {t for t in TRAIN_TAGS | VALIDATION_TAGS if re.match(ch.tag_filter, t)}
        for c in layout for ch in c.charts
    }  # fmt: skip
    assert matched["loss"] == {"epoch_loss"}
    assert matched["f1 score per class"] == {"epoch_f1_score/cat", "epoch_f1_score/dog"}
    assert matched["loss (per step)"] == {"batch_loss", "evaluation_loss_vs_iterations"}
    assert matched["err"] == {"epoch_err_mean", "epoch_err_lower", "epoch_err_upper"}
    assert all(matched.values())


def test_automatic_layout_edge_cases():
    assert summary.automatic_layout(set()) == ()
    # Components that are not class names are charted "per component"; a value with
    # min/max bounds and "/" separators makes a margin chart.
    layout = summary.automatic_layout(
        {"epoch_iou/0_1", "epoch_iou/1_0", "epoch_g/min", "epoch_g/max", "epoch_g",
         "epoch_learning_rate_adam", "epoch_learning_rate_sgd"}, class_names=["a", "b"])  # fmt: skip
    assert charts(layout) == {
        "Per class": [("iou per component", ("^epoch_iou/",))],
        "Learning rate": [("learning rate (per epoch)", ("^epoch_learning_rate(_.+)?$",))],
        "Bounds": [("g", ("epoch_g", "epoch_g/min", "epoch_g/max"))],
    }
    # Regex characters in metric names are escaped.
    [metrics] = summary.automatic_layout({"epoch_a.b+c"})
    assert metrics.charts[0].tags == (r"^epoch_a\.b\+c$",)
