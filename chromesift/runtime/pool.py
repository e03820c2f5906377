"""One supervised pool of worker processes: a job at a time per worker, a clock on each job.

:func:`run_pool` starts ``workers`` processes (``spawn``: the parent may hold threads that
``fork`` would copy mid-lock). Each runs a *setup* once (load a model, import a peer) and
then the handler the setup returned, on one job at a time. Jobs are pulled from the
caller's iterable only when a worker is free (or, with ``ahead``, has fewer than that many
jobs waiting behind its own), so a long input is never held in memory.

What the parent supervises:

- start-up: a setup that raises, a worker that exits before it is ready, or (with
  ``startup_timeout``) one that takes too long, stops the run with
  :class:`WorkerStartError`;
- a job over ``job_timeout`` seconds: its worker is killed and replaced, and the job comes
  back with a :class:`Failure` of kind ``"timeout"`` (the clock runs from the moment the job
  is handed over, so a worker's start-up never counts against it);
- a worker that dies on a job (a crash in C code, ``os._exit``, the OOM killer): it is
  replaced and the job comes back with a :class:`Failure` of kind ``"died"``;
- a handler that raises: the job comes back with a :class:`Failure` of kind ``"error"``
  (handlers are meant to turn their failures into results themselves).

Results come back in the order they finish, each with its job (so a caller that wants
input order keys them). Workers ignore SIGINT: on Ctrl-C the parent stops them. Closing
the generator (or leaving the loop) stops idle workers and kills busy ones.

:class:`WorkerSet` is the same supervision for a server: long-lived workers that many
threads borrow one job at a time, each job with its own deadline, at which its worker is
killed (so no work outlives the request that asked for it) and a fresh one started.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import queue
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from chromesift.errors import ChromesiftError

J = TypeVar("J")

#: Seconds a stopped worker gets to exit by itself before it is killed.
STOP_WAIT = 5.0
#: Longest single wait of the supervisor (the operating system's waits overflow far above).
_MAX_WAIT = 3600.0


@dataclass(frozen=True)
class Failure:
    """Why a job has no result.

    Attributes
    ----------
    kind
        ``"timeout"`` (its worker was killed past the job timeout), ``"died"`` (its worker
        exited while on it), ``"error"`` (the handler raised) or, from a
        :class:`WorkerSet` only, ``"busy"`` (no worker was free and ready before the deadline;
        the job was not started).
    detail
        ``"Type: message"`` of the handler's exception (kind ``"error"``), else ``""``.
    exitcode
        The dead worker's exit code (kind ``"died"``; negative: the signal that killed it).
    """

    kind: str
    detail: str = ""
    exitcode: int | None = None


class WorkerStartError(ChromesiftError):
    """A worker could not start: its setup raised, it exited, or it did not get ready in time.

    Attributes
    ----------
    kind
        ``"failed"`` (the setup raised), ``"exited"`` or ``"timeout"``.
    error_type, reason
        The setup's exception type name and message (kind ``"failed"``).
    exitcode
        The worker's exit code (kind ``"exited"``).
    """

    def __init__(self, message: str, *, kind: str, error_type: str = "", reason: str = "",
                 exitcode: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.error_type = error_type
        self.reason = reason
        self.exitcode = exitcode


def _child(conn: Any, setup: Callable[..., Callable[[Any], Any]], args: tuple) -> None:
    """A worker process: run the setup, say so, then answer one job at a time until told to stop.

    A thread of its own reads the jobs as they come and queues them here, so a parent that
    sends jobs ahead (:func:`run_pool`'s ``ahead``) never waits on a worker busy with the job
    before, and the worker never waits on the parent for its next job.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    try:
        try:
            handle = setup(*args)
        except Exception as exc:
            conn.send(("failed", (type(exc).__name__, str(exc))))
            return
        jobs: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=_read_jobs, args=(conn, jobs), daemon=True).start()
        conn.send(("ready", None))
        while (job := jobs.get()) is not None:
            try:
                result = handle(job)
            except Exception as exc:
                conn.send(("error", f"{type(exc).__name__}: {exc}"))
            else:
                conn.send(("result", result))
    except (EOFError, OSError):  # the parent is gone: nobody wants the result
        return


def _read_jobs(conn: Any, jobs: queue.SimpleQueue) -> None:
    """In a worker: move jobs from the parent's pipe to ``jobs``; None at the end (or when the pipe breaks)."""
    if hasattr(signal, "pthread_sigmask"):  # a page's alarm is for the thread that runs it
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    try:
        while (job := conn.recv()) is not None:
            jobs.put(job)
    except (EOFError, OSError):
        pass
    jobs.put(None)


