"""What the command groups share about their arguments: the parser whose options are added when its command
is chosen, and the default index folder."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from ..i18n import _

DEFAULT_INDEX = Path("index")
#: Where `facematch demo` and the app's first start put the built-in demo index.
DEMO_INDEX = DEFAULT_INDEX / "demo"


def default_index(to_read: bool = True) -> Path:
    """$FACEMATCH_INDEX, else ./index. A command that reads an index and finds none in ./index uses the demo's
    (./index/demo) when there is one, and says so, so that `facematch demo` then `facematch search PHOTO` in the
    same folder just works; a command that writes (index, records import) never falls back to the demo."""
    if "FACEMATCH_INDEX" in os.environ:
        return Path(os.environ["FACEMATCH_INDEX"])
    from ..store import DB_NAME

    if to_read and not (DEFAULT_INDEX / DB_NAME).exists() and (DEMO_INDEX / DB_NAME).exists():
        print(
            _("(no index in {folder}: using the demo index in {demo}; --index chooses another)",
              folder=DEFAULT_INDEX, demo=DEMO_INDEX),
            file=sys.stderr,
        )  # fmt: skip
        return DEMO_INDEX
    return DEFAULT_INDEX


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose options may be added when it is used, not when it is made.

    A command is registered with its name and help (`sub.add_parser(NAME, help=..., build=FUNCTION)`) and
    its options are added by `build` only when the command is chosen or its help is shown. So `facematch
    --help` lists every command without importing what their options need: the face engines' default loads
    OpenCV, FAISS's index types load FAISS, the team roles load argon2. Parsing and help are otherwise
    argparse's own.
    """

    def __init__(self, *args, build: Callable[[Parser], None] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._build = build

    def built(self) -> Parser:
        """This parser with its options added (once)."""
        if self._build is not None:
            build, self._build = self._build, None
            build(self)
        return self

    def parse_known_args(self, args=None, namespace=None):
        self.built()
        return super().parse_known_args(args, namespace)

    def format_usage(self) -> str:
        self.built()
        return super().format_usage()

    def format_help(self) -> str:
        self.built()
        return super().format_help()
