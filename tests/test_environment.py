"""environment.yml mirrors pyproject.toml's pinned dependencies."""

import pathlib
import re
import tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _normalise(requirement):
    return re.sub(r"\s+", "", requirement.split("#")[0]).lower()


def test_environment_yml_pins_the_same_packages_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pinned = {_normalise(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    text = (ROOT / "environment.yml").read_text()
    # The pip section: lines "      - name==version  # why"
    pip_lines = re.findall(r"^\s{4,}-\s+([A-Za-z0-9_.\-\[\]]+[=<>!~]=?[^\s#]+)", text, flags=re.M)
    assert {_normalise(r) for r in pip_lines} == pinned
    assert re.search(r"^\s+-\s+python=3\.11", text, flags=re.M)
