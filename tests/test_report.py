"""python -m analysis report: executes notebooks in fresh kernels and exports what they made."""

import dataclasses
import json
import re

import nbformat
import pandas as pd
import pytest

from analysis.report import build as report
from analysis import paths
from analysis.cli import main
from analysis import results
from nets.errors import MissingFile


def _text(page):
    """The words of an HTML page, tags removed and spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


# VGG16's convolutions (input, output channels) and fully connected layers (inputs, outputs).
VGG_CONV_CHANNELS = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256), (256, 512),
                     (512, 512), (512, 512), (512, 512), (512, 512), (512, 512)]
VGG_CONV_SIDES = [224, 224, 112, 112, 56, 56, 56, 28, 28, 28, 14, 14, 14]
VGG_FC = [(7 * 7 * 512, 4096), (4096, 4096), (4096, 1000)]
# MobileNet's separable blocks (input channels, output channels, output side): the paper's Table 1.
MOBILENET_BLOCKS = [(32, 64, 112), (64, 128, 56), (128, 128, 56), (128, 256, 28), (256, 256, 28), (256, 512, 14)] \
    + [(512, 512, 14)] * 5 + [(512, 1024, 7), (1024, 1024, 7)]


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
    assert injected and injected[0].source == "QUICK = True\nSTUDY = None"
    assert "QUICK is True" in executed.cells[-1].outputs[0]["text"]
    assert (out / "01_first.html").read_text().startswith("<!DOCTYPE html>")
    assert (out / "figures" / "tiny_figure.png").is_file() and (out / "figures" / "tiny_figure.svg").is_file()
    assert result.tables == [out / "tables" / "tiny.csv"]
    assert list(result.seconds) == ["01_first"] and result.seconds["01_first"] > 0
    index = (out / "index.html").read_text()
    for link in ("01_first.html", "01_first.ipynb", "figures/tiny_figure.png", "tables/tiny.csv", "cores"):
        assert link in index
    # Headline first, then the figures as equal thumbnails linking to their SVG, then the notebooks.
    assert index.index("Headline results") < index.index("<h2>Figures") < index.index("<h2>Notebooks")
    assert '<a href="figures/tiny_figure.svg"><img src="figures/tiny_figure.png"' in index
    assert "aspect-ratio:4/3" in index and "object-fit:contain" in index and "display:grid" in index
    text = _text(index)
    assert "01_first ran in" in text
    # VGG16's parameters in closed form (the paper's configuration D), in millions as the index prints them.
    vgg_params = sum(9 * m * n + n for m, n in VGG_CONV_CHANNELS) + sum(m * n + n for m, n in VGG_FC)
    assert f"VGG16 {vgg_params / 1e6:,.2f} M" in text


@pytest.mark.slow  # kernels; test_a_failed_report_keeps_what_ran... checks the same message fast
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
    written = report.update_gallery(figures, tmp_path / "gallery", names=("wide",))
    with Image.open(written[0]) as image:
        assert image.width == 1600  # the least width
    Image.new("RGB", (900, 300)).save(figures / "narrow.png")
    with pytest.raises(report.ReportError, match="narrow.png .900 px"):
        report.update_gallery(figures, tmp_path / "gallery", names=("wide", "narrow"))


def test_a_failed_report_keeps_what_ran_and_its_index_says_what_did_not(notebooks_dir, tmp_path):
    _notebook(notebooks_dir / "03_after.ipynb", "print('never')")
    out = tmp_path / "out"
    with pytest.raises(report.ReportError, match="02_broken.ipynb, cell 4"):
        report.build_report(out, names=("01_first", "02_broken", "03_after"), notebooks_dir=notebooks_dir,
                            progress=False)
    index = (out / "index.html").read_text()
    assert 'href="01_first.html"' in index and "figures/tiny_figure.png" in index  # what succeeded, usable
    assert "02_broken failed: 02_broken.ipynb, cell 4: RuntimeError: the second cell fails" in _text(index)
    assert 'href="02_broken.ipynb">notebook as far as it ran' in index
    assert "03_after not run" in _text(index) and "Incomplete report" in index
    assert not list(out.glob(".*.partial"))


@pytest.mark.slow  # a kernel; the failed report above checks the index of an unfinished report fast
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
    assert "02_broken did not finish" in _text(index) and "03_after not run" in _text(index)


@pytest.mark.slow  # a kernel; test_report_writes_notebooks... runs the same complete report fast
def test_a_complete_report_says_nothing_is_missing(notebooks_dir, tmp_path):
    result = report.build_report(tmp_path / "out", names=("01_first",), notebooks_dir=notebooks_dir, progress=False)
    assert result.status == {"01_first": report.RAN}
    assert "Incomplete report" not in result.index.read_text()


def test_two_reports_do_not_write_one_folder_at_once(notebooks_dir, tmp_path):
    from analysis.atomic import Busy, file_lock

    out = tmp_path / "out"
    out.mkdir()
    with file_lock(out / report.LOCK_FILE):  # another report holds the folder
        with pytest.raises(Busy, match="Report folder .* is in use by another run"):
            report.build_report(out, names=("01_first",), notebooks_dir=notebooks_dir, progress=False)
    assert not (out / "index.html").exists()


# --- the headline ---------------------------------------------------------------------------------

def _latency_rows(rows):
    """Latency rows from (variant, runtime, precision, batch, median ms, IQR ms)."""
    frame = pd.DataFrame(rows, columns=["variant", "runtime", "precision", "batch", "median_ms", "iqr_ms"])
    return frame.assign(ms_per_image=frame["median_ms"] / frame["batch"])


def _about(**extra):
    return {"date": "2026-01-02 03:04 UTC", "cpu": "Test CPU", "cores": 4, "command": "python bench.py", **extra}


def test_headline_cost_is_the_closed_form():
    from analysis.report.headline import cost_headline

    cost = cost_headline()
    vgg_params = sum(9 * m * n + n for m, n in VGG_CONV_CHANNELS) + sum(m * n + n for m, n in VGG_FC)
    vgg_macs = sum(side * side * 9 * m * n for side, (m, n) in zip(VGG_CONV_SIDES, VGG_CONV_CHANNELS)) \
        + sum(m * n for m, n in VGG_FC)
    mobilenet_macs = 112 * 112 * 27 * 32 + sum(s * s * 9 * c + s * s * c * n for c, n, s in MOBILENET_BLOCKS) \
        + 1024 * 1000
    from nets.backend import keras

    mobilenet_params = keras.applications.MobileNet(weights=None).count_params()
    assert cost.loc["VGG16", "params"] == vgg_params and cost.loc["VGG16", "macs"] == vgg_macs
    assert cost.loc["MobileNet 1.0/224", "params"] == mobilenet_params
    assert cost.loc["MobileNet 1.0/224", "macs"] == mobilenet_macs
    assert cost.loc["VGG16 / MobileNet 1.0/224", "macs"] == pytest.approx(vgg_macs / mobilenet_macs)
    assert list(cost["flops"]) [:2] == [2 * vgg_macs, 2 * mobilenet_macs]


def test_headline_latency_is_the_best_of_the_shipped_results_with_their_machine(tmp_path):
    from analysis.report.headline import accuracy_headline, latency_headline

    vgg, mobile = "VGG16", "MobileNet 1.0/224"
    results.register("deployment_latency", _latency_rows([
        (mobile, "keras", "fp32", 1, 10.0, 2.0), (vgg, "keras", "fp32", 1, 100.0, 10.0),
        (mobile, "litert", "int8", 1, 1.0, 0.2), (vgg, "litert", "int8", 1, 20.0, 1.0)]), _about(), tmp_path)
    results.register("latency_study", _latency_rows([
        (mobile, "keras", "fp32", 1, 8.0, 1.0), (vgg, "keras", "fp32", 1, 120.0, 5.0),
        (mobile, "keras", "fp32", 4, 4.0, 1.0), ("MobileNet 0.5/160", "keras", "fp32", 1, 1.0, 0.1)]),
        _about(date="2026-01-05"), tmp_path)
    gpu = _latency_rows([(vgg, "torch", "fp32", 1, 7.0, 0.5), (mobile, "torch", "fp32", 1, 21.0, 2.0),
                         (vgg, "torch", "fp32", 8, 12.0, 4.0)])
    results.register("gpu_latency", gpu, _about(device="Test GPU"), tmp_path)
    table, sources = latency_headline([tmp_path])
    rows = table.set_index("configuration")
    assert list(rows.index) == ["keras", "litert int8", "torch (GPU)"]
    # keras: MobileNet's best is the study's 8 ms (IQR 1), VGG16's the deployment run's 100 ms (IQR 10).
    assert rows.loc["keras", [f"{mobile} ms", f"{mobile} IQR ms", f"{vgg} ms", f"{vgg} IQR ms"]].tolist() == \
        [8.0, 1.0, 100.0, 10.0]
    assert rows.loc["keras", f"{mobile} source"] == "latency_study"
    assert rows.loc["keras", "speed ratio"] == 100.0 / 8.0
    assert rows.loc["litert int8", "machine"] == "Test CPU (4 cores)"
    assert rows.loc["torch (GPU)", "machine"] == "Test GPU" and rows.loc["torch (GPU)", f"{vgg} ms"] == 7.0
    assert set(sources) == {"deployment_latency", "latency_study", "gpu_latency"}
    assert "2026-01-05" in sources["latency_study"] and "Test CPU (4 cores)" in sources["latency_study"]
    accuracy, _ = accuracy_headline([tmp_path])
    # The one published comparison: the MobileNet paper's Table 8 prints VGG16 71.5 % and MobileNet 70.6 %.
    assert accuracy.set_index("network")["top1_%"].to_dict() == {vgg: 71.5, mobile: 70.6}
    assert set(accuracy["source"]) == {"MobileNet paper (Howard et al. 2017), Table 8"}


# --- studies: one machine's measurements ----------------------------------------------------------

def _fingerprint(**changes):
    from analysis.speed.fingerprint import this_machine

    return dataclasses.replace(this_machine(), **changes)


def test_a_study_keeps_whole_parts_and_refuses_another_machine(tmp_path, monkeypatch):
    from analysis.study import folder as study_folder

    study = study_folder.start_or_continue(tmp_path / "s", "python -m analysis study", 15)
    study.write("fake_part", pd.DataFrame({"value": [1.5]}), threads=2)
    again = study_folder.open_study(tmp_path / "s")
    assert again.done == ["fake_part"] and list(again.read("fake_part")["value"]) == [1.5]
    assert again.read("fake_part").attrs["fingerprint"] == again.about["fingerprint"]
    with pytest.raises(MissingFile, match="holds no part 'other'"):
        again.read("other")
    assert study_folder.start_or_continue(tmp_path / "s", "again", 15).done == ["fake_part"]  # continued
    other = _fingerprint(stepping="99", model_name="Another CPU")
    monkeypatch.setattr(study_folder, "this_machine", lambda: other)
    with pytest.raises(ValueError, match="measured on .*this machine is Another CPU"):
        study_folder.check_out(tmp_path / "s")


@pytest.mark.parametrize("argv, fragment", [
    (["report", "--study", "/nonexistent/study"], "No study folder at '/nonexistent/study'"),
    (["predict", "vgg16", "--study", "."], "is not a study"),
    (["study", "--budget", "0"], "Received budget=0.0"),
    (["study", "--budget", "nan"], "Received budget=nan"),
    (["study", "--budget", "-1"], "Received budget=-1.0"),
    (["study", "--out", "tests"], "--out must be a new or empty folder"),
])
def test_study_arguments_are_one_line_exit_2(argv, fragment, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and fragment in err


def test_continuing_a_study_of_another_machine_is_refused_naming_both(tmp_path, capsys):
    from analysis.speed.fingerprint import this_machine

    theirs = _fingerprint(vendor="GenuineIntel", family="6", model="143", model_name="Intel Xeon elsewhere")
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "study.json").write_text(json.dumps({"fingerprint": theirs.to_dict(), "done": []}))
    assert main(["study", "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip()
    assert "Intel Xeon elsewhere" in err and this_machine().describe() in err and len(err.splitlines()) == 1


def test_the_shipped_reference_is_one_machines_study():
    """Every part of the shipped reference study names the study's fingerprint; nothing else but the
    GPU run is shipped as a measurement."""
    folder = paths.DATA_DIR / "study"
    about = json.loads((folder / "study.json").read_text())
    parts = sorted(folder.glob("*.json"))
    assert len(parts) > 5 and set(about["done"]) == {p.stem for p in parts} - {"study"}
    for part in parts:
        assert json.loads(part.read_text())["fingerprint"] == about["fingerprint"], part.name
    assert sorted(p.stem for p in (paths.DATA_DIR / "results").glob("*.json")) == ["gpu_latency"]
