"""``python -m odcore ...``: see :mod:`odcore.cli`."""

import sys

from odcore.cli import main

sys.exit(main())
