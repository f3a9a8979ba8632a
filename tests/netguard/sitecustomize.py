"""Network guard for tests: loaded by every Python process started with this folder on PYTHONPATH.

Any attempt to reach a host other than this machine (a connect, a datagram, or a DNS lookup of a
non-local name) is written to $FACEMATCH_NETLOG and refused. Worker processes and the Streamlit
server inherit the environment, so they are guarded too. tests/test_privacy.py reads the log.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import traceback

_LOG = os.environ.get("FACEMATCH_NETLOG")
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


def _is_local(host) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    host = str(host).strip("[]").split("%")[0]
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name that needs DNS: that lookup would already leave the machine
    return ip.is_loopback or ip.is_unspecified


def _refuse(what: str, target) -> None:
    if _LOG:
        stack = "".join(traceback.format_stack(limit=12)[:-2])
        with open(_LOG, "a", encoding="utf-8") as f:
            f.write(f"pid {os.getpid()}: {what} {target!r}\n{stack}\n---\n")
    raise OSError(f"network access blocked by the test guard: {what} {target!r}")


def _address_host(address):
    if isinstance(address, tuple) and address:
        return address[0]
    return None  # AF_UNIX paths and the like stay on this machine


_connect, _connect_ex, _sendto = socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto
_getaddrinfo = socket.getaddrinfo


def _guarded_connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(_address_host(address)):
        _refuse("connect", address)
    return _connect(self, address)


def _guarded_connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(_address_host(address)):
        _refuse("connect", address)
    return _connect_ex(self, address)


def _guarded_sendto(self, data, *args):
    address = args[-1] if args else None
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(_address_host(address)):
        _refuse("sendto", address)
    return _sendto(self, data, *args)


def _guarded_getaddrinfo(host, *args, **kwargs):
    if not _is_local(host):
        _refuse("DNS lookup", host)
    return _getaddrinfo(host, *args, **kwargs)


if _LOG:
    socket.socket.connect = _guarded_connect
    socket.socket.connect_ex = _guarded_connect_ex
    socket.socket.sendto = _guarded_sendto
    socket.getaddrinfo = _guarded_getaddrinfo
