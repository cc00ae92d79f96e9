"""Draws course/images/06_graphs.png and 06_text.png from a run of lesson 06's worked code.

Run the lesson's python blocks first (they write `logs/graphs_and_text/cnn-<stamp>`), then,
from the same folder: `python course/images/export_06.py [logs/graphs_and_text/cnn-<stamp>]`
(default: the newest run). Not run in CI.
"""

import json
import pathlib
import sys

import numpy as np
from matplotlib.figure import Figure
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.compat.proto import config_pb2

OUT = pathlib.Path(__file__).resolve().parent


def load(folder):
    events = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    events.Reload()
    return events


def box(ax, x, y, text, color, width=0.8, height=0.5, fontsize=8):
    ax.add_patch(__import__("matplotlib.patches", fromlist=["x"]).FancyBboxPatch(
        (x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.05", fc=color, ec="#555"))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def draw_graphs(run, path):
    config = json.loads(load(run / "train").Tensors("keras")[0].tensor_proto.string_val[0])
    layers = [(l["config"]["name"], l["class_name"]) for l in config["config"]["layers"]]
    graph = config_pb2.RunMetadata.FromString(
        load(run / "forward").Tensors("forward")[0].tensor_proto.string_val[0]
    ).function_graphs[0].pre_optimization_graph
    nodes = {n.name: n for n in graph.node}
    depth = {}

    def level(name):
        if name not in depth:
            inputs = [i.lstrip("^").split(":")[0] for i in nodes[name].input]
            depth[name] = 1 + max((level(i) for i in inputs if i in nodes), default=-1)
        return depth[name]

    for name in nodes:
        level(name)
    fig = Figure(figsize=(10, 6.2), dpi=80)
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 2.4]})
    ax1.set_title("Conceptual graph (tag `keras`)", fontsize=10)
    for i, (name, kind) in enumerate(layers):
        y = len(layers) - i
        box(ax1, 0, y, f"{name}\n{kind}", "#f4d6a0", width=1.4, height=0.62)
        if i:
            ax1.annotate("", (0, y + 0.31), (0, y + 0.69), arrowprops={"arrowstyle": "->"})
    ax1.set(xlim=(-1, 1), ylim=(0.3, len(layers) + 0.7))
    ax2.set_title(f"Op graph (tag `forward`): {len(nodes)} operations", fontsize=10)
    by_level = {}
    for name, d in depth.items():
        by_level.setdefault(d, []).append(name)
    pos = {}
    top = max(by_level)
    for d, names in by_level.items():
        for k, name in enumerate(sorted(names)):
            pos[name] = ((k - (len(names) - 1) / 2) * 1.55, top - d)
    for name, node in nodes.items():
        for i in node.input:
            src = i.lstrip("^").split(":")[0]
            if src in pos:
                (x0, y0), (x1, y1) = pos[src], pos[name]
                ax2.plot([x0, x1], [y0, y1], color="#999", lw=0.7, zorder=0)
    colours = {"ReadVariableOp": "#cfe2f3", "_Arg": "#d9ead3", "_Retval": "#d9ead3", "Const": "#eeeeee"}
    for name, (x, y) in pos.items():
        box(ax2, x, y, nodes[name].op, colours.get(nodes[name].op, "#f4cccc"), width=1.4, height=0.55,
            fontsize=7)
    xs = [p[0] for p in pos.values()]
    ax2.set(xlim=(min(xs) - 1, max(xs) + 1), ylim=(-0.7, top + 0.7))
    for ax in (ax1, ax2):
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path)


def draw_tables(run, path):
    events = load(run / "samples").Tensors("predictions/table")
    fig = Figure(figsize=(8, 3.3), dpi=80)
    for ax, event in zip(fig.subplots(1, 2), (events[0], events[-1])):
        lines = event.tensor_proto.string_val[0].decode().splitlines()
        rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines if "---" not in line]
        cells = [[c.strip("*") for c in row] for row in rows[1:]]
        table = ax.table(cellText=cells, colLabels=rows[0], loc="center", cellLoc="center")
        for r, row in enumerate(rows[1:], start=1):
            if row[2].startswith("**"):
                table[r, 2].get_text().set_fontweight("bold")
                table[r, 2].set_facecolor("#f4cccc")
        ax.set_title(f"predictions/table, step {event.step}", fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path)


if __name__ == "__main__":
    runs = sorted(pathlib.Path("logs/graphs_and_text").glob("cnn-*"))
    run = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else runs[-1]
    draw_graphs(run, OUT / "06_graphs.png")
    draw_tables(run, OUT / "06_text.png")
    print("wrote", OUT / "06_graphs.png", OUT / "06_text.png")
