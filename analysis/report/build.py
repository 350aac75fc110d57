"""Execute the notebooks and export what they made: the suite's main job.

``python -m analysis report [--quick] [--out DIR]`` runs every notebook of
``NOTEBOOKS`` in order, each in a fresh kernel, with QUICK passed to the
cell tagged ``parameters`` (papermill's convention: a cell tagged
``injected-parameters`` is inserted after it). It writes under DIR the
executed notebooks, an HTML page of each, the figures (``figures/``, PNG and
SVG) and tables (``tables/``, CSV) that the notebooks save, and
``index.html`` linking them all with the machine, package versions and date.

Nothing is half-written: every file goes to a temporary file and is renamed
(``analysis.atomic``). The index is rewritten before and after each
notebook, so a report that fails or is stopped (even killed) leaves an index
that links what succeeded and says, for each notebook, whether it ran,
failed (with the cell and error), did not finish, or did not run. One report
writes a folder at a time: a second is refused while the first holds its lock.
"""

import contextlib
import html
import io
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert import HTMLExporter
from PIL import Image
from tqdm.auto import tqdm

from analysis import atomic, paths
from analysis.accuracy.runs import file_lock, writable_folder
from analysis.errors import BadInput, Failed, MissingFile
from analysis.shipped import provenance

# The notebooks in the order they build on each other.
NOTEBOOKS = ("01_architectures", "02_separable_convolution", "03_parameters_and_flops",
             "04_latency", "05_accuracy_tradeoffs")
CELL_TIMEOUT_S = 1800
# The key figures shown in the README, committed as small PNGs under docs/gallery/.
GALLERY = ("01_mobilenet_architecture", "02_separable_ratio", "03_params_macs_by_role",
           "03_alpha_rho_heatmaps", "04_mac_ratio_vs_speed_ratio", "04_roofline",
           "05_published_accuracy_vs_cost", "05_batchnorm_momentum")
GALLERY_WIDTH_PX = 900
LOCK_FILE = ".report.lock"
# What the index says of a notebook.
RAN, FAILED, UNFINISHED, NOT_RUN = "ran", "failed", "did not finish", "not run"


class ReportError(Failed):
    """The report could not be built; the message says which notebook, cell and error."""


@dataclass
class ReportResult:
    out_dir: Path
    notebooks: list = field(default_factory=list)
    seconds: dict = field(default_factory=dict)  # wall time of each notebook, by name
    figures: list = field(default_factory=list)
    tables: list = field(default_factory=list)
    index: Path = None
    status: dict = field(default_factory=dict)  # by name: RAN, FAILED: why, UNFINISHED or NOT_RUN


def check_out_dir(out_dir):
    """Create ``out_dir`` if needed and make sure it is a writable folder."""
    return writable_folder(out_dir, "out", "--out")


def notebook_paths(names=NOTEBOOKS, directory=None):
    """The notebook files in ``directory`` (default ``paths.NOTEBOOKS_DIR``: the checkout's, or
    the copies shipped in the package), checked to exist, in order."""
    directory = Path(directory or paths.NOTEBOOKS_DIR)
    if not directory.is_dir():
        raise MissingFile(f"Notebook folder not found: notebooks={str(directory)!r}")
    found = [directory / f"{name}.ipynb" for name in names]
    missing = [p.name for p in found if not p.is_file()]
    if missing:
        raise MissingFile(f"Notebook missing from {directory}: {', '.join(missing)}")
    return found


