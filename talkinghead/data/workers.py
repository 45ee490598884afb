"""Worker processes of the data builders and batch jobs (``synth``, ``prepare``, ``batch``): spawned, their numerical
libraries one thread each; or Ray tasks on a cluster.

The processes are the parallelism. Left to themselves, every process's BLAS would start a thread per core and spin
for the same cores: that made the synthetic corpus seven times slower on 2 cores.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from types import ModuleType
from typing import TypeVar

from talkinghead.errors import InputError

T = TypeVar("T")
R = TypeVar("R")

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextmanager
def worker_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A pool of ``workers`` spawned processes that inherit single-threaded settings (this process's stay as they
    are once it closes)."""
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, "1"))
    try:
        with ProcessPoolExecutor(max(1, workers), mp_context=multiprocessing.get_context("spawn")) as pool:
            yield pool
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def connect_ray(address: str) -> ModuleType:
    """The ``ray`` module, connected to the cluster at ``address``; InputError when Ray is missing or unreachable."""
    try:
        import ray
    except ImportError:
        raise InputError(None, "--ray needs Ray, which is not installed (pip install ray)") from None
    try:
        ray.init(address=address)
    except Exception as exc:  # Ray's connection failures share no base class; the address is the user's
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(None, f"--ray {address}: cannot connect ({reason})") from None
    return ray


def ray_results(ray: ModuleType, function: Callable[[T], R], tasks: list[T]) -> Iterator[R]:
    """``function`` on each task as a Ray remote task (one CPU); the results as they finish, the connection closed after
    the last."""
    try:
        remote = ray.remote(num_cpus=1)(function)
        pending = [remote.remote(task) for task in tasks]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield ray.get(done[0])
    finally:
        ray.shutdown()
