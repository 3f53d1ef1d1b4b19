"""``python -m pruning_lab.aggregate DIR``: the analysis command line (``pruning_lab.analysis``)."""

import sys

from .analysis.aggregate import main

if __name__ == "__main__":
    sys.exit(main())
