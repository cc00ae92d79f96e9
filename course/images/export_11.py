"""Draws the picture of lesson 11 from the profiles its worked code captured.

    python course/images/export_11.py [logs/profiling]

Converts the newest `slow-input-*` and `fast-input-*` captures with xprof's `overview_page`
tool (what the Profile tab does), takes its step-time graph table (first column `stepnum`) and
writes `11_step_time.png` next to this script: one stacked bar per marked step, the parts of the
step the overview page reports (only those that are not zero), and each run's verdict. A
matplotlib rendering of the overview page's numbers, not a screenshot. Not run by CI.
"""

import json
import logging
import os
import pathlib
import re
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
logging.getLogger("absl").setLevel(logging.ERROR)

from matplotlib.figure import Figure  # noqa: E402
from xprof.convert import raw_to_tool_data  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
RUNS = {"slow-input": "Python decode, no prefetch", "fast-input": "shuffle, batch, prefetch"}
COLOURS = {"Host compute": "#1a73e8", "Input": "#e8710a", "All others": "#9aa0a6"}


def step_time_graph(run):
    """`(column labels, rows, p)` of the overview page's step-time table of a run's capture."""
    [capture] = sorted((run / "train" / "plugins" / "profile").iterdir())[-1:]
    data, _ = raw_to_tool_data.xspace_to_tool_data(sorted(capture.glob("*.xplane.pb")), "overview_page", {})
    [table] = [t for t in json.loads(data) if t.get("cols", [{}])[0].get("id") == "stepnum"]
    labels = [c["label"] for c in table["cols"]]
    rows = [[cell["v"] for cell in row["c"]] for row in table["rows"]]
    return labels, rows, table["p"]


def main(logs):
    graphs = {name: step_time_graph(sorted(logs.glob(f"{name}-*"))[-1]) for name in RUNS}
    fig = Figure(figsize=(7.6, 3.4), dpi=100)
    axes = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [1, 2.2]})
    for ax, (name, (labels, rows, p)) in zip(axes, graphs.items()):
        parts = [i for i, label in enumerate(labels)
                 if label not in ("Step number", "tooltip", "Step time") and any(row[i] for row in rows)]
        steps = [row[0].split()[-1] for row in rows]  # "train 27" -> "27"
        bottom = [0.0] * len(rows)
        for i in parts:
            values = [row[i] for row in rows]
            ax.bar(steps, values, bottom=bottom, label=labels[i], color=COLOURS.get(labels[i]))
            bottom = [b + v for b, v in zip(bottom, values)]
        share = re.search(r"(\d+(?:\.\d+)?)% of the total step time", p["input_conclusion"])
        verdict = "HIGHLY input-bound" if "HIGHLY" in p["input_conclusion"] else "NOT input-bound"
        ax.set_title(f"{name} ({RUNS[name]})\nstep {p['steptime_ms_average']} ms on average, input "
                     f"{p['infeed_time_ms_avg']} ms\n{verdict} ({share.group(1)}% input)", fontsize=8)
        ax.set_xlabel("step (`train N` marker)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("ms", fontsize=8)
    fig.tight_layout()
    fig.savefig(HERE / "11_step_time.png")
    print("11_step_time.png", (HERE / "11_step_time.png").stat().st_size, "bytes")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "logs/profiling"))
