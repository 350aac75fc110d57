"""What docs/teaching.md names exists: each notebook section (§) and each exercise it sets."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEACHING = (ROOT / "docs" / "teaching.md").read_text(encoding="utf8")


def _notebook(number):
    (path,) = (ROOT / "notebooks").glob(f"{number}_*.ipynb")
    return json.loads(path.read_text(encoding="utf8"))["cells"]


def _sections(number):
    """The numbers of the notebook's "## N." section headings."""
    found = set()
    for cell in _notebook(number):
        if cell["cell_type"] == "markdown":
            found |= {int(n) for n in re.findall(r"^## (\d+)\.", "".join(cell["source"]), re.M)}
    return found


def _exercises(number):
    """The exercises the notebook sets after its Exercises heading: items "N. **...**" or
    "**N. ...**" in markdown, and solution cells "# Exercise N"."""
    found, started = set(), False
    for cell in _notebook(number):
        text = "".join(cell["source"])
        started = started or (cell["cell_type"] == "markdown" and bool(re.search(r"^## (\d+\. )?Exercises", text, re.M)))
        if not started:
            continue
        pattern = r"^(\d+)\. \*\*|^\*\*(\d+)\. " if cell["cell_type"] == "markdown" else r"^# Exercise (\d+)"
        found |= {int(next(g for g in groups if g)) if isinstance(groups, tuple) else int(groups)
                  for groups in re.findall(pattern, text, re.M)}
    return found


SECTION_REFERENCES = [(nb, int(first), int(last or first))
                      for nb, first, last in re.findall(r"\b(0[1-5]) §(\d+)(?:–(\d+))?", TEACHING)]
EXERCISE_REFERENCES = [(nb, int(n)) for nb, n in re.findall(r"\b(0[1-5]) Exercise (\d+)", TEACHING)]


def test_the_lesson_plan_names_sections_and_exercises():
    assert len(SECTION_REFERENCES) >= 6 and len(EXERCISE_REFERENCES) >= 5


@pytest.mark.parametrize("notebook, first, last", SECTION_REFERENCES)
def test_each_section_named_exists(notebook, first, last):
    assert set(range(first, last + 1)) <= _sections(notebook)


@pytest.mark.parametrize("notebook, number", EXERCISE_REFERENCES)
def test_each_exercise_named_exists(notebook, number):
    assert number in _exercises(notebook)


def test_the_readme_headline_is_what_the_command_prints():
    """The README's table is the output of ``python -m analysis headline --study analysis/data/study``."""
    from analysis import paths, render
    from analysis.report.headline import headline_table

    readme = (ROOT / "README.md").read_text(encoding="utf8")
    shown = readme.split("<!-- headline -->\n", 1)[1].split("\n<!-- /headline -->", 1)[0]
    printed = render.frame_to_text(headline_table([paths.DATA_DIR / "study"]), "markdown")
    assert shown.strip() == printed.strip()


def test_the_readme_is_a_front_door():
    assert (ROOT / "README.md").read_text(encoding="utf8").count("\n") <= 150
