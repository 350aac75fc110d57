"""Test tiers (see pyproject.toml and the README): the cells of the notebooks, collected by nbval,
belong to the slow tier, as the slow tests under tests/ do.

Plain ``pytest`` collects tests/ only and deselects ``slow``; ``pytest -m slow tests notebooks``
runs the slow tests and every notebook. This file imports neither Keras nor TensorFlow.
"""

import os

# As tests/conftest.py: quiet TensorFlow, and the notebooks in QUICK mode even when only notebooks/ is given.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("QUICK", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402


@pytest.hookimpl(tryfirst=True)  # before ``-m`` selects by marker
def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)
