"""Keeping the committed notebooks clean, in the manner of nbstripout and nbdev_clean.

Committed notebooks carry their outputs, so they read well when browsed, but
no volatile metadata and no timing output:

- notebook metadata keeps ``kernelspec`` and ``language_info.name`` only;
- cell metadata keeps ``tags`` and ``jupyter`` (collapsed solutions) only;
- execution counts are renumbered 1, 2, 3, ... over the code cells (nbval
  treats a cell without a count as never run), and output metadata emptied;
- cells tagged ``solution`` lose their outputs: an exercise's answer is given
  in prose below it (a collapsed ``<details>``), so the reader can try first.

Cells tagged ``timing`` keep their outputs, so that a reader on the
repository page sees every figure and table: they are the QUICK run's
measurements, and nbval never compares them (only cells marked
``# NBVAL_CHECK_OUTPUT`` are compared).

``python -m analysis.report.notebooks [NOTEBOOK ...]`` cleans in place (all of
notebooks/ by default); ``--check`` only reports what is not clean; ``--adopt DIR``
takes the executed copies a report wrote in DIR (``adopt``).
"""

import ast
import sys
from pathlib import Path

import nbformat

from analysis import paths

TIMING_TAG = "timing"
SOLUTION_TAG = "solution"
FIGURE_CALL = "save_fig("  # every figure a notebook draws is saved, and shown, by analysis.plots.save_fig
KEPT_CELL_METADATA = ("tags", "jupyter")


def clean(notebook):
    """Return ``notebook`` (an nbformat node) cleaned in place."""
    language = notebook.metadata.get("language_info", {}).get("name", "python")
    notebook.metadata = {"kernelspec": notebook.metadata.get(
        "kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"}),
        "language_info": {"name": language}}
    count = 0
    for cell in notebook.cells:
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in KEPT_CELL_METADATA}
        if cell.cell_type != "code":
            continue
        count += 1
        cell.execution_count = count
        if SOLUTION_TAG in cell.metadata.get("tags", []):
            cell.outputs = []
        for output in cell.outputs:
            if "execution_count" in output:
                output["execution_count"] = count
            if "metadata" in output:
                output["metadata"] = {}
    return notebook


def problems(notebook):
    """What keeps ``notebook`` from being clean or from holding no logic, as sentences."""
    found = []
    extra = set(notebook.metadata) - {"kernelspec", "language_info"}
    if extra or set(notebook.metadata.get("language_info", {})) - {"name"}:
        found.append(f"volatile notebook metadata: {sorted(extra) or 'language_info'}")
    count = 0
    for index, cell in enumerate(notebook.cells):
        if set(cell.metadata) - set(KEPT_CELL_METADATA):
            found.append(f"cell {index}: volatile metadata {sorted(set(cell.metadata) - set(KEPT_CELL_METADATA))}")
        if cell.cell_type != "code":
            continue
        count += 1
        if cell.get("execution_count") != count:
            found.append(f"cell {index}: execution count {cell.get('execution_count')}, not {count} (run order)")
        if SOLUTION_TAG in cell.metadata.get("tags", []) and cell.outputs:
            found.append(f"cell {index}: a solution's output is committed (give the answer in prose)")
        if FIGURE_CALL in cell.source and not any("image/png" in o.get("data", {}) for o in cell.outputs):
            found.append(f"cell {index}: draws a figure (save_fig) but its image is not among its outputs")
        found += [f"cell {index}: {name}" for name in definitions(cell.source)]
    return found


def definitions(source):
    """The functions and classes that ``source`` defines (IPython magics ignored)."""
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    return [f"defines {type(node).__name__.replace('Def', '').lower()} {node.name!r}"
            for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]


def notebook_files(directory=None):
    return sorted(Path(directory or paths.NOTEBOOKS_DIR).glob("[0-9][0-9]_*.ipynb"))


def adopt(executed, target):
    """Write the executed notebook ``executed`` (a report's copy) over ``target``, without the report's
    injected parameters cell, cleaned: how a committed notebook takes a report's outputs."""
    notebook = nbformat.read(executed, as_version=4)
    notebook.cells = [c for c in notebook.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    nbformat.write(clean(notebook), target)
    return target


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--adopt"]:
        for executed in notebook_files(argv[1]):
            print(adopt(executed, paths.NOTEBOOKS_DIR / executed.name))
        return 0
    check = "--check" in argv
    files = [Path(a) for a in argv if a != "--check"] or notebook_files()
    status = 0
    for path in files:
        notebook = nbformat.read(path, as_version=4)
        if check:
            for problem in problems(notebook):
                print(f"{path.name}: {problem}")
                status = 1
        else:
            nbformat.write(clean(notebook), path)
    return status


if __name__ == "__main__":
    sys.exit(main())
