"""The review workbench and its team server: `app` (with the team server's preflight: an admin account,
the passphrase of the families' data) and `users` (the team server's accounts)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from .. import messages
from ..i18n import _, ngettext
from .args import default_index


def add_parser(sub) -> None:
    """Register app and users: options are added once chosen (args.Parser)."""
    sub.add_parser("app", help=_("open the review workbench in your browser (this computer only)"), build=_app_options)
    sub.add_parser("users", help=_("accounts of the team server (facematch app --team)"), build=_users_options)


def _app_options(s) -> None:
    s.add_argument(
        "--index", type=Path, default=None,
        help=_("index folder (default: ./index when it holds an index, else the demo index)"),
    )  # fmt: skip
    s.add_argument("--port", type=int, default=8501)
    s.add_argument(
        "--address", default="localhost", help=_("serve on another address (needs --team: accounts and a login)")
    )
    s.add_argument(
        "--team", action="store_true", help=_("team server: a login page, accounts (facematch users), access per case")
    )
    s.add_argument(
        "--oidc",
        action="store_true",
        help=_(
            "with --team: log in through the organisation's OpenID Connect provider (st.login; [auth] in "
            ".streamlit/secrets.toml of the folder you start from, and pip install Authlib)"
        ),
    )
    s.add_argument(
        "--passphrase-file",
        type=Path,
        default=None,
        help=_("with --team: read the passphrase of the families' data from this file (readable only by you)"),
    )
    s.add_argument(
        "--passphrase-fd",
        type=int,
        default=None,
        help=_("with --team: read the passphrase of the families' data from this open file descriptor (0: stdin)"),
    )
    s.add_argument("--check", action="store_true", help=_("start, check the app answers, stop (for CI)"))
    s.set_defaults(func=cmd_app)


# -- accounts (team mode) ------------------------------------------------------------------------------
def _users_options(s) -> None:
    from ..access import ROLES

    usub = s.add_subparsers(title=_("users commands"))
    u = usub.add_parser(
        "add", help=_("create an account; the password is asked (or read from stdin), never an argument")
    )
    u.add_argument("name")
    u.add_argument("--role", required=True, choices=ROLES)
    u.add_argument("--index", type=Path, default=None)
    u.set_defaults(func=cmd_users_add)
    u = usub.add_parser(
        "list", help=_("every account, its role, whether it is disabled and whether its logins are slowed down")
    )
    u.add_argument("--index", type=Path, default=None)
    u.set_defaults(func=cmd_users_list)
    u = usub.add_parser("disable", help=_("refuse an account's logins (its open sessions end at their next click)"))
    u.add_argument("name")
    u.add_argument("--index", type=Path, default=None)
    u.set_defaults(func=cmd_users_disable)
    u = usub.add_parser("enable", help=_("allow a disabled account again; also lifts a login slow-down on it"))
    u.add_argument("name")
    u.add_argument("--index", type=Path, default=None)
    u.set_defaults(func=cmd_users_enable)
    u = usub.add_parser("reset-password", help=_("a new password (asked, or read from stdin); lifts a login slow-down"))
    u.add_argument("name")
    u.add_argument("--index", type=Path, default=None)
    u.set_defaults(func=cmd_users_reset)
    u = usub.add_parser("give", help=_("give a case to an account (it may then open the case)"))
    u.add_argument("name")
    u.add_argument("case", type=int)
    u.add_argument("--index", type=Path, default=None)
    u.set_defaults(func=cmd_users_give)


def cmd_app(args: argparse.Namespace) -> int:
    from ..app import serve

    if args.address not in serve.LOCAL and not args.team:
        print("facematch: " + _(
            "refusing to serve on {address} without --team. Beyond this computer anyone who can reach the address "
            "would see every case, every family's photos and every decision. Create accounts (facematch users add "
            "NAME --role admin) and start with --team, which asks everyone to log in.", address=args.address,
        ), file=sys.stderr)  # fmt: skip
        return 2
    passphrase = None
    if (args.passphrase_file or args.passphrase_fd is not None) and not args.team:
        raise ValueError(_("the passphrase of the families' data is for a team server: add --team"))
    if args.team:
        from ..app.door import idle_seconds

        idle_seconds(strict=True)  # FACEMATCH_IDLE_SECONDS, if set, is a number: said here, before anything starts
        index = args.index or default_index()
        passphrase = _team_preflight(Path(index), args.passphrase_file, args.passphrase_fd)
        args.index = index
    if args.oidc and not args.team:
        raise ValueError(_("--oidc is a way to log in to a team server: add --team"))
    if args.oidc:
        from ..extras import require

        require("oidc", "authlib")  # Streamlit's st.login needs Authlib: said before the server starts

    # SIGTERM (kill, systemd stop) and SIGHUP (the terminal closed) end this process the way Ctrl-C does, so the
    # `finally` below stops the server; Python's default for them would exit at once and leave it serving.
    def _exit(signum, _frame):
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit)
    proc = serve.start(
        args.index, args.address, args.port, cwd=Path.cwd(), team=args.team, passphrase=passphrase, oidc=args.oidc
    )
    try:
        if args.check:
            up = serve.wait_until_up(args.port, proc=proc)
            print(_("facematch app answered on localhost.") if up else _("facematch app did not start."))
            return 0 if up else 1
        url = f"http://{args.address}:{args.port}"
        print(_("facematch is open at {url} (Ctrl-C to stop).", url=url))
        if args.team:
            print(_("Team mode: everyone logs in. Serve it to others through HTTPS (README, 'Team server')."))
        return proc.wait()
    finally:
        serve.stop(proc)


def _team_preflight(index_dir: Path, passphrase_file: Path | None = None, passphrase_fd: int | None = None) -> str:
    """Before a team server starts: the index exists and has an enabled admin; returns the passphrase for the
    families' data (item of README 'Team server'), checked here so a wrong one stops before anything starts."""
    from ..access import ADMIN, Accounts
    from ..index import Index

    with Index.open(index_dir) as index:
        if not Accounts(index.db).count(ADMIN):
            raise ValueError(
                _("a team server needs an admin account first: facematch users add NAME --role admin --index {index}",
                  index=index_dir)
            )  # fmt: skip
        passphrase = _read_passphrase(first_time=not index.encrypted, path=passphrase_file, fd=passphrase_fd)
        if index.unlock(passphrase):
            print(_("The families' data of this index is now encrypted (case names, notes, facts, decisions' notes, "
                    "kept photos)."))  # fmt: skip
    return passphrase


