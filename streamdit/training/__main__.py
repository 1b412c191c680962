"""``python -m streamdit.training`` (e.g. under ``torchrun``) runs the ``train`` command."""

from streamdit.training.cli import train_main

raise SystemExit(train_main())
