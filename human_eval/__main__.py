"""``python -m human_eval``: see ``cli.py``."""
import sys

from .cli import main

sys.exit(main())
