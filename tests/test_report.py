"""python -m analysis report: executes notebooks in fresh kernels and exports what they made."""

import nbformat
import pytest

from analysis.report import build as report
from analysis import paths
from analysis.cli import main


def _notebook(path, *code_cells):
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cells = [nbformat.v4.new_markdown_cell("# Setup")]
    parameters = nbformat.v4.new_code_cell("QUICK = False")
    parameters.metadata["tags"] = ["parameters"]
    cells.append(parameters)
    cells += [nbformat.v4.new_code_cell(code) for code in code_cells]
    notebook.cells = cells
    nbformat.write(notebook, path)


FIGURE_CELL = """
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import analysis.paths, analysis.plots
fig, ax = plt.subplots()
ax.plot([1, 2], [3, 4])
analysis.plots.save_fig(fig, "tiny_figure")
analysis.paths.TABLES_DIR.mkdir(parents=True, exist_ok=True)
(analysis.paths.TABLES_DIR / "tiny.csv").write_text("a,b\\n1,2\\n")
print("QUICK is", QUICK)
"""


@pytest.fixture
def notebooks_dir(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    _notebook(folder / "01_first.ipynb", FIGURE_CELL)
    _notebook(folder / "02_broken.ipynb", "x = 1", "raise RuntimeError('the second cell fails')")
    return folder


def test_report_writes_notebooks_pages_figures_tables_and_index(notebooks_dir, tmp_path):
    out = tmp_path / "out"
    result = report.build_report(out, quick=True, names=("01_first",), notebooks_dir=notebooks_dir, progress=False)
    executed = nbformat.read(out / "01_first.ipynb", as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and injected[0].source == "QUICK = True"
    assert "QUICK is True" in executed.cells[-1].outputs[0]["text"]
    assert (out / "01_first.html").read_text().startswith("<!DOCTYPE html>")
    assert (out / "figures" / "tiny_figure.png").is_file() and (out / "figures" / "tiny_figure.svg").is_file()
    assert result.tables == [out / "tables" / "tiny.csv"]
    assert list(result.seconds) == ["01_first"] and result.seconds["01_first"] > 0
    index = (out / "index.html").read_text()
    for link in ("01_first.html", "01_first.ipynb", "figures/tiny_figure.png", "tables/tiny.csv", "cores"):
        assert link in index


def test_failing_cell_names_notebook_and_cell_and_keeps_earlier_work(notebooks_dir, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(report.ReportError, match=r"02_broken.ipynb, cell 4: RuntimeError: the second cell fails"):
        report.build_report(out, names=("01_first", "02_broken"), notebooks_dir=notebooks_dir, progress=False)
    assert (out / "01_first.html").is_file() and (out / "02_broken.ipynb").is_file()


def test_bad_out_missing_notebook_and_dead_kernel(notebooks_dir, tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    with pytest.raises(ValueError, match="--out must be a folder"):
        report.build_report(a_file, names=("01_first",), notebooks_dir=notebooks_dir, progress=False)
    with pytest.raises(ValueError, match="not a writable folder"):
        report.build_report(a_file / "below", names=("01_first",), notebooks_dir=notebooks_dir, progress=False)
    with pytest.raises(FileNotFoundError, match="missing .*03_absent.ipynb"):
        report.build_report(tmp_path / "o", names=("03_absent",), notebooks_dir=notebooks_dir, progress=False)
    with pytest.raises(report.ReportError, match="01_first.ipynb: the kernel failed"):
        report.build_report(tmp_path / "o", names=("01_first",), notebooks_dir=notebooks_dir, progress=False,
                            kernel_name="no-such-kernel")


def test_report_command_bad_out_is_one_line(tmp_path, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    assert main(["report", "--out", str(a_file)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--out must be a folder" in err


def test_the_report_runs_every_notebook_of_the_checkout_in_order():
    on_disk = sorted(path.stem for path in paths.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    assert list(report.NOTEBOOKS) == on_disk
    assert report.notebook_paths() == [paths.NOTEBOOKS_DIR / f"{name}.ipynb" for name in on_disk]


def test_report_command_names_a_missing_notebook_folder(tmp_path, capsys):
    assert main(["report", "--out", str(tmp_path / "out"), "--notebooks", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "nowhere" in err


def test_gallery_copies_small_pngs(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.plots import save_fig

    figures = tmp_path / "figures"
    fig, ax = plt.subplots(figsize=(12, 4))
    ax.plot([0, 1])
    save_fig(fig, "wide", directory=figures)
    written = report.update_gallery(figures, tmp_path / "gallery", names=("wide",), width=300)
    from PIL import Image

    with Image.open(written[0]) as image:
        assert image.width == 300
    with pytest.raises(report.ReportError, match="missing .*absent"):
        report.update_gallery(figures, tmp_path / "gallery", names=("absent",))


def test_a_failed_report_keeps_what_ran_and_its_index_says_what_did_not(notebooks_dir, tmp_path):
    _notebook(notebooks_dir / "03_after.ipynb", "print('never')")
    out = tmp_path / "out"
    with pytest.raises(report.ReportError, match="02_broken.ipynb, cell 4"):
        report.build_report(out, names=("01_first", "02_broken", "03_after"), notebooks_dir=notebooks_dir,
                            progress=False)
    index = (out / "index.html").read_text()
    assert 'href="01_first.html"' in index and "figures/tiny_figure.png" in index  # what succeeded, usable
    assert "02_broken: <strong>failed: 02_broken.ipynb, cell 4: RuntimeError: the second cell fails" in index
    assert 'href="02_broken.ipynb">notebook as far as it ran' in index
    assert "03_after: <strong>not run</strong>" in index and "Incomplete report" in index
    assert not list(out.glob(".*.partial"))


def test_an_interrupted_report_says_which_notebook_did_not_finish(notebooks_dir, tmp_path, monkeypatch):
    _notebook(notebooks_dir / "03_after.ipynb", "print('never')")
    real = report.execute_notebook

    def interrupted_at_the_second(path, *args, **kwargs):
        if path.stem == "02_broken":
            raise KeyboardInterrupt
        return real(path, *args, **kwargs)

    monkeypatch.setattr(report, "execute_notebook", interrupted_at_the_second)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        report.build_report(out, names=("01_first", "02_broken", "03_after"), notebooks_dir=notebooks_dir,
                            progress=False)
    index = (out / "index.html").read_text()
    assert 'href="01_first.html"' in index
    assert "02_broken: <strong>did not finish</strong>" in index and "03_after: <strong>not run</strong>" in index


def test_a_complete_report_says_nothing_is_missing(notebooks_dir, tmp_path):
    result = report.build_report(tmp_path / "out", names=("01_first",), notebooks_dir=notebooks_dir, progress=False)
    assert result.status == {"01_first": report.RAN}
    assert "Incomplete report" not in result.index.read_text()


def test_two_reports_do_not_write_one_folder_at_once(notebooks_dir, tmp_path):
    from analysis.accuracy.runs import Busy, file_lock

    out = tmp_path / "out"
    out.mkdir()
    with file_lock(out / report.LOCK_FILE):  # another report holds the folder
        with pytest.raises(Busy, match="Report folder .* is in use by another run"):
            report.build_report(out, names=("01_first",), notebooks_dir=notebooks_dir, progress=False)
    assert not (out / "index.html").exists()