def _read_passphrase(first_time: bool, path: Path | None, fd: int | None) -> str:
    """The passphrase of the families' data from a file, an open file descriptor or the terminal: never from the
    environment or the command line, which other processes can read for as long as the server runs."""
    import getpass

    if "FACEMATCH_PASSPHRASE" in os.environ:
        raise ValueError(
            _("FACEMATCH_PASSPHRASE is not read: a process's environment stays readable (/proc/PID/environ) for as "
              "long as it runs. Give the passphrase with --passphrase-file or --passphrase-fd, or type it.")
        )  # fmt: skip
    if path is not None or fd is not None:
        try:
            if path is not None:
                data = Path(path).read_bytes()
            else:
                with os.fdopen(fd, "rb", closefd=fd != 0) as source:  # type: ignore[arg-type]
                    data = source.read()
        except OSError as e:
            raise ValueError(_("cannot read the passphrase ({why})", why=e.strerror or e)) from e
        text = data.decode("utf-8", errors="replace")
        return text[:-1] if text.endswith("\n") else text  # one line: its newline is not part of it
    if not sys.stdin.isatty():
        raise ValueError(
            _("give the passphrase of the families' data (a terminal, --passphrase-file or --passphrase-fd)")
        )
    passphrase = getpass.getpass(
        _("Choose a passphrase for the families' data (photos, names, notes are encrypted with it; "
          "without it they cannot be read, keep it safe): ")
        if first_time
        else _("Passphrase of the families' data: ")
    )  # fmt: skip
    if first_time and getpass.getpass(_("Again: ")) != passphrase:
        raise ValueError(_("the two passphrases differ; nothing was changed"))
    return passphrase


