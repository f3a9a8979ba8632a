"""A process pool that survives dead workers and dies with its parent.

Why not concurrent.futures: when one of its workers dies (a native crash in a decoder or a model, the
OOM killer), ProcessPoolExecutor breaks as a whole, fails every task in flight with BrokenProcessPool
and cannot say which task killed the worker. Here each worker has its own pipe and the parent knows,
for every worker, which tasks it holds and in which order it runs them. So when a worker dies:

- the task it was running (the first one it had not answered) is charged with one death and queued
  again; after `max_deaths` deaths it is given up and answered with `on_failure(item, how, deaths)`
  ("killed by signal 9 (SIGKILL)", 2), which the caller turns into a result like any other;
- the tasks queued behind it on that worker never started: they go back to the queue uncharged;
- the other workers and their tasks are not touched, and a fresh worker takes the dead one's place.

A worker must not outlive its parent (a SIGKILLed `facematch index` once left two 250 MB workers
blocked on their pipe for good). Each worker asks Linux to SIGKILL it when its parent dies
(prctl PR_SET_PDEATHSIG), and, everywhere, a thread watches the parent and ends the process when it
goes; the parent's end of the pipe closing ends an idle worker too.

Processes are started with "spawn": forking after onnxruntime/OpenCV threads start can deadlock.
Linux sends the PDEATHSIG when the *thread* that started a worker ends, not only the process: start,
use and close a Pool in one thread that lives as long as the pool (index_folder does, in its caller's
thread); a pool kept across a web framework's per-request threads would lose its workers.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_ready
from typing import Any

#: A task that killed its worker this many times is given up (answered with on_failure).
MAX_DEATHS = 2
#: Tasks sent ahead to each worker, so it never waits for the parent between two photos.
PREFETCH = 2
#: Workers that die before they are ready, in a row, before the pool gives up (a broken install).
MAX_START_FAILURES = 3
#: Seconds a worker may take to finish its current task and exit when the pool closes normally.
CLOSE_GRACE_S = 10.0

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


class WorkerStartError(RuntimeError):
    """Workers cannot start (their initializer fails, or they die while starting)."""


# -- the worker side ------------------------------------------------------------------------------
def die_with_parent(parent_pid: int) -> None:
    """End this process when the parent goes: PR_SET_PDEATHSIG on Linux, a watching thread everywhere.

    PDEATHSIG works even while this process is stuck in native code, where no Python thread runs.
    The thread covers other systems. Checking getppid() after prctl closes the race where the parent
    died before prctl was called.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)
    watch_parent(parent_pid)


def watch_parent(parent_pid: int) -> None:
    """Start a daemon thread that ends this process when its parent dies (portable, needs the GIL free)."""
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="watch-parent", daemon=True).start()


def _watch_parent(parent_pid: int) -> None:
    """Exit the process as soon as the parent is gone (its sentinel pipe closes, or we are re-parented)."""
    import multiprocessing

    parent = multiprocessing.parent_process()
    sentinel = getattr(parent, "sentinel", None)
    if sentinel is not None:
        with contextlib.suppress(OSError, ValueError):
            wait_ready([sentinel])  # returns when the parent's end closes, i.e. the parent died
            os._exit(1)
    while os.getppid() == parent_pid:  # no sentinel: poll
        time.sleep(1.0)
    os._exit(1)


