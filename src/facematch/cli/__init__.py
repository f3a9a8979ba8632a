"""The `facematch` command line: parses arguments, calls the library, prints the result.

No face, index or search logic lives here; the app calls the same library functions. `main` is the
console script's entry point (`facematch = facematch.cli:main`) and `python -m facematch.cli`.
"""

from .commands import main

__all__ = ["main"]
