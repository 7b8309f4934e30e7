"""`python -m evals`: the same command, and the same options, as `assistant eval`."""

import sys

from assistant.cli import main

sys.exit(main(["eval", *sys.argv[1:]]))
