"""``python -m analysis``: the command line of ``analysis.cli``."""

import sys

from analysis.cli import main

sys.exit(main())
