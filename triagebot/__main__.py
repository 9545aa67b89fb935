"""Allow `python -m triagebot`, identical to the console script."""

import sys

from triagebot.commands.cli import main

sys.exit(main())