class _Worker:
    """The parent's handle on one worker process.

    It holds the jobs handed over and not answered yet, in the order the worker runs them;
    the first one is the job the worker is on, and :attr:`deadline` is that job's (its
    clock starts when it becomes the first: when the answer before it has come back).
    """

    def __init__(self, ctx: Any, setup: Callable, args: tuple, daemon: bool,
                 startup_timeout: float | None):
        self.conn, child = ctx.Pipe()
        # not daemonic by default: a model may start its own worker pool (joblib), which
        # daemons may not; a worker still exits by itself when the parent dies (its pipe closes)
        self.proc = ctx.Process(target=_child, args=(child, setup, args), daemon=daemon)
        self.proc.start()
        child.close()
        self.ready = False
        self.jobs: deque = deque()
        self.timeout: float | None = None
        self.deadline = time.monotonic() + startup_timeout if startup_timeout else None

    @property
    def busy(self) -> bool:
        """Whether it holds a job not answered yet."""
        return bool(self.jobs)

    @property
    def job(self) -> Any:
        """The job it is on (None when idle)."""
        return self.jobs[0] if self.jobs else None

    def give(self, job: Any, timeout: float | None) -> None:
        if not self.jobs:
            self.deadline = time.monotonic() + timeout if timeout else None
        self.jobs.append(job)
        self.timeout = timeout
        with contextlib.suppress(OSError):
            self.conn.send(job)  # a dead worker is found by its sentinel

    def take(self) -> Any:
        """The job it was on, now answered (or failed); the clock of the next one starts."""
        job = self.jobs.popleft() if self.jobs else None
        self.deadline = time.monotonic() + self.timeout if self.jobs and self.timeout else None
        return job

    def drop_waiting(self) -> list:
        """The jobs handed over behind the one it is on (not started), taken back."""
        waiting = list(self.jobs)[1:]
        while len(self.jobs) > 1:
            self.jobs.pop()
        return waiting

    def exitcode(self) -> int | None:
        self.proc.join(STOP_WAIT)
        return self.proc.exitcode

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(STOP_WAIT)
        self.conn.close()


def run_pool(
    jobs: Iterable[J],
    setup: Callable[..., Callable[[J], Any]],
    args: tuple = (),
    *,
    workers: int = 1,
    job_timeout: float | None = None,
    startup_timeout: float | None = None,
    daemon: bool = False,
    ahead: int = 0,
) -> Iterator[tuple[J, Any]]:
    """Run ``jobs`` in supervised worker processes; yield ``(job, result or Failure)`` as each finishes.

    Parameters
    ----------
    jobs
        Picklable jobs, pulled one at a time as workers get free.
    setup
        Module-level function (workers import it by name) run once in each worker with
        ``args``; it returns the handler, called with each job in that worker.
    args
        Arguments of ``setup`` (picklable).
    workers
        Worker processes.
    job_timeout
        Seconds a job may take before its worker is killed and replaced (None: no limit).
    startup_timeout
        Seconds a worker may take to get ready (None: no limit).
    daemon
        Start daemonic workers (they may not start processes of their own).
    ahead
        Jobs handed to a worker beyond the one it is on, so that it starts the next one as
        soon as it is done instead of waiting for the parent to take its answer and send
        another (the parent's own work on the results then runs beside the workers). The
        time limit of a job still runs from the moment the worker is free for it; the jobs
        waiting behind one that times out or dies go back to the queue, unanswered. When
        ``jobs`` raises, the jobs read before are answered first, then the error is raised.

    Yields
    ------
    tuple
        The job and the handler's result, or a :class:`Failure`.

    Raises
    ------
    WorkerStartError
        When a worker (the first ones, or one started to replace another) cannot start.
    """
    ctx = multiprocessing.get_context("spawn")

    def start() -> _Worker:
        return _Worker(ctx, setup, args, daemon, startup_timeout)

    pool = [start() for _ in range(max(1, workers))]
    source = iter(jobs)
    source_done = False
    source_error: Exception | None = None  # raised once the jobs handed over are answered
    again: deque = deque()  # jobs taken back from a worker that was replaced, to run first

    def next_job() -> Any:
        nonlocal source_done, source_error
        if again:
            return again.popleft()
        if not source_done:
            try:
                job = next(source, _END)
            except Exception as exc:  # (a broken input): the jobs read before it still finish
                source_error = exc
                job = _END
            if job is not _END:
                return job
            source_done = True
        return _END

    def replace(worker: _Worker) -> None:
        worker.kill()
        if source_done and not again:  # no job left for a fresh one
            pool.remove(worker)
        else:
            pool[pool.index(worker)] = start()

    def fail(worker: _Worker) -> Any:
        """The job the worker was on; those behind it go back to the queue."""
        again.extendleft(reversed(worker.drop_waiting()))
        job = worker.take()
        replace(worker)
        return job

    try:
        while True:
            for worker in pool:
                while worker.ready and len(worker.jobs) <= max(0, ahead):
                    job = next_job()
                    if job is _END:
                        break
                    worker.give(job, job_timeout)
            if source_done and not again and not any(w.busy for w in pool):
                if source_error is not None:
                    raise source_error
                return
            deadlines = [w.deadline for w in pool if w.deadline is not None]
            wait = min(_MAX_WAIT, max(0.0, min(deadlines) - time.monotonic())) if deadlines else None
            ready = multiprocessing.connection.wait(
                [w.conn for w in pool] + [w.proc.sentinel for w in pool], timeout=wait
            )
            for worker in list(pool):
                dead = worker.proc.sentinel in ready
                if worker.conn in ready:
                    try:
                        kind, payload = worker.conn.recv()
                    except (EOFError, OSError):
                        dead = True
                    else:
                        if kind == "ready":
                            worker.ready, worker.deadline = True, None
                        elif kind == "failed":
                            error_type, reason = payload
                            raise WorkerStartError(
                                f"a worker could not start: {error_type}: {reason}",
                                kind="failed", error_type=error_type, reason=reason,
                            )
                        else:
                            job = worker.take()
                            yield job, (payload if kind == "result" else Failure("error", payload))
                        continue
                if dead:
                    code = worker.exitcode()
                    if not worker.ready:
                        raise WorkerStartError(
                            f"a worker exited on start-up (exit code {code})", kind="exited", exitcode=code
                        )
                    busy = worker.busy
                    job = fail(worker)
                    if busy:
                        yield job, Failure("died", exitcode=code)
                elif worker.deadline is not None and time.monotonic() >= worker.deadline:
                    if not worker.ready:
                        raise WorkerStartError(
                            f"a worker did not start in {startup_timeout:g} s", kind="timeout"
                        )
                    job = fail(worker)
                    yield job, Failure("timeout")
    finally:
        _stop(pool)


