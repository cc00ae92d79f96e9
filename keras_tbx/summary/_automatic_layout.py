"""The automatic custom scalars layout: charts for the tags a Keras run writes."""

from __future__ import annotations

import re

from keras_tbx.summary._layouts import Category, Margin, Multiline
from keras_tbx.summary._scalars import _safe_component

_NOT_METRICS = re.compile(r"^(learning_rate(_.+)?|steps_per_second)$")
_BOUNDS = (("lower", "upper"), ("min", "max"))


def _margins(tags: set) -> list:
    """`(base, value, lower, upper)` for every tag family with a value and two bounds:
    `B` or `B_mean` with `B_lower`/`B_upper` or `B_min`/`B_max` ("/" works like "_")."""
    found = []
    for tag in sorted(tags):
        for sep in ("_", "/"):
            for low, high in _BOUNDS:
                if not tag.endswith(sep + low):
                    continue
                base = tag[: -len(sep + low)]
                upper = f"{base}{sep}{high}"
                value = next((v for v in (f"{base}{sep}mean", base) if v in tags), None)
                if upper in tags and value is not None:
                    found.append((base, value, tag, upper))
    return found


def _title(name: str) -> str:
    return name.replace("_", " ")


def automatic_layout(tags, class_names=None) -> tuple:
    """The charts keras_tbx draws for a training run, from the scalar tags it wrote.

    - **Metrics**: for every `epoch_<metric>`, one chart with the training and the
      validation curve (`^epoch_<metric>$` matches the tag in both runs).
    - **Per class**: for every split vector metric (`epoch_<metric>/<class>`) and every
      `per_class/<metric>/<class>` family, one chart with all its classes (and one for
      the `per_class/macro/<metric>` averages).
    - **Per step**: with batch-level logging, `batch_<metric>` together with
      `evaluation_<metric>_vs_iterations` (both at the optimizer step).
    - **Learning rate**: per epoch and, when logged, per step.
    - **Bounds**: a margin chart for every `X` (or `X_mean`) with `X_lower`/`X_upper`
      (or `X_min`/`X_max`).

    Every regex matches at least one tag of `tags`.

    Args:
        tags: The scalar tags written (any runs).
        class_names: Optional class names; with them, per-component tags whose last
            part is not a class name are charted as components ("per component").

    Returns:
        A tuple of `Category` (empty if there is nothing to chart).

    Example:
        >>> layout = automatic_layout({"epoch_loss", "epoch_learning_rate"})
        >>> [(c.title, [ch.title for ch in c.charts]) for c in layout]
        [('Metrics', ['loss']), ('Learning rate', ['learning rate (per epoch)'])]
    """
    tags = {str(t) for t in tags}
    classes = None if class_names is None else {_safe_component(c) for c in class_names}
    margins = _margins(tags)
    in_margin = {t for _, value, low, high in margins for t in (value, low, high)}

    def metric_names(prefix):
        names = []
        for tag in tags - in_margin:
            if tag.startswith(prefix) and "/" not in tag:
                name = tag[len(prefix):]
                if name and not _NOT_METRICS.match(name):
                    names.append(name)
        return sorted(names, key=lambda n: (n != "loss", n))

    def chart(title, *regexes):
        return Multiline(title, regexes)

    metrics = [chart(_title(m), f"^epoch_{re.escape(m)}$") for m in metric_names("epoch_")]

    per_class, seen = [], set()
    families = {}
    for tag in sorted(tags - in_margin):
        head, sep, leaf = tag.rpartition("/")
        if not sep:
            continue
        if head.startswith("epoch_") and "/" not in head:
            families.setdefault(("epoch", head[len("epoch_"):]), set()).add(leaf)
        elif head.startswith("per_class/") and head.count("/") == 1:
            families.setdefault(("per_class", head[len("per_class/"):]), set()).add(leaf)
    for (kind, name), leaves in sorted(families.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if (kind, name) == ("per_class", "macro"):
            title = "macro averages"
        else:
            what = "per class" if classes is None or leaves <= classes else "per component"
            title = f"{_title(name)} {what}"
        if title in seen:
            title = f"{title} ({kind})"
        seen.add(title)
        prefix = "epoch_" if kind == "epoch" else "per_class/"
        per_class.append(chart(title, f"^{re.escape(prefix + name)}/"))

    per_step = []
    for m in metric_names("batch_"):
        regexes = [f"^batch_{re.escape(m)}$"]
        if f"evaluation_{m}_vs_iterations" in tags:
            regexes.append(f"^evaluation_{re.escape(m)}_vs_iterations$")
        per_step.append(chart(f"{_title(m)} (per step)", *regexes))

    rates = []
    for axis, prefix in (("epoch", "epoch_"), ("step", "batch_")):
        if any(re.match(f"^{prefix}learning_rate(_.+)?$", t) for t in tags):
            rates.append(chart(f"learning rate (per {axis})", f"^{prefix}learning_rate(_.+)?$"))

    def margin_title(base):
        if base.startswith("batch_"):
            return f"{_title(base[len('batch_'):])} (per step)"
        return _title(base.removeprefix("epoch_"))

    bounds = [Margin(margin_title(base), value, low, high) for base, value, low, high in margins]

    groups = [("Metrics", metrics), ("Per class", per_class), ("Per step", per_step),
              ("Learning rate", rates), ("Bounds", bounds)]  # fmt: skip
    return tuple(Category(title, charts) for title, charts in groups if charts)
