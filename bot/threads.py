"""Size the native thread pools (OpenMP, OpenBLAS) once, before the libraries that use them load."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

# One embedding is ~10-40 ms of work: a second busy-waiting OpenMP thread on a shared core makes it
# up to 80x slower, never faster. Parallelism comes from request workers, one thread each.
NATIVE_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def cores() -> int:
    """Return the CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def limit_native_threads(threads: int = 1) -> None:
    """Set the native pools to `threads` threads with passive waiting, unless the environment chose already."""
    for name in NATIVE_THREAD_VARS:
        os.environ.setdefault(name, str(threads))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the environment variables above still apply to libraries loaded later
        return
    # Pools of libraries already loaded (numpy's OpenBLAS comes in with chromadb) are resized in place.
    threadpool_limits(limits=int(os.environ["OMP_NUM_THREADS"]))


@contextmanager
def all_cores() -> Iterator[int]:
    """Let OpenMP work started by this thread use every core (batch embedding at index time), then restore.

    OpenMP limits are per thread: request threads keep their one thread meanwhile.
    """
    from threadpoolctl import ThreadpoolController

    n = cores()
    with ThreadpoolController().select(user_api="openmp").limit(limits=n):
        yield n
