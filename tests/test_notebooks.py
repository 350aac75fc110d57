"""The committed notebooks: clean, free of logic, and shaped as DESIGN.md asks."""

import re

import nbformat
import pytest

from analysis.report import notebooks

NOTEBOOKS = notebooks.notebook_files()
KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}


def test_there_are_notebooks():
    assert [p.name[:2] for p in NOTEBOOKS] == [f"{i:02d}" for i in range(1, len(NOTEBOOKS) + 1)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_clean_and_holds_no_logic(path):
    notebook = nbformat.read(path, as_version=4)
    assert notebooks.problems(notebook) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_shape(path):
    cells = nbformat.read(path, as_version=4).cells
    code = [c for c in cells if c.cell_type == "code"]
    assert "Setup" in "".join(c.source for c in cells[:3] if c.cell_type == "markdown")
    assert "TF_CPP_MIN_LOG_LEVEL" in code[0].source
    parameters = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1 and re.search(r"^QUICK\s*=", parameters[0].source, flags=re.M)
    assert any("solution" in c.metadata.get("tags", []) for c in code)
    assert not any(re.search(r"""['"]/(home|root|tmp|work|mnt|Users|opt)/""", c.source) for c in code)


def test_clean_strips_volatile_metadata_and_solution_outputs():
    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": KERNEL, "widgets": {"x": 1},
                                                  "language_info": {"name": "python", "version": "3.11.7"}})
    timed = nbformat.v4.new_code_cell("t = measure()", metadata={"tags": ["timing"], "ExecuteTime": {"end_time": "2026-01-01"}})
    timed.outputs = [nbformat.v4.new_output("stream", text="12.3 ms")]
    solved = nbformat.v4.new_code_cell("answer()", metadata={"tags": ["solution"]})
    solved.outputs = [nbformat.v4.new_output("stream", text="42")]
    kept = nbformat.v4.new_code_cell("1 + 1", metadata={"collapsed": True, "tags": ["x"]})
    kept.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "2"}, execution_count=7)]
    notebook.cells = [timed, solved, kept]
    assert notebooks.problems(notebook)
    cleaned = notebooks.clean(notebook)
    assert cleaned.metadata == {"kernelspec": KERNEL, "language_info": {"name": "python"}}
    assert timed.outputs[0]["text"] == "12.3 ms" and timed.metadata == {"tags": ["timing"]}
    assert solved.outputs == []
    assert kept.metadata == {"tags": ["x"]} and kept.execution_count == 3
    assert kept.outputs[0]["execution_count"] == 3
    assert notebooks.problems(cleaned) == []


def test_a_figure_cell_without_its_image_is_a_problem():
    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": KERNEL, "language_info": {"name": "python"}})
    drawn = nbformat.v4.new_code_cell("saved = analysis.plots.save_fig(fig, 'x')", execution_count=1)
    notebook.cells = [drawn]
    assert notebooks.problems(notebook) == ["cell 0: draws a figure (save_fig) but its image is not among its outputs"]
    drawn.outputs = [nbformat.v4.new_output("display_data", data={"image/png": "iVBOR", "text/plain": "<Figure>"})]
    assert notebooks.problems(notebook) == []


def test_definitions_are_found():
    source = "%matplotlib inline\nx = 1\ndef f():\n    pass\nclass K:\n    pass\n"
    assert notebooks.definitions(source) == ["defines function 'f'", "defines class 'K'"]
    assert notebooks.definitions("y = [i for i in range(3)]") == []
