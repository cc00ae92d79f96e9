"""Custom scalar layouts: charts that put related scalars side by side.

TensorBoard's Custom Scalars dashboard draws charts described by a `Layout` proto that a
run stores under the tag `custom_scalars__config__`. TensorFlow 2 has no summary function
for it, so `custom_scalars()` builds the proto and writes it with `write_raw_pb`.

A layout is written as the familiar nested dict

    {"Category": {"Chart title": ["Multiline", [tag regexes]],
                  "Other chart": ["Margin", [value tag, lower tag, upper tag]]}}

or as value objects (`Category`, `Multiline`, `Margin`). Tag regexes are matched by
TensorBoard with Python's `re.match` against the tags of every run, so one chart with
`^epoch_loss$` shows the training and the validation curve (runs `train/` and
`validation/`) together.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping

from tensorboard.compat.proto import summary_pb2, tensor_pb2, types_pb2
from tensorboard.plugins.custom_scalar import layout_pb2
from tensorboard.plugins.custom_scalar import metadata as _metadata

from keras_tbx._core.validation import _fail
from keras_tbx.summary._raw import write_summary_pb

LAYOUT_TAG = _metadata.CONFIG_SUMMARY_TAG  # "custom_scalars__config__"
CHART_KINDS = ("Multiline", "Margin")


def _check_title(arg, value):
    if not isinstance(value, str) or not value:
        _fail(arg, "a non-empty string", value, TypeError)
    return value


def _check_regexes(arg, value):
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        _fail(arg, "a list of tag regexes (str)", value, TypeError)
    tags = tuple(value)
    if not tags:
        _fail(arg, "a non-empty list of tag regexes", value)
    for i, tag in enumerate(tags):
        if not isinstance(tag, str) or not tag:
            _fail(f"{arg}[{i}]", "a non-empty regex string", tag, TypeError)
        try:
            re.compile(tag)
        except re.error as e:
            _fail(f"{arg}[{i}]", f"a valid regular expression ({e})", tag)
    return tags


def _check_margin_tags(arg, value):
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        _fail(arg, "a list [value tag, lower tag, upper tag]", value, TypeError)
    tags = tuple(value)
    if len(tags) != 3:
        _fail(arg, f"a list of exactly 3 tags [value, lower, upper] (got {len(tags)})", value)
    for i, tag in enumerate(tags):
        if not isinstance(tag, str) or not tag:
            _fail(f"{arg}[{i}]", "a non-empty tag (str)", tag, TypeError)
    return tags


def _js_escape(tag: str) -> str:
    # What the dashboard does to a margin chart's tags before asking for them.
    return re.sub(r"[.*+?^${}()|\[\]\\]", lambda m: "\\" + m.group(0), tag)


@dataclasses.dataclass(frozen=True)
class Multiline:
    """A chart with one line per (run, tag) whose tag matches one of `tags` (regexes).

    Example:
        >>> Multiline("loss", ["^epoch_loss$"]).tag_filter
        '^epoch_loss$'
    """

    title: str
    tags: tuple

    def __post_init__(self):
        _check_title("title", self.title)
        object.__setattr__(self, "tags", _check_regexes("tags", self.tags))

    @property
    def tag_filter(self) -> str:
        """The regex the dashboard sends to `/data/plugin/custom_scalars/scalars`."""
        if len(self.tags) == 1:
            return self.tags[0]
        return "|".join(f"({t})" for t in self.tags)

    def to_pb(self) -> layout_pb2.Chart:
        return layout_pb2.Chart(
            title=self.title, multiline=layout_pb2.MultilineChartContent(tag=self.tags)
        )


@dataclasses.dataclass(frozen=True)
class Margin:
    """A chart of `value` with a band from `lower` to `upper` (exact tags, per run).

    Example:
        >>> Margin("error", "epoch_error_mean", "epoch_error_lower", "epoch_error_upper").title
        'error'
    """

    title: str
    value: str
    lower: str
    upper: str

    def __post_init__(self):
        _check_title("title", self.title)
        _check_margin_tags("[value, lower, upper]", (self.value, self.lower, self.upper))

    @property
    def tags(self) -> tuple:
        return (self.value, self.lower, self.upper)

    @property
    def tag_filter(self) -> str:
        """The regex the dashboard sends to `/data/plugin/custom_scalars/scalars`."""
        return "|".join(f"({_js_escape(t)})" for t in self.tags)

    def to_pb(self) -> layout_pb2.Chart:
        series = layout_pb2.MarginChartContent.Series(
            value=self.value, lower=self.lower, upper=self.upper
        )
        return layout_pb2.Chart(
            title=self.title, margin=layout_pb2.MarginChartContent(series=[series])
        )


@dataclasses.dataclass(frozen=True)
class Category:
    """A titled, collapsible group of charts (`closed=True` starts it collapsed).

    Example:
        >>> Category("Losses", [Multiline("loss", ["^epoch_loss$"])]).charts[0].title
        'loss'
    """

    title: str
    charts: tuple
    closed: bool = False

    def __post_init__(self):
        _check_title("title", self.title)
        charts = tuple(self.charts)
        for i, chart in enumerate(charts):
            if not isinstance(chart, (Multiline, Margin)):
                _fail(f"charts[{i}]", "a Multiline or Margin chart", chart, TypeError)
        if not isinstance(self.closed, bool):
            _fail("closed", "a bool", self.closed, TypeError)
        object.__setattr__(self, "charts", charts)

    def to_pb(self) -> layout_pb2.Category:
        return layout_pb2.Category(
            title=self.title, chart=[c.to_pb() for c in self.charts], closed=self.closed
        )


_LAYOUT_FORM = (
    'a dict {"Category": {"Chart title": ["Multiline", [tag regexes]] or '
    '["Margin", [value, lower, upper]]}}, a list of Category, or a Layout proto'
)


def _parse_chart(arg, title, spec):
    if isinstance(spec, (Multiline, Margin)):
        return dataclasses.replace(spec, title=title)
    if isinstance(spec, (str, bytes)) or not isinstance(spec, (list, tuple)) or len(spec) != 2:
        _fail(arg, '[kind, tags] with kind "Multiline" or "Margin"', spec, TypeError)
    kind, tags = spec
    if not isinstance(kind, str) or kind.lower() not in ("multiline", "margin"):
        _fail(f"{arg}[0]", 'a chart kind, "Multiline" or "Margin"', kind)
    if kind.lower() == "multiline":
        return Multiline(title, _check_regexes(f"{arg}[1]", tags))
    return Margin(title, *_check_margin_tags(f"{arg}[1]", tags))


def _from_pb(layout) -> tuple:
    categories = []
    for category in layout.category:
        charts = []
        for chart in category.chart:
            if chart.HasField("margin"):
                for s in chart.margin.series:
                    charts.append(Margin(chart.title, s.value, s.lower, s.upper))
            else:
                charts.append(Multiline(chart.title, tuple(chart.multiline.tag)))
        categories.append(Category(category.title, charts, category.closed))
    return tuple(categories)


def parse_layout(layout, *, arg: str = "layout") -> tuple:
    """Validates a layout and returns it as a tuple of `Category`.

    Args:
        layout: None (no charts), the nested dict form (see the module docstring), one
            `Category` or a list of them, or a `layout_pb2.Layout` proto.
        arg: The argument name used in error messages.

    Returns:
        A tuple of `Category`.

    Raises:
        TypeError, ValueError: On an unknown chart kind, a wrong number of tags, an
            invalid regex, ..., naming where in `layout` the problem is.

    Example:
        >>> [c.title for c in parse_layout({"Losses": {"loss": ["Multiline", ["^epoch_loss$"]]}})]
        ['Losses']
    """
    if layout is None:
        return ()
    if isinstance(layout, layout_pb2.Layout):
        return _from_pb(layout)
    if isinstance(layout, Category):
        return (layout,)
    if isinstance(layout, Mapping):
        categories = []
        for title, charts in layout.items():
            where = f"{arg}[{title!r}]"
            if not isinstance(title, str) or not title:
                _fail(where, "keyed by a non-empty category title (str)", title, TypeError)
            if not isinstance(charts, Mapping) or not charts:
                _fail(where, 'a non-empty dict {"Chart title": [kind, tags]}', charts, TypeError)
            parsed = []
            for chart_title, spec in charts.items():
                if not isinstance(chart_title, str) or not chart_title:
                    _fail(f"{where}[{chart_title!r}]", "keyed by a non-empty chart title (str)",
                          chart_title, TypeError)
                parsed.append(_parse_chart(f"{where}[{chart_title!r}]", chart_title, spec))
            categories.append(Category(title, parsed))
        return tuple(categories)
    if isinstance(layout, (list, tuple)):
        for i, category in enumerate(layout):
            if not isinstance(category, Category):
                _fail(f"{arg}[{i}]", "a Category", category, TypeError)
        titles = [c.title for c in layout]
        if len(set(titles)) != len(titles):
            _fail(arg, "a list of categories with distinct titles", titles)
        return tuple(layout)
    _fail(arg, _LAYOUT_FORM, layout, TypeError)


def merge_layouts(*layouts) -> tuple:
    """Merges layouts; on a clash the earlier layout wins.

    Categories with the same title become one (the earlier one's charts first, then the
    later ones' charts whose titles it does not have). Categories keep their first order.

    Example:
        >>> a = {"Metrics": {"loss": ["Multiline", ["^my_loss$"]]}}
        >>> b = {"Metrics": {"loss": ["Multiline", ["^epoch_loss$"]],
        ...                  "accuracy": ["Multiline", ["^epoch_accuracy$"]]}}
        >>> [(c.title, c.tags) for c in merge_layouts(a, b)[0].charts]
        [('loss', ('^my_loss$',)), ('accuracy', ('^epoch_accuracy$',))]
    """
    merged = {}
    for layout in layouts:
        for category in parse_layout(layout):
            if category.title not in merged:
                merged[category.title] = category
                continue
            first = merged[category.title]
            have = {c.title for c in first.charts}
            extra = tuple(c for c in category.charts if c.title not in have)
            merged[category.title] = dataclasses.replace(first, charts=first.charts + extra)
    return tuple(merged.values())


def layout_pb(layout) -> layout_pb2.Layout:
    """The custom scalars plugin's `Layout` proto for `layout` (see `parse_layout`)."""
    return layout_pb2.Layout(category=[c.to_pb() for c in parse_layout(layout)])


def custom_scalars_pb(layout) -> summary_pb2.Summary:
    """A `Summary` holding `layout`, as the plugin's own (TF1) `summary.pb()` builds it.

    Example:
        >>> custom_scalars_pb({"A": {"a": ["Multiline", ["^a$"]]}}).value[0].tag
        'custom_scalars__config__'
    """
    tensor = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_STRING, string_val=[layout_pb(layout).SerializeToString()]
    )
    summary = summary_pb2.Summary()
    summary.value.add(tag=LAYOUT_TAG, metadata=_metadata.create_summary_metadata(), tensor=tensor)
    return summary


def custom_scalars(layout, step=0) -> bool:
    """Writes a custom scalars layout to the default writer.

    TensorBoard merges the layouts of all runs it sees (charts with the same category
    title are combined), so write one per run group, usually at the root of a log dir.

    Args:
        layout: See `parse_layout`.
        step: The step to write at (the dashboard reads one layout per run).

    Returns:
        True if written, False if no default writer is set or recording is off.

    Example:
        ```python
        with tf.summary.create_file_writer("logs/run1").as_default():
            custom_scalars({"Losses": {"loss": ["Multiline", ["^epoch_loss$"]]}})
        ```
    """
    return write_summary_pb(custom_scalars_pb(layout), step)
