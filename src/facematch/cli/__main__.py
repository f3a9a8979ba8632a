"""`python -m facematch.cli`: the same as the `facematch` command."""

import sys

from . import main

sys.exit(main())
