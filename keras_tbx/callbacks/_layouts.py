"""Custom scalars part: one layout per log dir, written at its root.

The automatic charts come from the scalar tags the callback actually wrote (every part's,
as recorded by the writers), which are known only once the first epoch has been logged:
the layout is written right after it (`AfterFirstEpoch`: at the next `epoch_begin`, or at
`train_end`). A user layout without automatic charts is written at train begin.
TensorBoard merges the layouts of all runs it serves (charts of same-titled categories
are combined), so the runs of one sweep share one set of charts.
"""

from __future__ import annotations

from keras_tbx._core.context import AfterFirstEpoch, LogContext
from keras_tbx.summary._automatic_layout import automatic_layout
from keras_tbx.summary._layouts import custom_scalars_pb, merge_layouts


class ScalarLayout(AfterFirstEpoch):
    """Writes the custom scalars layout once: the user's charts, then the automatic ones.

    Args:
        layout: The user's charts (a tuple of `Category`, possibly empty).
        auto: Add the automatic charts (`keras_tbx.summary.automatic_layout`).
    """

    def __init__(self, layout: tuple, auto: bool):
        self.layout = layout
        self.auto = auto
        self.written = False

    def _write(self, layout, ctx: LogContext) -> None:
        if layout and not self.written:
            ctx.writers.run("").write_pb(custom_scalars_pb(layout), 0)
            ctx.writers.run("").flush()
        self.written = True

    def train_begin(self, ctx: LogContext) -> None:
        if not self.auto:
            self._write(self.layout, ctx)

    def first_epoch_logged(self, ctx: LogContext) -> None:
        tags = ctx.writers.scalar_tags()
        self._write(merge_layouts(self.layout, automatic_layout(tags, ctx.class_names)), ctx)
