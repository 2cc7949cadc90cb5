"""Independent simulations on ``dask.distributed`` (DESIGN.md section 4): no home-made scheduler.

:func:`map_on_cluster` runs ``function(item)`` for every item on a Dask cluster and returns the
results in item order. Default: a ``LocalCluster`` with one single-threaded worker *process* per
core (each ngspice run is one process; libngspice holds one circuit per process). With
``scheduler`` it connects to an existing cluster instead (e.g. one started with ``dask-jobqueue``
on SLURM, or ``dask scheduler`` / ``dask worker --nthreads 1`` by hand).

Every task is submitted with ``pure=False`` and its own key, so two items that happen to be equal
are still two tasks (Dask's default ``pure=True`` would merge identical random work); randomness
must come from explicit seeds inside the items. Failed tasks are retried; results come back as
values (arrays), never as files on a shared disk.
"""

from __future__ import annotations

import os
import uuid
from typing import Any, Callable, Sequence

DEFAULT_RETRIES = 2


class ClusterError(RuntimeError):
    """A task failed on every retry, or the scheduler cannot be reached; the message names which."""


def local_workers() -> int:
    return max(1, os.cpu_count() or 1)


def _client(scheduler: str | None, workers: int | None):
    from dask.distributed import Client, LocalCluster  # noqa: PLC0415 - heavy import only when used

    if scheduler:
        try:
            return Client(scheduler, timeout="20s"), None
        except (OSError, TimeoutError) as error:
            raise ClusterError(f"--scheduler {scheduler}: cannot connect ({error})") from None
    # No dashboard; the scheduler's small HTTP server on a free port instead of 8787, so that two
    # commands running at once do not warn about the port.
    cluster = LocalCluster(n_workers=workers or local_workers(), threads_per_worker=1, processes=True,
                           dashboard_address=None, scheduler_kwargs={"dashboard_address": ":0"},
                           silence_logs=50)  # failures are re-raised, named
    return Client(cluster), cluster


def map_on_cluster(function: Callable[[Any], Any], items: Sequence[Any], scheduler: str | None = None,
                   on_done: Callable[[int, Any], None] | None = None, retries: int = DEFAULT_RETRIES,
                   workers: int | None = None, name: str = "task") -> list:
    """``[function(item) for item in items]`` on a Dask cluster; ``on_done(index, result)`` is called
    on the client as each task finishes (for progress lines). ``function`` must be importable by the
    workers (a module-level function)."""
    from dask.distributed import as_completed  # noqa: PLC0415

    if not items:
        return []
    client, cluster = _client(scheduler, workers)
    try:
        run_id = uuid.uuid4().hex[:8]
        futures = [client.submit(function, item, pure=False, retries=retries, key=f"{name}-{run_id}-{index}")
                   for index, item in enumerate(items)]
        position = {future.key: index for index, future in enumerate(futures)}
        results: list = [None] * len(items)
        for future in as_completed(futures):
            index = position[future.key]
            try:
                results[index] = future.result()
            except Exception as error:  # noqa: BLE001 - re-raised with the task named
                for other in futures:
                    other.cancel()
                raise ClusterError(f"{name} {index}: {type(error).__name__}: {error}") from error
            if on_done is not None:
                on_done(index, results[index])
        return results
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
