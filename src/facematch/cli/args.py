"""What the command groups share about their arguments: the parser whose options are added when its command
is chosen, and the default index folder."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

DEFAULT_INDEX = Path("index")


def default_index() -> Path:
    return Path(os.environ.get("FACEMATCH_INDEX", DEFAULT_INDEX))


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
