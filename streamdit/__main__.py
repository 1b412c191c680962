"""``python -m streamdit``: see :mod:`streamdit.cli`."""

import sys

from streamdit.cli import main

sys.exit(main())