def _accounts(args: argparse.Namespace):
    from ..access import Accounts
    from ..index import Index

    index = Index.open(args.index or default_index())
    return index, Accounts(index.db)


def _read_password(prompt: str) -> str:
    """A password from the terminal (asked twice, not echoed) or one line of stdin (scripts): never argv,
    which other users of the machine can read in the process list."""
    import getpass

    if sys.stdin.isatty():
        first = getpass.getpass(prompt)
        if getpass.getpass(_("Again: ")) != first:
            raise ValueError(_("the two passwords differ; nothing was changed"))
        return first
    return sys.stdin.readline().rstrip("\n")


def cmd_users_add(args: argparse.Namespace) -> int:
    index, accounts = _accounts(args)
    with index:
        account = accounts.add(args.name, args.role, _read_password(_("Password for {name}: ", name=args.name)))
    print(_("Account {name} ({role}) created.", name=account.name, role=account.role))
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    from ..access import ROLE_TEXT, name_key

    index, accounts = _accounts(args)
    with index:
        rows = accounts.list()
        slowed = accounts.throttled()
    if not rows:
        print(_("No accounts yet. Create an admin: facematch users add NAME --role admin"))
    for a in rows:
        state = _("DISABLED") if a.disabled else _("enabled")
        what = _(ROLE_TEXT[a.role])
        print(f"{a.name:<24} {a.role:<11} {state:<9} {what}")
        if (slow := slowed.pop(name_key(a.name), None)) is not None:
            print("    " + _slowed_text(a.name, slow))
    if slowed:  # names without an account: someone may be guessing names
        print(ngettext(
            "{n} name without an account has failed logins lately (someone may be guessing names).",
            "{n} names without an account have failed logins lately (someone may be guessing names).",
            len(slowed),
        ))  # fmt: skip
    return 0


def _slowed_text(name: str, slow: dict) -> str:
    """An account's failed logins lately and the wait they impose, as `users list` shows it to an admin."""
    failures = round(slow["failures"], 1)
    wait = slow["wait"]
    how_long = (
        ngettext("{n} second", "{n} seconds", max(1, int(wait + 0.999)))
        if wait < 90
        else ngettext("{n} minute", "{n} minutes", max(1, int(wait / 60 + 0.999)))
    )
    text = ngettext(
        "failed logins lately: about {failures}, from {n} address;",
        "failed logins lately: about {failures}, from {n} addresses;",
        slow["addresses"],
        failures=messages.decimal(failures, 1),
    )
    text += " " + (
        _("the longest wait before an attempt is judged: {wait}.", wait=how_long) if wait > 0 else _("no wait now.")
    )
    return text + " " + _("`facematch users enable {name}` clears this.", name=name)


def cmd_users_disable(args: argparse.Namespace) -> int:
    index, accounts = _accounts(args)
    with index:
        accounts.disable(args.name)
    print(_("Account {name} is disabled: it cannot log in, and its open sessions end at their next click.",
            name=args.name))  # fmt: skip
    return 0


def cmd_users_enable(args: argparse.Namespace) -> int:
    index, accounts = _accounts(args)
    with index:
        accounts.enable(args.name)
    print(_("Account {name} is enabled (any login slow-down on the name is lifted).", name=args.name))
    return 0


def cmd_users_reset(args: argparse.Namespace) -> int:
    index, accounts = _accounts(args)
    with index:
        accounts.reset_password(args.name, _read_password(_("New password for {name}: ", name=args.name)))
    print(_("New password set for {name} (any login slow-down on the name is lifted).", name=args.name))
    return 0


def cmd_users_give(args: argparse.Namespace) -> int:
    index, accounts = _accounts(args)
    with index:
        accounts.grant(args.case, args.name, by=None)
    print(_("Case {case} given to {name}.", case=args.case, name=args.name))
    return 0
