"""Allow `python -m triagebot`, identical to the console script."""

from triagebot.commands.cli import main

raise SystemExit(main())