def inject_parameters(notebook, quick):
    """Insert ``QUICK = ...`` after the cell tagged ``parameters`` (papermill's convention)."""
    cell = nbformat.v4.new_code_cell(f"QUICK = {bool(quick)}")
    cell.metadata["tags"] = ["injected-parameters"]
    tagged = [i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", [])]
    notebook.cells.insert(tagged[0] + 1 if tagged else 0, cell)
    return notebook


def execute_notebook(path, out_dir, quick, progress=True, kernel_name="python3"):
    """Execute one notebook in a fresh kernel; write the executed copy and its HTML page."""
    notebook = inject_parameters(nbformat.read(path, as_version=4), quick)
    code_cells = sum(c.cell_type == "code" for c in notebook.cells)
    bar = tqdm(total=code_cells, desc=f"  {path.stem}", unit="cell", disable=not progress, leave=False)
    client = NotebookClient(
        notebook, timeout=CELL_TIMEOUT_S, kernel_name=kernel_name,
        resources={"metadata": {"path": str(path.parent)}},
        on_cell_executed=lambda cell, cell_index, execute_reply: bar.update(1),
    )
    executed = out_dir / path.name
    try:
        client.execute()
    except CellExecutionError as error:
        atomic.write_text(executed, nbformat.writes(notebook))
        index = next((i for i, c in enumerate(notebook.cells) if _has_error(c)), None)
        summary = f"{error.ename}: {error.evalue}" if getattr(error, "ename", None) else str(error).splitlines()[-1]
        raise ReportError(f"{path.name}, cell {index}: {summary}") from None
    except Exception as error:  # the kernel did not start or died
        raise ReportError(f"{path.name}: the kernel failed ({type(error).__name__}: {error})") from None
    finally:
        bar.close()
    atomic.write_text(executed, nbformat.writes(notebook))
    page = out_dir / f"{path.stem}.html"
    body, _ = HTMLExporter().from_notebook_node(notebook)
    atomic.write_text(page, body)
    return executed, page


def _has_error(cell):
    return any(o.get("output_type") == "error" for o in cell.get("outputs", []))


def build_report(out_dir=None, quick=False, names=NOTEBOOKS, progress=True, notebooks_dir=None,
                 kernel_name="python3"):
    """Execute ``names`` in order into ``out_dir`` (default reports/) and write its index.

    A failing cell stops the run with a ``ReportError`` naming the notebook,
    the cell and the error; what already succeeded stays on disk, and the
    index links it and says which notebook failed and which did not run (as
    it does after an interruption). A folder that another report is writing
    is refused (``Busy``).
    """
    out_dir = check_out_dir(out_dir or paths.REPORTS_DIR)
    notebooks = notebook_paths(names, notebooks_dir)
    result = ReportResult(out_dir=out_dir, status={path.stem: NOT_RUN for path in notebooks})
    with file_lock(out_dir / LOCK_FILE, what=f"Report folder {out_dir}"):
        # The kernels inherit this environment: they save figures under out_dir and read QUICK.
        with _environment(SUITE_REPORTS_DIR=str(out_dir.resolve()), QUICK="1" if quick else "0"):
            for path in tqdm(notebooks, desc="notebooks", unit="notebook", disable=not progress):
                result.status[path.stem] = UNFINISHED  # what the index says if this run is killed now
                _write_progress(result, quick)
                start = time.perf_counter()
                try:
                    result.notebooks.append(execute_notebook(path, out_dir, quick, progress, kernel_name))
                except ReportError as error:
                    result.status[path.stem] = f"{FAILED}: {error}"
                    _write_progress(result, quick)
                    raise
                except BaseException:  # interrupted: the index says so, and what did not run
                    _write_progress(result, quick)
                    raise
                result.seconds[path.stem] = time.perf_counter() - start
                result.status[path.stem] = RAN
        result.index = _write_progress(result, quick)
    return result


def _write_progress(result, quick):
    """The index as the report stands: what ran, and the status of every notebook."""
    result.figures = sorted((result.out_dir / "figures").glob("*.png"))
    result.tables = sorted((result.out_dir / "tables").glob("*.csv"))
    return write_index(result, quick)


@contextlib.contextmanager
def _environment(**variables):
    """Set environment variables for the duration of a block, then restore them."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def update_gallery(figures_dir, gallery_dir=None, names=GALLERY, width=GALLERY_WIDTH_PX):
    """Copy the ``names`` figures from ``figures_dir`` into ``gallery_dir`` (default: the
    checkout's docs/gallery/), at most ``width`` pixels wide.

    Returns the written paths; a figure the report did not make is a ``ReportError``.
    """
    gallery_dir = gallery_dir or paths.GALLERY_DIR
    if gallery_dir is None:
        raise BadInput("The gallery lives in a checkout's docs/gallery/; this is an installed package. "
                       "Name a folder: gallery=None")
    missing = [n for n in names if not (Path(figures_dir) / f"{n}.png").is_file()]
    if missing:
        raise ReportError(f"Gallery figures missing from {figures_dir}: {', '.join(missing)}")
    gallery_dir = Path(gallery_dir)
    gallery_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        with Image.open(Path(figures_dir) / f"{name}.png") as image:
            image = image.convert("RGB")
            if image.width > width:
                image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
            target = gallery_dir / f"{name}.png"
            buffer = io.BytesIO()
            image.save(buffer, format="PNG", optimize=True)
            atomic.write_bytes(target, buffer.getvalue())
            written.append(target)
    return written


def write_index(result, quick):
    """DIR/index.html: links to every notebook, figure and table, and where it ran."""
    env = provenance()
    out = result.out_dir
    rel = lambda p: html.escape(os.path.relpath(p, out))  # noqa: E731
    pages = {nb.stem: (nb, page) for nb, page in result.notebooks}
    status = result.status or {name: RAN for name in pages}
    items = "".join(_index_item(name, state, pages.get(name), result.seconds.get(name, 0), out, rel)
                    for name, state in status.items())
    complete = all(state == RAN for state in status.values())
    figures = "".join(
        f'<figure><a href="{rel(p.with_suffix(".svg"))}"><img src="{rel(p)}" width="360"></a>'
        f"<figcaption>{html.escape(p.stem)}</figcaption></figure>"
        for p in result.figures
    )
    tables = "".join(f'<li><a href="{rel(p)}">{html.escape(p.name)}</a></li>' for p in result.tables)
    versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items())
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>VGG16 vs MobileNet report</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}figure{{display:inline-block;margin:6px}}</style>
</head><body><h1>VGG16 vs MobileNet: report</h1>
<p>Ran {html.escape(env["date"])} on {html.escape(env["cpu"])} ({env["cores"]} cores),
Python {env["python"]}, {html.escape(env["platform"])}{" in QUICK mode" if quick else ""},
in {sum(result.seconds.values()):.0f} s.</p>
<p>Packages: {html.escape(versions)}</p>
{"" if complete else '<p class="incomplete"><strong>Incomplete report</strong>: some notebooks did not run; '
   'their figures and tables below may be missing or left from an earlier report.</p>'}
<h2>Notebooks</h2><ul>{items}</ul><h2>Figures</h2>{figures or "<p>none</p>"}
<h2>Tables</h2><ul>{tables or "<li>none</li>"}</ul></body></html>"""
    return atomic.write_text(out / "index.html", page)


def _index_item(name, state, written, seconds, out, rel):
    """One notebook's line in the index: its page and notebook where they exist, and its status."""
    if written:
        notebook, page = written
        return (f'<li><a href="{rel(page)}">{html.escape(name)}</a> (<a href="{rel(notebook)}">notebook</a>, '
                f"{seconds:.0f} s)</li>")
    executed = out / f"{name}.ipynb"
    link = f' (<a href="{rel(executed)}">notebook as far as it ran</a>)' if state.startswith(FAILED) \
        and executed.is_file() else ""
    return f"<li>{html.escape(name)}: <strong>{html.escape(state)}</strong>{link}</li>"
