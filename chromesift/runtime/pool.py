"""One supervised pool of worker processes: a job at a time per worker, a clock on each job.

:func:`run_pool` starts ``workers`` processes (``spawn``: the parent may hold threads that
``fork`` would copy mid-lock). Each runs a *setup* once (load a model, import a peer) and
then the handler the setup returned, on one job at a time. Jobs are pulled from the
caller's iterable only when a worker is free, so a long input is never held in memory.

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
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from chromesift.errors import ChromesiftError

J = TypeVar("J")

#: Seconds a stopped worker gets to exit by itself before it is killed.
STOP_WAIT = 5.0


@dataclass(frozen=True)
class Failure:
    """Why a job has no result.

    Attributes
    ----------
    kind
        ``"timeout"`` (its worker was killed past the job timeout), ``"died"`` (its worker
        exited while on it) or ``"error"`` (the handler raised).
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
    """A worker process: run the setup, say so, then answer one job at a time until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    try:
        try:
            handle = setup(*args)
        except Exception as exc:
            conn.send(("failed", (type(exc).__name__, str(exc))))
            return
        conn.send(("ready", None))
        while (job := conn.recv()) is not None:
            try:
                result = handle(job)
            except Exception as exc:
                conn.send(("error", f"{type(exc).__name__}: {exc}"))
            else:
                conn.send(("result", result))
    except (EOFError, OSError):  # the parent is gone: nobody wants the result
        return


class _Worker:
    """The parent's handle on one worker process."""

    def __init__(self, ctx: Any, setup: Callable, args: tuple, daemon: bool,
                 startup_timeout: float | None):
        self.conn, child = ctx.Pipe()
        # not daemonic by default: a model may start its own worker pool (joblib), which
        # daemons may not; a worker still exits by itself when the parent dies (its pipe closes)
        self.proc = ctx.Process(target=_child, args=(child, setup, args), daemon=daemon)
        self.proc.start()
        child.close()
        self.ready = False
        self.busy = False
        self.job: Any = None
        self.deadline = time.monotonic() + startup_timeout if startup_timeout else None

    def give(self, job: Any, timeout: float | None) -> None:
        self.job, self.busy = job, True
        self.deadline = time.monotonic() + timeout if timeout else None
        with contextlib.suppress(OSError):
            self.conn.send(job)  # a dead worker is found by its sentinel

    def take(self) -> Any:
        job, self.job, self.busy, self.deadline = self.job, None, False, None
        return job

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
    exhausted = False

    def replace(worker: _Worker) -> None:
        worker.kill()
        if exhausted:  # no job left for a fresh one
            pool.remove(worker)
        else:
            pool[pool.index(worker)] = start()

    try:
        while True:
            for worker in pool:
                if exhausted:
                    break
                if worker.ready and not worker.busy:
                    job = next(source, _END)
                    if job is _END:
                        exhausted = True
                    else:
                        worker.give(job, job_timeout)
            if exhausted and not any(w.busy for w in pool):
                return
            deadlines = [w.deadline for w in pool if w.deadline is not None]
            wait = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
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
                    busy, job = worker.busy, worker.take()
                    replace(worker)
                    if busy:
                        yield job, Failure("died", exitcode=code)
                elif worker.deadline is not None and time.monotonic() >= worker.deadline:
                    if not worker.ready:
                        raise WorkerStartError(
                            f"a worker did not start in {startup_timeout:g} s", kind="timeout"
                        )
                    job = worker.take()
                    replace(worker)
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
