"""The course's shape, and its code.

* Every lesson `course/NN_slug.md` has its notebook `notebooks/NN_slug.ipynb` (and vice versa),
  its solutions `course/solutions/NN_slug.md`, the six sections in order, non-empty learning
  objectives and exercises, and a row in the syllabus (`course/README.md`).
* Relative links in the course resolve.
* Notebooks are committed clean (no outputs) and use `%load_ext tensorboard` / `%tensorboard`;
  one that loads data with `tfds.load` first calls `offline_tfds_if_requested()`.
* The ```python blocks of each lesson, then of its solutions, run in order in a fresh Python
  process (offline, in an empty folder). A block whose first line is `# not-run: <reason>` is
  skipped; use that sparingly.
"""

import json
import os
import pathlib
import re
import subprocess
import sys
import textwrap
import time

import pytest

nbformat = pytest.importorskip("nbformat")

ROOT = pathlib.Path(__file__).resolve().parents[1]
COURSE = ROOT / "course"
NOTEBOOKS = ROOT / "notebooks"
LESSONS = sorted(COURSE.glob("[0-9][0-9]_*.md"))
SOLUTIONS = sorted((COURSE / "solutions").glob("[0-9][0-9]_*.md"))
SECTIONS = [
    "Learning objectives",
    "The idea",
    "Worked code",
    "What to look for in TensorBoard",
    "Common mistakes",
    "Exercises",
]
NOT_RUN = "# not-run:"
BLOCK_TIMEOUT_S = 270  # all blocks of one file together (pytest-timeout is 300 s)
_FENCE = re.compile(r"^```(\S*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)


def _ids(paths):
    return [p.stem for p in paths]


def _sections(text: str) -> dict[str, str]:
    """`## Heading` -> its body (up to the next `## `), in order."""
    parts = re.split(r"^## +(.+?)[ \t]*$", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def python_blocks(path: pathlib.Path) -> list[tuple[int, str]]:
    """`(first line number, code)` of each ```python block of a markdown file."""
    text = path.read_text()
    blocks = []
    for match in _FENCE.finditer(text):
        if match.group(1) == "python":
            line = text.count("\n", 0, match.start(2)) + 1
            blocks.append((line, match.group(2)))
    return blocks


def test_every_lesson_has_a_notebook_and_every_notebook_a_lesson():
    lessons = {p.stem for p in LESSONS}
    notebooks = {p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")}
    assert lessons, "no lessons in course/"
    assert lessons == notebooks, {
        "lessons without a notebook": sorted(lessons - notebooks),
        "notebooks without a lesson": sorted(notebooks - lessons),
    }
    assert {p.stem for p in SOLUTIONS} <= lessons, "solutions for lessons that do not exist"


@pytest.mark.parametrize("lesson", LESSONS, ids=_ids(LESSONS))
def test_lesson_structure(lesson):
    text = lesson.read_text()
    assert text.startswith("# "), f"{lesson.name} must start with a '# ' title"
    sections = _sections(text)
    assert list(sections) == SECTIONS, f"{lesson.name}: sections {list(sections)}, expected {SECTIONS}"
    for name in ("Learning objectives", "Exercises"):
        items = re.findall(r"^\s*(?:[-*]|\d+\.)\s+\S", sections[name], flags=re.M)
        assert items, f"{lesson.name}: '{name}' has no list items"
    assert (COURSE / "solutions" / lesson.name).is_file(), f"no course/solutions/{lesson.name}"
    syllabus = (COURSE / "README.md").read_text()
    assert f"({lesson.name})" in syllabus, f"course/README.md does not link {lesson.name}"
    assert f"(../notebooks/{lesson.stem}.ipynb)" in syllabus, f"course/README.md does not link its notebook"


def test_relative_links_resolve():
    broken = []
    for page in [COURSE / "README.md", *LESSONS, *SOLUTIONS]:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            if not (page.parent / target.split("#")[0]).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, broken


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem)
def test_notebook_is_clean_and_uses_tensorboard(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    dirty = [i for i, cell in enumerate(code) if cell.outputs or cell.execution_count is not None]
    assert not dirty, f"{path.name}: code cells {dirty} keep outputs; clear them before committing"
    source = "\n".join(cell.source for cell in code)
    assert "%load_ext tensorboard" in source and re.search(r"^%tensorboard --logdir", source, re.M)
    if "tfds.load(" in source:
        assert 0 <= source.find("offline_tfds_if_requested()") < source.find("tfds.load("), (
            f"{path.name} must call keras_tbx.datasets.offline_tfds_if_requested() before tfds.load"
        )


_RUNNER = textwrap.dedent(
    """
    import json, sys
    namespace = {"__name__": "__main__"}
    for block in json.load(open(sys.argv[1])):
        # Pad with newlines so tracebacks point at the markdown file's own line numbers.
        code = compile("\\n" * (block["line"] - 1) + block["code"], block["file"], "exec")
        exec(code, namespace)
    """
)


@pytest.mark.parametrize("page", LESSONS + SOLUTIONS, ids=[f"{p.parent.name}/{p.stem}" for p in LESSONS + SOLUTIONS])
@pytest.mark.timeout(BLOCK_TIMEOUT_S + 30)
def test_python_blocks_run(page, tmp_path, record_property):
    blocks = [
        {"file": str(page), "line": line, "code": code}
        for line, code in python_blocks(page)
        if not code.lstrip().startswith(NOT_RUN)
    ]
    if not blocks:
        pytest.skip(f"{page.name} has no runnable python blocks")
    (tmp_path / "blocks.json").write_text(json.dumps(blocks))
    (tmp_path / "runner.py").write_text(_RUNNER)
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = dict(
        os.environ,
        KERAS_TBX_OFFLINE="1",
        TENSORBOARD_BINARY=str(pathlib.Path(sys.executable).with_name("tensorboard")),
        TF_CPP_MIN_LOG_LEVEL="2",
        MPLBACKEND="Agg",
    )
    start_wall = time.time()
    try:
        result = subprocess.run(
            [sys.executable, str(tmp_path / "runner.py"), str(tmp_path / "blocks.json")],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=BLOCK_TIMEOUT_S,
        )
    finally:
        try:
            import procs  # tests/procs.py; psutil comes with ipykernel

            procs.stop_started_in(workdir, start_wall)
        except ImportError:
            pass
    record_property("seconds", round(time.time() - start_wall, 1))
    assert result.returncode == 0, (
        f"{page.relative_to(ROOT)}: a python block failed\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    )
