"""Draws course/images/07_latent.png and 07_words.png from a run of lesson 07's worked code.

Run the lesson's python blocks first (they write `logs/projector/latent-<stamp>` and
`words-<stamp>`), then, from the same folder: `python course/images/export_07.py`. Uses the newest
runs; scikit-learn's t-SNE takes a few seconds. Not run in CI.
"""

import pathlib

import numpy as np
import tensorflow as tf
from matplotlib import colormaps
from matplotlib.figure import Figure
from sklearn.manifold import TSNE

OUT = pathlib.Path(__file__).resolve().parent
LOGS = pathlib.Path("logs/projector")


def exported(run, name):
    """The vectors and the metadata rows (header row included when there is one) of `name`."""
    folder = run / "train"
    vectors = tf.train.load_checkpoint(tf.train.latest_checkpoint(folder)).get_tensor(
        f"{name}/.ATTRIBUTES/VARIABLE_VALUE")
    rows = (folder / f"metadata_{name}.tsv").read_text().splitlines()
    return vectors, [row.split("\t") for row in rows]


def pca(vectors, k=2):
    centred = vectors - vectors.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:k].T, (s[:k] ** 2).sum() / (s ** 2).sum()


def draw_latent(run, path):
    vectors, rows = exported(run, "latent")
    labels = np.array([int(r[0]) for r in rows])
    flat, share = pca(vectors)
    tsne = TSNE(perplexity=30, init="pca", random_state=0).fit_transform(vectors)
    fig = Figure(figsize=(9, 4.3), dpi=80)
    cmap = colormaps["tab10"]
    for ax, xy, title in zip(fig.subplots(1, 2), (flat, tsne),
                             (f"PCA (2 components: {share:.0%} of the variance)", "t-SNE (perplexity 30)")):
        for digit in range(10):
            pts = xy[labels == digit]
            ax.scatter(pts[:, 0], pts[:, 1], s=7, color=cmap(digit), label=str(digit))
            cx, cy = np.median(pts, axis=0)
            ax.text(cx, cy, str(digit), fontsize=13, weight="bold", color=cmap(digit),
                    bbox={"fc": "white", "alpha": 0.6, "lw": 0})
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Layer `latent` on 500 validation digits, coloured by label", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)


def draw_words(run, path):
    vectors, rows = exported(run, "word_embedding")
    header, rows = rows[0], rows[1:]
    words, kinds = [r[header.index("word")] for r in rows], [r[header.index("kind")] for r in rows]
    flat, share = pca(vectors)
    colours = {"positive": "tab:green", "negative": "tab:red", "neutral": "tab:gray", "special": "tab:blue"}
    fig = Figure(figsize=(8, 4.6), dpi=80)
    ax = fig.subplots()
    for (x, y), word, kind in zip(flat, words, kinds):
        ax.scatter(x, y, s=12, color=colours[kind])
        ax.annotate(word or '""', (x, y), fontsize=8, color=colours[kind], xytext=(3, 2),
                    textcoords="offset points")
    for kind, colour in colours.items():
        ax.scatter([], [], color=colour, label=kind)
    ax.legend(fontsize=8, loc="best")
    ax.set_title(f"`word_embedding`, PCA (2 components: {share:.1%} of the variance)", fontsize=10)
    ax.set_xlabel("component 1")
    ax.set_ylabel("component 2")
    fig.tight_layout()
    fig.savefig(path)


if __name__ == "__main__":
    draw_latent(sorted(LOGS.glob("latent-*"))[-1], OUT / "07_latent.png")
    draw_words(sorted(LOGS.glob("words-*"))[-1], OUT / "07_words.png")
    print("wrote", OUT / "07_latent.png", OUT / "07_words.png")
