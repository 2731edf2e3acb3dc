"""``python -m siamtrack.batch MANIFEST --out DIR [--engine local|ray] ...``: see `siamtrack.batch`."""

import sys

from . import main

sys.exit(main())
