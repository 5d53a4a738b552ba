"""``python -m lanistr_core ...``: the ``lanistr`` command without its console script."""

import sys

from lanistr_core.cli import main

sys.exit(main())