_END = object()


def _stop(pool: list[_Worker]) -> None:
    """Ask idle workers to exit, then kill whatever still runs."""
    idle = [w for w in pool if w.ready and not w.busy and w.proc.is_alive()]
    for worker in idle:
        with contextlib.suppress(OSError, ValueError):
            worker.conn.send(None)
    deadline = time.monotonic() + STOP_WAIT
    for worker in idle:
        worker.proc.join(max(0.0, deadline - time.monotonic()))
    for worker in pool:
        worker.kill()


class WorkerSet:
    """Long-lived supervised workers that threads borrow one job at a time (HTTP serving).

    :func:`run_pool` serves one caller with a stream of jobs; a server gets its jobs one
    request at a time, from many threads, and must not leave work running once a request
    is over its time. :meth:`run` borrows a free worker (starting one while fewer than
    ``workers`` run, else waiting for one), hands it the job and waits until the deadline;
    a worker still busy then is killed, so its work stops with it, and a fresh one is
    started in its place at once (it loads while nobody waits for it).

    Parameters
    ----------
    setup, args
        As for :func:`run_pool`: ``setup(*args)`` runs once in each worker and returns the
        handler of its jobs (module-level, picklable).
    workers
        Most worker processes at once.
    startup_timeout
        Seconds a worker may take to get ready (None: no limit).
    daemon
        Daemonic workers (the default: a server's workers must not hold up its exit).
    """

    def __init__(self, setup: Callable[..., Callable[[Any], Any]], args: tuple = (), *, workers: int = 1,
                 startup_timeout: float | None = None, daemon: bool = True):
        self._ctx = multiprocessing.get_context("spawn")
        self._setup, self._args = setup, args
        self._most = max(1, workers)
        self._startup_timeout = startup_timeout
        self._daemon = daemon
        self._free = threading.Condition()
        self._idle: list[_Worker] = []
        self._live = 0
        self._closed = False

    def start(self) -> None:
        """Start a worker now, unless ``workers`` run already (it gets ready while nobody waits)."""
        with self._free:
            if not self._closed and self._live < self._most:
                self._live += 1
                self._idle.append(self._new())
                self._free.notify()

    def wait_ready(self, timeout: float | None = None) -> None:
        """Start a worker if none runs and wait until one is ready (a setup's failure raises here).

        Raises
        ------
        WorkerStartError
            When the worker's setup raises, it exits, or it is not ready in time.
        """
        self.start()
        deadline = time.monotonic() + timeout if timeout else None
        worker = self._borrow(deadline)
        if worker is None:
            raise WorkerStartError(f"no worker was ready in {timeout:g} s", kind="timeout")
        try:
            ready = self._ready(worker, deadline)
        except BaseException:
            self._discard(worker, replace=False)
            raise
        self._give_back(worker)
        if not ready:
            raise WorkerStartError(f"no worker was ready in {timeout:g} s", kind="timeout")

    def run(self, job: Any, *, timeout: float | None = None) -> Any:
        """Run one job in a worker: its result, or a :class:`Failure` (kinds as for run_pool, and "busy").

        Parameters
        ----------
        job
            Picklable job.
        timeout
            Seconds from now until the job must be done, waiting for a free and ready
            worker included (None: no limit). Past it the worker is killed.

        Raises
        ------
        WorkerStartError
            When a worker cannot start (its setup raised, it exited, or it took longer
            than ``startup_timeout``).
        """
        deadline = time.monotonic() + timeout if timeout else None
        worker = self._borrow(deadline)
        if worker is None:
            return Failure("busy")
        try:
            if not self._ready(worker, deadline):
                self._give_back(worker)  # it goes on getting ready for the next job
                return Failure("busy")
            worker.give(job, None)
            outcome = self._outcome(worker, deadline)
        except WorkerStartError:
            self._discard(worker, replace=False)  # the next job starts one again, and says so
            raise
        except BaseException:  # interrupted while waiting: the worker may still be busy
            self._discard(worker, replace=True)
            raise
        if isinstance(outcome, Failure) and outcome.kind in ("timeout", "died"):
            self._discard(worker, replace=True)
        else:
            worker.take()
            self._give_back(worker)
        return outcome

    def close(self) -> None:
        """Stop the idle workers; a busy one is killed when its job comes back."""
        with self._free:
            self._closed = True
            idle, self._idle = self._idle, []
            self._free.notify_all()
        _stop(idle)

    # --- inside -----------------------------------------------------------------------

    def _new(self) -> _Worker:
        return _Worker(self._ctx, self._setup, self._args, self._daemon, self._startup_timeout)

    def _borrow(self, deadline: float | None) -> _Worker | None:
        """A free worker (a ready one first), a new one, or None when none is free by the deadline."""
        with self._free:
            while True:
                if self._closed:
                    raise RuntimeError("the worker set is closed")
                if self._idle:
                    ready = [w for w in self._idle if w.ready]
                    worker = ready[0] if ready else self._idle[0]
                    self._idle.remove(worker)
                    return worker
                if self._live < self._most:
                    self._live += 1
                    return self._new()
                wait = None if deadline is None else deadline - time.monotonic()
                if wait is not None and wait <= 0:
                    return None
                self._free.wait(min(_MAX_WAIT, wait) if wait is not None else _MAX_WAIT)

    def _give_back(self, worker: _Worker) -> None:
        with self._free:
            if not self._closed:
                self._idle.append(worker)
                self._free.notify()
                return
        _stop([worker])
        with self._free:
            self._live -= 1

    def _discard(self, worker: _Worker, *, replace: bool) -> None:
        worker.kill()
        with self._free:
            self._live -= 1
            self._free.notify()
        if replace:
            self.start()

    def _ready(self, worker: _Worker, deadline: float | None) -> bool:
        """Wait until ``worker`` is ready: True, or False when ``deadline`` comes first."""
        while not worker.ready:
            limits = [d for d in (deadline, worker.deadline) if d is not None]
            wait = min(limits) - time.monotonic() if limits else _MAX_WAIT
            if worker.deadline is not None and time.monotonic() >= worker.deadline:
                raise WorkerStartError(f"a worker did not start in {self._startup_timeout:g} s", kind="timeout")
            if deadline is not None and time.monotonic() >= deadline:
                return False
            got = multiprocessing.connection.wait([worker.conn, worker.proc.sentinel],
                                                  timeout=min(_MAX_WAIT, max(0.0, wait)))
            message = None
            if worker.conn in got:
                with contextlib.suppress(EOFError, OSError):
                    message = worker.conn.recv()
            if message is not None and message[0] == "ready":
                worker.ready, worker.deadline = True, None
            elif message is not None and message[0] == "failed":
                error_type, reason = message[1]
                raise WorkerStartError(f"a worker could not start: {error_type}: {reason}",
                                       kind="failed", error_type=error_type, reason=reason)
            elif got:  # its pipe closed or it exited
                code = worker.exitcode()
                raise WorkerStartError(f"a worker exited on start-up (exit code {code})", kind="exited",
                                       exitcode=code)
        return True

    def _outcome(self, worker: _Worker, deadline: float | None) -> Any:
        """The answer of a worker on its job, or the Failure of its death or of the deadline."""
        while True:
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                return Failure("timeout")
            got = multiprocessing.connection.wait([worker.conn, worker.proc.sentinel],
                                                  timeout=min(_MAX_WAIT, wait) if wait is not None else _MAX_WAIT)
            if worker.conn in got:
                try:
                    kind, payload = worker.conn.recv()
                except (EOFError, OSError):
                    return Failure("died", exitcode=worker.exitcode())
                return payload if kind == "result" else Failure("error", payload)
            if worker.proc.sentinel in got:
                return Failure("died", exitcode=worker.exitcode())
