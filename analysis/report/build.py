"""Execute the notebooks and export what they made: the suite's main job.

``python -m analysis report [--quick] [--out DIR]`` runs every notebook of
``NOTEBOOKS`` in order, each in a fresh kernel, with QUICK passed to the
cell tagged ``parameters`` (papermill's convention: a cell tagged
``injected-parameters`` is inserted after it). It writes under DIR the
executed notebooks, an HTML page of each, the figures (``figures/``, PNG and
SVG) and tables (``tables/``, CSV) that the notebooks save, and
``index.html``: the headline results first (parameters and MACs of both
networks, the best latency per runtime and precision from the shipped
results with their machine and date, and accuracy;
``analysis.report.headline``), then every figure as an equal thumbnail that
links to its SVG, then each notebook's status, page and tables, with the
machine, package versions and date of the run.

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
import pandas as pd
from PIL import Image
from tqdm.auto import tqdm

from analysis import atomic, paths
from analysis.atomic import file_lock
from nets.errors import BadInput, Failed, MissingFile
from analysis.results import provenance
from analysis.study.folder import report_study

# The notebooks in the order they build on each other.
NOTEBOOKS = ("01_architectures", "02_separable_convolution", "03_parameters_and_flops",
             "04_latency", "05_accuracy_tradeoffs")
CELL_TIMEOUT_S = 1800
# The key figures shown in the README, committed as small PNGs under docs/gallery/.
GALLERY = ("01_mobilenet_architecture", "02_separable_ratio", "03_params_macs_by_role",
           "03_alpha_rho_heatmaps", "04_mac_ratio_vs_speed_ratio", "04_roofline",
           "05_published_accuracy_vs_cost", "05_batchnorm_momentum")
GALLERY_WIDTH_PX = 1600  # the gallery's PNGs, scaled down to it (save_fig saves them at least this wide)
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
    headline: str = None  # the index's headline section (HTML), made once per report
    studies: list = field(default_factory=list)  # the study folders drawn from, the first the notebooks'


def check_out_dir(out_dir):
    """Create ``out_dir`` if needed and make sure it is a writable folder."""
    return atomic.writable_folder(out_dir, "out", "--out")


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


def inject_parameters(notebook, quick, study=None):
    """Insert ``QUICK = ...`` and ``STUDY = ...`` (a study folder, or None: this machine's or the
    reference) after the cell tagged ``parameters`` (papermill's convention)."""
    cell = nbformat.v4.new_code_cell(f"QUICK = {bool(quick)}\nSTUDY = {str(study) if study else None!r}")
    cell.metadata["tags"] = ["injected-parameters"]
    tagged = [i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", [])]
    notebook.cells.insert(tagged[0] + 1 if tagged else 0, cell)
    return notebook


PART_TAG = "study-part:"


def omit_missing_parts(notebook, study):
    """Replace each cell tagged ``study-part:NAME`` whose part the ``StudyFolder`` ``study`` does not
    hold by one line saying so, and how to measure it; return the notebook."""
    for index, cell in enumerate(notebook.cells):
        wanted = [t[len(PART_TAG):] for t in cell.metadata.get("tags", []) if t.startswith(PART_TAG)]
        missing = [name for name in wanted if name not in study.done]
        if missing:
            why = study.about.get("left_out", {}).get(missing[0])
            notebook.cells[index] = nbformat.v4.new_markdown_cell(
                f"*Not in this study ({study.describe()}): it holds no `{'`, `'.join(missing)}`"
                f"{f' (left out: {why})' if why else ''}. `python -m analysis study --out {study.path} "
                f"--budget MINUTES` measures it.*")
    return notebook


def execute_notebook(path, out_dir, quick, progress=True, kernel_name="python3", study=None):
    """Execute one notebook in a fresh kernel on ``study`` (a folder; None: this machine's study or the
    reference), without the cells whose study part it lacks; write the executed copy and its HTML page."""
    notebook = inject_parameters(nbformat.read(path, as_version=4), quick, study)
    notebook = omit_missing_parts(notebook, report_study(study))
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
                 kernel_name="python3", study=None, compare=()):
    """Execute ``names`` in order into ``out_dir`` (default reports/) and write its index; the
    notebooks draw from ``study`` (a study folder; None: this machine's study, else the reference),
    and the index's headline puts the studies of ``compare`` beside it.

    A failing cell stops the run with a ``ReportError`` naming the notebook,
    the cell and the error; what already succeeded stays on disk, and the
    index links it and says which notebook failed and which did not run (as
    it does after an interruption). A folder that another report is writing
    is refused (``Busy``).
    """
    out_dir = check_out_dir(out_dir or paths.REPORTS_DIR)
    notebooks = notebook_paths(names, notebooks_dir)
    result = ReportResult(out_dir=out_dir, status={path.stem: NOT_RUN for path in notebooks},
                          studies=[study, *compare] if study else [])
    with file_lock(out_dir / LOCK_FILE, what=f"Report folder {out_dir}"):
        # The kernels inherit this environment: they save figures under out_dir and read QUICK.
        with _environment(SUITE_REPORTS_DIR=str(out_dir.resolve()), QUICK="1" if quick else "0"):
            for path in tqdm(notebooks, desc="notebooks", unit="notebook", disable=not progress):
                result.status[path.stem] = UNFINISHED  # what the index says if this run is killed now
                _write_progress(result, quick)
                start = time.perf_counter()
                try:
                    result.notebooks.append(execute_notebook(path, out_dir, quick, progress, kernel_name, study))
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
    checkout's docs/gallery/), ``width`` pixels wide (wider figures scaled down to it).

    Returns the written paths; a figure the report did not make, or one narrower than ``width``
    (not saved by ``analysis.plots.save_fig``, which saves PNGs at least 1,600 px wide), is a
    ``ReportError``.
    """
    gallery_dir = gallery_dir or paths.GALLERY_DIR
    if gallery_dir is None:
        raise BadInput("The gallery lives in a checkout's docs/gallery/; this is an installed package. "
                       "Name a folder: gallery=None")
    missing = [n for n in names if not (Path(figures_dir) / f"{n}.png").is_file()]
    if missing:
        raise ReportError(f"Gallery figures missing from {figures_dir}: {', '.join(missing)}")
    narrow = []
    for name in names:  # every figure checked before any is written
        with Image.open(Path(figures_dir) / f"{name}.png") as image:
            if image.width < width:
                narrow.append(f"{name}.png ({image.width} px)")
    if narrow:
        raise ReportError(f"Gallery figures under the gallery's {width} px: {', '.join(narrow)}; save them with "
                          "analysis.plots.save_fig")
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


INDEX_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222;line-height:1.4}
h1{margin-bottom:.2em} h2{margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.6em 0 1em;font-size:.92em}
th,td{padding:.25em .7em;border-bottom:1px solid #e4e4e4;text-align:right;white-space:nowrap}
td.text{white-space:normal}
th:first-child,td:first-child,td.text,th.text{text-align:left}
thead th{border-bottom:2px solid #999;background:#f6f6f6}
.headline{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:0 2em}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:14px}
.grid figure{margin:0;border:1px solid #ddd;border-radius:4px;padding:6px;background:#fff}
.grid img{display:block;width:100%;aspect-ratio:4/3;object-fit:contain}
.grid figcaption{font-size:.8em;text-align:center;word-break:break-all;margin-top:4px}
.note,.sources{font-size:.85em;color:#555} .incomplete{background:#fff3cd;padding:.5em;border-radius:4px}
.status-ran{color:#1a7f37} .status-failed{color:#b42318} .status-other{color:#9a6700}
"""


def headline_html(directories=None):
    """The index's headline section: cost, best latency per runtime and precision, and accuracy
    (``analysis.report.headline.headline_results``) as HTML tables, with where each comes from.
    A headline that cannot be computed is said so in one line, never a broken index."""
    from analysis.report.headline import MOBILENET, VGG, headline_results

    try:
        head = headline_results(directories)
    except (BadInput, Failed, MissingFile, OSError, KeyError, ValueError) as error:
        return f'<p class="incomplete">Headline results unavailable: {html.escape(str(error))}</p>'
    esc = html.escape
    cost_rows = "".join(  # the last row is the ratio, VGG16 over MobileNet
        f"<tr><td>{esc(name)}</td><td>{row['params']:.1f}×</td><td>{row['macs']:.1f}×</td></tr>" if " / " in name
        else f"<tr><td>{esc(name)}</td><td>{row['params'] / 1e6:,.2f} M</td><td>{row['macs'] / 1e6:,.0f} M</td></tr>"
        for name, row in head.cost.iterrows())
    cost = (f'<div><h3>Cost per image</h3><table><thead><tr><th class="text">network</th><th>parameters</th>'
            f"<th>MACs</th></tr></thead><tbody>{cost_rows}</tbody></table>"
            '<p class="note">Counted by <code>analysis.cost.summarize</code>; one MAC is one multiply-add '
            "(FLOPs = 2 × MACs).</p></div>")

    def time_cell(row, label):
        value = row.get(f"{label} ms")
        if value is None or pd.isna(value):
            return "<td>–</td>"
        return f"<td>{value:.3g} ms <small>± {row[f'{label} IQR ms'] / 2:.2g}</small></td>"

    latency_rows = "".join(
        f'<tr><td>{esc(row["configuration"])}</td><td class="text">{esc(row["machine"])}</td>'
        f"{time_cell(row, MOBILENET)}{time_cell(row, VGG)}"
        f"<td>{row['speed ratio']:.1f}×</td></tr>" for _, row in head.latency.iterrows())
    fastest = []
    for machine, rows in (head.latency.groupby("machine", sort=False) if len(head.latency) else []):
        picks = []
        for label in (MOBILENET, VGG):
            times = rows.dropna(subset=[f"{label} ms"])
            if len(times):
                best = times.loc[times[f"{label} ms"].idxmin()]
                picks.append(f"{esc(label)} {best[f'{label} ms']:.3g} ms ({esc(best['configuration'])})")
        fastest.append(f"<li>on {esc(machine)}: {', '.join(picks)}</li>")
    fastest = f"<p><strong>Fastest</strong></p><ul>{''.join(fastest)}</ul>" if fastest else ""
    latency = (f'<div><h3>Best latency per runtime and precision</h3>{fastest}<table><thead><tr>'
               f'<th class="text">configuration</th><th class="text">machine</th><th>{esc(MOBILENET)}</th>'
               f"<th>{esc(VGG)}</th><th>{esc(VGG)} / MobileNet</th></tr></thead><tbody>{latency_rows}</tbody></table>"
               '<p class="note">Median ms per image at batch 1, ± half the interquartile range; the lowest '
               "over the shipped results that time both networks.</p></div>")
    accuracy_rows = "".join(
        f'<tr><td>{esc(row["network"])}</td><td class="text">{esc(row["dataset"])}</td>'
        f'<td>{row["top1_%"]:.1f} %</td><td class="text">{esc(row["source"])}</td></tr>'
        for _, row in head.accuracy.iterrows())
    accuracy = (f'<div><h3>Top-1 accuracy</h3><table><thead><tr><th class="text">network</th>'
                f'<th class="text">dataset</th><th>top-1</th><th class="text">source</th></tr></thead>'
                f"<tbody>{accuracy_rows}</tbody></table></div>")
    sources = "".join(f"<li><code>{esc(name)}</code>: {esc(line)}</li>" for name, line in head.sources.items())
    return (f'<h2>Headline results</h2><div class="headline">{cost}{accuracy}</div>{latency}'
            f'<details class="sources"><summary>Where the shipped results come from</summary><ul>{sources}</ul>'
            "</details>")


def _figure_grid(figures, rel):
    """Every figure as an equal thumbnail (fixed aspect, the whole figure shown) linking to its SVG."""
    items = []
    for png in figures:
        svg = png.with_suffix(".svg")
        target = rel(svg) if svg.is_file() else rel(png)
        items.append(f'<figure><a href="{target}"><img src="{rel(png)}" alt="{html.escape(png.stem)}" '
                     f'loading="lazy"></a><figcaption>{html.escape(png.stem)}</figcaption></figure>')
    return f'<div class="grid">{"".join(items)}</div>' if items else "<p>none</p>"


def write_index(result, quick):
    """DIR/index.html: the headline results, the figures, each notebook's status, page and tables,
    and where the report ran."""
    env = provenance()
    out = result.out_dir
    rel = lambda p: html.escape(os.path.relpath(p, out))  # noqa: E731
    pages = {nb.stem: (nb, page) for nb, page in result.notebooks}
    status = result.status or {name: RAN for name in pages}
    if result.headline is None:
        result.headline = headline_html(result.studies)
    complete = all(state == RAN for state in status.values())
    claimed = set()
    sections = []
    for name, state in status.items():
        prefix = name.split("_")[0] + "_"
        tables = [p for p in result.tables if p.name.startswith(prefix) and p not in claimed]
        claimed.update(tables)
        sections.append(_index_item(name, state, pages.get(name), result.seconds.get(name, 0), out, rel, tables))
    others = [p for p in result.tables if p not in claimed]
    other_tables = (f"<h3>Other tables</h3><ul>{''.join(_table_link(p, rel) for p in others)}</ul>" if others else "")
    versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items())
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>VGG16 vs MobileNet report</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{INDEX_STYLE}</style>
</head><body><h1>VGG16 vs MobileNet: report</h1>
<p>Ran {html.escape(env["date"])} on {html.escape(env["cpu"])} ({env["cores"]} cores){" in QUICK mode" if quick else ""},
in {sum(result.seconds.values()):.0f} s.</p>
{"" if complete else '<p class="incomplete"><strong>Incomplete report</strong>: some notebooks did not run; '
   'their figures and tables below may be missing or left from an earlier report.</p>'}
{result.headline}
<h2>Figures</h2>{_figure_grid(result.figures, rel)}
<h2>Notebooks</h2>{"".join(sections)}{other_tables}
<p class="note">Python {env["python"]}, {html.escape(env["platform"])}. Packages: {html.escape(versions)}</p>
</body></html>"""
    return atomic.write_text(out / "index.html", page)


def _table_link(path, rel):
    return f'<li><a href="{rel(path)}">{html.escape(path.name)}</a></li>'


def _index_item(name, state, written, seconds, out, rel, tables=()):
    """One notebook's section in the index: its status, its page and notebook where they exist,
    and the tables it wrote."""
    listed = f"<ul>{''.join(_table_link(p, rel) for p in tables)}</ul>" if tables else ""
    if written:
        notebook, page = written
        return (f'<h3><a href="{rel(page)}">{html.escape(name)}</a></h3><p><span class="status-ran">{RAN}</span> '
                f'in {seconds:.0f} s: <a href="{rel(page)}">page</a>, <a href="{rel(notebook)}">notebook</a>'
                f"{', tables:' if tables else ''}</p>{listed}")
    executed = out / f"{name}.ipynb"
    link = f' (<a href="{rel(executed)}">notebook as far as it ran</a>)' if state.startswith(FAILED) \
        and executed.is_file() else ""
    kind = "status-failed" if state.startswith(FAILED) else "status-other"
    return (f'<h3>{html.escape(name)}</h3><p><strong class="{kind}">{html.escape(state)}</strong>{link}'
            f"{'; tables left from an earlier report:' if tables else ''}</p>{listed}")
