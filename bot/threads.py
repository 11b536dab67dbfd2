"""Size the native thread pools (OpenMP, OpenBLAS) once, before the libraries that use them load."""
from __future__ import annotations

import os

# One embedding is ~10-40 ms of work: a second busy-waiting OpenMP thread on a shared core makes it
# up to 80x slower, never faster. Parallelism comes from request workers, one thread each.
NATIVE_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


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