def _worker_main(
    conn: Connection,
    parent_pid: int,
    initializer: Callable[..., None] | None,
    initargs: tuple,
    task: Callable[..., Any],
) -> None:
    """Run tasks from the parent, in the order sent, answering each one as soon as it is done."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the parent, which stops us
    die_with_parent(parent_pid)
    try:
        if initializer is not None:
            initializer(*initargs)
    except BaseException as e:  # any failure to start is reported, then we exit
        with contextlib.suppress(OSError):
            conn.send(("init_failed", f"{type(e).__name__}: {e}"))
        return
    conn.send(("ready", os.getpid(), time.time()))
    while True:
        try:
            batch = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            os._exit(0)
        if batch is None:  # done: exit without tearing the interpreter and models down (it took ~1 s)
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            os._exit(0)
        for key, args in batch:
            try:
                conn.send(("done", key, task(*args)))
            except Exception as e:  # the task itself failed: say so, stay alive
                conn.send(("raised", key, "".join(traceback.format_exception_only(type(e), e)).strip()))


# -- the parent side ------------------------------------------------------------------------------
@dataclass
class _Task:
    key: int
    item: Any
    args: tuple
    deaths: int = 0


@dataclass(eq=False)
class _Worker:
    process: Any
    conn: Connection
    ready: bool = False
    held: deque[int] = field(default_factory=deque)  # task keys sent, in the order the worker runs them


def death_reason(exitcode: int | None) -> str:
    """How a worker ended, in words: 'killed by signal 9 (SIGKILL)', 'exited with code 3'."""
    if exitcode is None:
        return "vanished"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            return f"killed by signal {-exitcode}"
        return f"killed by signal {-exitcode} ({name})"
    return f"exited with code {exitcode}"


class Pool:
    """Worker processes running `task(*args)` for a stream of items; see the module docstring.

    Start it early (`start()` returns at once; workers import and load their models in the
    background), then call `run(items, args_of)` once or more, then `close()`. Use from one thread.
    """

    def __init__(
        self,
        workers: int,
        task: Callable[..., Any],
        on_failure: Callable[[Any, str, int], Any],
        initializer: Callable[..., None] | None = None,
        initargs: tuple = (),
        max_deaths: int = MAX_DEATHS,
    ) -> None:
        self.size = max(1, workers)
        self.task = task
        self.on_failure = on_failure
        self.initializer = initializer
        self.initargs = initargs
        self.max_deaths = max_deaths
        self._ctx = get_context("spawn")
        self._workers: list[_Worker] = []
        self.deaths: list[tuple[Any, str]] = []  # (item it was running, how it died) per worker death
        self.started_at: float | None = None
        self.first_ready_at: float | None = None

    # lifecycle
    def start(self) -> Pool:
        self.started_at = time.perf_counter()
        while len(self._workers) < self.size:
            self._workers.append(self._spawn())
        return self

    def __enter__(self) -> Pool:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close(abort=exc[0] is not None)

    def _spawn(self) -> _Worker:
        parent_end, child_end = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(
            target=_worker_main,
            args=(child_end, os.getpid(), self.initializer, self.initargs, self.task),
            name="facematch-worker",
            daemon=True,
        )
        proc.start()
        child_end.close()
        return _Worker(proc, parent_end)

    def pids(self) -> list[int]:
        return [w.process.pid for w in self._workers if w.process.pid is not None]

    def close(self, abort: bool = False) -> None:
        """Stop the workers: politely when idle, at once when aborting (Ctrl-C, an error).

        A worker still starting holds no work: it is killed rather than waited for (a rerun with
        nothing new to read must not wait for workers to load a model they will not use).
        """
        workers, self._workers = self._workers, []
        for w in workers:
            if not abort:
                self._note_ready(w)
            if abort or not w.ready:
                w.process.kill()
            else:
                with contextlib.suppress(OSError, ValueError):
                    w.conn.send(None)
        deadline = time.monotonic() + CLOSE_GRACE_S
        for w in workers:
            w.process.join(max(0.0, deadline - time.monotonic()))
            if w.process.is_alive():
                w.process.kill()
                w.process.join()
            w.conn.close()
            with contextlib.suppress(ValueError):
                w.process.close()

    @staticmethod
    def _note_ready(w: _Worker) -> None:
        """Read a 'ready' the parent has not seen yet (close() runs after the last result, or before any)."""
        with contextlib.suppress(Exception):
            while not w.ready and w.conn.poll():
                w.ready = w.conn.recv()[0] == "ready"

    # running
    def run(self, items: Iterable[Any], args_of: Callable[[Any], tuple]) -> Iterator[tuple[Any, Any]]:
        """Yield (item, result) as tasks finish, in completion order; every item exactly once.

        Leaving the loop early (break, an exception, Ctrl-C) kills the workers: their results are
        no longer wanted, and waiting for a slow photo would make Ctrl-C feel ignored.
        """
        if not self._workers:
            self.start()
        queue: deque[_Task] = deque(_Task(i, item, args_of(item)) for i, item in enumerate(items))
        tasks = {t.key: t for t in queue}
        start_failures = 0
        finished = False
        try:
            while tasks:
                for w in self._workers:
                    self._feed(w, queue)
                by_handle: dict[Any, _Worker] = {}
                for w in self._workers:
                    by_handle[w.conn] = w
                    by_handle[w.process.sentinel] = w
                for handle in wait_ready(list(by_handle)):
                    w = by_handle[handle]
                    if not any(x is w for x in self._workers):
                        continue  # it died and was replaced while handling an earlier handle
                    yield from self._drain(w, tasks)
                    if w.process.exitcode is None:
                        continue  # alive (a closed pipe with the process still exiting: next round)
                    w.process.join()
                    start_failures = 0 if w.ready else start_failures + 1
                    if start_failures >= MAX_START_FAILURES:
                        raise WorkerStartError(
                            f"worker processes die while starting ({death_reason(w.process.exitcode)}, "
                            f"{start_failures} times in a row)"
                        )
                    yield from self._bury(w, tasks, queue)
            finished = True
        finally:
            if not finished:
                self.close(abort=True)

    def _feed(self, w: _Worker, queue: deque[_Task]) -> None:
        """Send tasks to a worker until it holds PREFETCH (one running, the next waiting)."""
        batch = []
        while queue and len(w.held) + len(batch) < PREFETCH:
            batch.append(queue.popleft())
        if batch:
            w.held.extend(t.key for t in batch)
            with contextlib.suppress(OSError, ValueError):  # if it died, its sentinel fires and _bury requeues
                w.conn.send([(t.key, t.args) for t in batch])

    def _drain(self, w: _Worker, tasks: dict[int, _Task]) -> Iterator[tuple[Any, Any]]:
        """Every message a worker has sent so far (a dying worker's last answers included)."""
        while True:
            try:
                if not w.conn.poll():
                    return
                msg = w.conn.recv()
            except Exception:  # end of the pipe, or a message cut short by the worker's death
                return
            kind = msg[0]
            if kind == "ready":
                w.ready = True
                at = time.perf_counter() - max(0.0, time.time() - msg[2])  # when it was ready, not when we read it
                self.first_ready_at = at if self.first_ready_at is None else min(self.first_ready_at, at)
            elif kind == "init_failed":
                from ..i18n import _  # here, not at the top: a worker imports this module and nothing it needs not

                raise WorkerStartError(_("a worker process could not start: {reason}", reason=msg[1]))
            else:
                key = msg[1]
                if w.held and w.held[0] == key:
                    w.held.popleft()
                else:  # cannot happen (a worker answers in order); keep the books right regardless
                    with contextlib.suppress(ValueError):
                        w.held.remove(key)
                t = tasks.pop(key)
                result = msg[2] if kind == "done" else self.on_failure(t.item, msg[2], 0)
                yield t.item, result

    def _bury(self, w: _Worker, tasks: dict[int, _Task], queue: deque[_Task]) -> Iterator[tuple[Any, Any]]:
        """A worker died: charge the task it was running, requeue the rest, start a replacement."""
        how = death_reason(w.process.exitcode)
        held = [tasks[k] for k in w.held if k in tasks]
        w.conn.close()
        self._workers[self._workers.index(w)] = self._spawn()
        if not w.ready:  # died while starting: nothing ran, nobody is to blame
            queue.extendleft(reversed(held))
            return
        if not held:
            return
        running, waiting = held[0], held[1:]
        running.deaths += 1
        self.deaths.append((running.item, how))
        queue.extendleft(reversed(waiting))  # never started: first in line again, uncharged
        if running.deaths >= self.max_deaths:
            del tasks[running.key]
            yield running.item, self.on_failure(running.item, how, running.deaths)
        else:
            queue.append(running)  # retried last, on a fresh worker
