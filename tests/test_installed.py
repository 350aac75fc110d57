"""Installed from a wheel into a fresh environment, run from another folder: no checkout assumed."""

import json
import os
import pathlib
import subprocess
import sys
import sysconfig

import pytest

from nets.backend import keras

ROOT = pathlib.Path(__file__).resolve().parents[1]

# The slow tier (`pytest -m slow tests notebooks`): builds a wheel and a virtual environment.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A venv holding only the suite's wheel; its dependencies come from this interpreter's
    site-packages through a .pth line (which does not run the editable install's own .pth hooks)."""
    base = tmp_path_factory.mktemp("installed")
    wheels = base / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(wheels), str(ROOT)], check=True, capture_output=True, timeout=600)
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    pathlib.Path(site, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    wheel = next(wheels.glob("*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
                   check=True, capture_output=True, timeout=600)
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    return python, pathlib.Path(site), elsewhere


def _run(installed, *argv, code=None):
    python, _, cwd = installed
    command = [str(python), "-c", code] if code else [str(python), "-m", "analysis", *argv]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SUITE_REPORTS_DIR")}
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=600,
                          env={**env, "TF_CPP_MIN_LOG_LEVEL": "3"})


def test_the_package_runs_from_the_wheel_not_the_checkout(installed):
    _, site, _ = installed
    done = _run(installed, code="import analysis, nets; print(analysis.__file__); print(nets.__file__)")
    assert done.returncode == 0, done.stderr[-2000:]
    assert all(pathlib.Path(line).is_relative_to(site) for line in done.stdout.split())


def test_count_from_another_folder(installed):
    done = _run(installed, "count", "mobilenet", "--alpha", "0.25", "--resolution", "128", "--format", "json")
    assert done.returncode == 0, done.stderr[-2000:]
    reference = keras.applications.MobileNet(weights=None, alpha=0.25, input_shape=(128, 128, 3))
    assert json.loads(done.stdout)["params"] == reference.count_params()


def test_crosscheck_worker_runs_from_the_installed_package(installed):
    done = _run(installed, "count", "mobilenet", "--alpha", "0.25", "--resolution", "32", "--crosscheck",
                "--format", "json")
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads(done.stdout)
    assert data["all_agree"] is True and data["fvcore_total_macs"] == data["macs"]


def test_the_report_finds_the_shipped_notebooks_and_writes_under_the_current_folder(installed):
    _, site, cwd = installed
    code = ("from analysis import paths; from analysis.report.build import notebook_paths; "
            "print(paths.REPORTS_DIR); print(*notebook_paths(), sep='\\n')")
    done = _run(installed, code=code)
    assert done.returncode == 0, done.stderr[-2000:]
    reports, *notebooks = done.stdout.split()
    assert pathlib.Path(reports) == cwd / "reports"
    shipped = sorted(path.name for path in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert [pathlib.Path(p).name for p in notebooks] == shipped
    assert all(pathlib.Path(p).is_relative_to(site) for p in notebooks)
