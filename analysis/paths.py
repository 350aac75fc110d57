"""Every path of the suite, derived from the package location in one place.

In the manner of cookiecutter-data-science: notebooks and the command line
import these names rather than building paths of their own. Nothing here
assumes an editable install:

- in a checkout (the package's parent folder holds ``pyproject.toml`` and
  ``notebooks/``), the notebooks are the checkout's, and reports go to
  ``<checkout>/reports``;
- installed from a wheel, the notebooks are the copies shipped inside the
  package (``analysis/notebooks/``), and reports go to ``./reports`` under
  the current folder.

``SUITE_REPORTS_DIR`` in the environment moves the reports (the report's
kernels use it to save their figures beside the report).
"""

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"
SHIPPED_NOTEBOOKS_DIR = PACKAGE_DIR / "notebooks"


def _checkout_root():
    root = PACKAGE_DIR.parent
    return root if (root / "pyproject.toml").is_file() and (root / "notebooks").is_dir() else None


CHECKOUT_ROOT = _checkout_root()
NOTEBOOKS_DIR = CHECKOUT_ROOT / "notebooks" if CHECKOUT_ROOT else SHIPPED_NOTEBOOKS_DIR
GALLERY_DIR = CHECKOUT_ROOT / "docs" / "gallery" if CHECKOUT_ROOT else None
REPORTS_DIR = Path(os.environ.get("SUITE_REPORTS_DIR") or (CHECKOUT_ROOT or Path.cwd()) / "reports")
FIGURES_DIR = REPORTS_DIR / "figures"
TABLES_DIR = REPORTS_DIR / "tables"
CACHE_DIR = REPORTS_DIR / "cache"


def quick_mode():
    """True when the environment asks for the shrunken QUICK runs (QUICK=1)."""
    return os.environ.get("QUICK", "0").strip().lower() not in ("", "0", "false", "no")
