"""The long-lived supervised workers of HTTP serving (:class:`chromesift.runtime.pool.WorkerSet`).

Jobs are small tuples a stand-in handler understands: echo a value (with the worker's
pid), spin the CPU in Python for some seconds, raise, or exit the process.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from chromesift.runtime.pool import Failure, WorkerSet, WorkerStartError, run_pool


def setup(mode: str = "ok"):
    """Module-level: spawned workers import it by name."""
    if mode == "fail":
        raise ValueError("no model here")
    if mode == "exit":
        os._exit(4)

    def handle(job):
        kind, value = job
        if kind == "echo":
            return value, os.getpid()
        if kind == "spin":  # busy, as a parse in C code would be
            end = time.monotonic() + value
            while time.monotonic() < end:
                pass
            return "spun"
        if kind == "raise":
            raise RuntimeError(value)
        os._exit(value)

    return handle


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def workers():
    made = []

    def make(*args, **kwargs) -> WorkerSet:
        made.append(WorkerSet(setup, *args, **kwargs))
        return made[-1]

    yield make
    for w in made:
        w.close()


def test_a_job_over_its_time_is_stopped_with_its_worker(workers):
    ws = workers(workers=1)
    assert ws.run(("echo", "a"), timeout=120)[0] == "a"
    _, pid = ws.run(("echo", "b"), timeout=120)  # the same worker serves again
    t0 = time.monotonic()
    assert ws.run(("spin", 60), timeout=1.0) == Failure("timeout")
    assert time.monotonic() - t0 < 10
    assert not alive(pid)  # its work stopped: the worker is gone, not left spinning
    value, fresh = ws.run(("echo", "c"), timeout=120)
    assert value == "c" and fresh != pid


def test_handler_errors_and_deaths_come_back_as_failures(workers):
    ws = workers()
    _, pid = ws.run(("echo", 1), timeout=120)
    assert ws.run(("raise", "boom"), timeout=120) == Failure("error", "RuntimeError: boom")
    assert ws.run(("echo", 2), timeout=120) == (2, pid)  # an error keeps the worker
    assert ws.run(("exit", 3), timeout=120) == Failure("died", exitcode=3)
    assert ws.run(("echo", 3), timeout=120)[0] == 3


def test_no_free_worker_before_the_deadline_is_busy(workers):
    ws = workers(workers=1)
    ws.wait_ready(120)
    spinning = threading.Thread(target=ws.run, args=(("spin", 3),), kwargs={"timeout": 60})
    spinning.start()
    time.sleep(0.5)
    try:
        assert ws.run(("echo", 1), timeout=0.5) == Failure("busy")
    finally:
        spinning.join()
    assert ws.run(("echo", 2), timeout=120)[0] == 2


@pytest.mark.parametrize(("mode", "kind", "message"), [
    ("fail", "failed", "a worker could not start: ValueError: no model here"),
    ("exit", "exited", "a worker exited on start-up (exit code 4)"),
])
def test_a_worker_that_cannot_start_says_why(workers, mode, kind, message):
    ws = workers((mode,))
    for call in (lambda: ws.wait_ready(120), lambda: ws.run(("echo", 1), timeout=120)):
        with pytest.raises(WorkerStartError) as info:
            call()
        assert info.value.kind == kind and str(info.value) == message


def test_close_stops_the_workers(workers):
    ws = workers(workers=2)
    _, pid = ws.run(("echo", 1), timeout=120)
    ws.close()
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid)
    with pytest.raises(RuntimeError, match="closed"):
        ws.run(("echo", 2), timeout=1)


# --- run_pool with jobs handed over ahead ----------------------------------------------


@pytest.mark.parametrize("n_workers", [1, 2])
def test_jobs_handed_over_ahead_are_each_answered_once(n_workers):
    jobs = [("echo", i) for i in range(40)]
    got = list(run_pool(jobs, setup, workers=n_workers, ahead=2))
    assert sorted(job for job, _ in got) == sorted(jobs)
    assert all(result[0] == job[1] for job, result in got)
    if n_workers == 1:  # one worker answers in the order it was given the jobs
        assert [job for job, _ in got] == jobs


def test_the_jobs_behind_a_timeout_or_a_death_are_run_by_a_fresh_worker():
    jobs = [("echo", 0), ("spin", 60), ("echo", 1), ("echo", 2), ("exit", 3), ("echo", 4), ("echo", 5)]
    t0 = time.monotonic()
    got = dict(run_pool(jobs, setup, workers=1, job_timeout=2.0, ahead=3))
    assert time.monotonic() - t0 < 60
    assert got[("spin", 60)] == Failure("timeout")
    assert got[("exit", 3)] == Failure("died", exitcode=3)
    pids = {k: v[1] for k, v in got.items() if k[0] == "echo"}
    assert [got[("echo", i)][0] for i in (0, 1, 2, 4, 5)] == [0, 1, 2, 4, 5]
    # the jobs that waited behind the timeout and the death ran in the workers that replaced them
    assert pids[("echo", 0)] != pids[("echo", 1)] == pids[("echo", 2)] != pids[("echo", 4)] == pids[("echo", 5)]


def test_a_job_timeout_runs_from_when_the_worker_is_free_for_it():
    # three jobs of 1.2 s handed over at once, each within its 2 s, though not all three together
    got = list(run_pool([("spin", 1.2)] * 3, setup, workers=1, job_timeout=2.0, ahead=2))
    assert [result for _, result in got] == ["spun"] * 3


def test_jobs_read_before_a_broken_input_are_answered_before_its_error():
    def jobs():
        yield ("echo", 1)
        yield ("echo", 2)
        raise OSError("the input broke")

    answered = []
    with pytest.raises(OSError, match="the input broke"):
        for job, result in run_pool(jobs(), setup, workers=1, ahead=4):
            answered.append((job, result[0]))
    assert answered == [(("echo", 1), 1), (("echo", 2), 2)]
