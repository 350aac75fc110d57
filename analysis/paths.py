"""Every path of the suite, derived from the package location in one place.

In the manner of cookiecutter-data-science: notebooks and the CLI import
these names rather than building paths of their own.
"""

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent
DATA_DIR = PACKAGE_DIR / "data"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
REPORTS_DIR = Path(os.environ.get("SUITE_REPORTS_DIR", PROJECT_ROOT / "reports"))
FIGURES_DIR = REPORTS_DIR / "figures"
TABLES_DIR = REPORTS_DIR / "tables"
CACHE_DIR = REPORTS_DIR / "cache"


def quick_mode():
    """True when the environment asks for the shrunken QUICK runs (QUICK=1)."""
    return os.environ.get("QUICK", "0").strip().lower() not in ("", "0", "false", "no")
