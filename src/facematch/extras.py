"""The optional parts of facematch and how a command asks for one that is not installed.

The default install carries only what the app, the CLI and the default engine need (a lean install for families'
computers); the insightface and dlib engines, evaluate's plots, Ray and OIDC login are extras (pyproject.toml).
A command that needs one says which, and the command that installs it, instead of an ImportError.
"""

from __future__ import annotations

import importlib.util

from .i18n import _


class MissingExtra(RuntimeError):
    """An optional part of facematch (an engine, plots, Ray) whose packages are not installed, with the command
    that installs them. The default install carries only what the app and the default engine need."""


def require(extra: str, *modules: str) -> None:
    """Raise MissingExtra naming `pip install 'facematch[extra]'` unless every module can be imported."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtra(
            _(
                "this needs {packages}, which the default install leaves out; install it with "
                "`pip install 'facematch[{extra}]'` (or `pip install -e '.[{extra}]'` in a checkout)",
                packages=", ".join(missing),
                extra=extra,
            )
        )
