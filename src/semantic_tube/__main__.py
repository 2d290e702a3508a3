"""`python -m semantic_tube ...` is the same as `stp ...`."""

import sys

from semantic_tube.cli import main

sys.exit(main())
