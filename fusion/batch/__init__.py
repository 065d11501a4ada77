"""Many sessions at once: each replayed as one task on Dask (or in this process), their tables gathered.

>>> from distributed import Client                                       # doctest: +SKIP
>>> from gazefusion.fusion.batch import run_batch
>>> result = run_batch(["data/p*/s*"], "results", ["aoi.size_deg=3,4.5"],
...                    client=Client("tcp://scheduler:8786"))             # doctest: +SKIP
>>> result.count("failed")                                              # doctest: +SKIP
0

:mod:`.plan` checks the inputs and makes the tasks, :mod:`.task` is one replay, :mod:`.run`
runs them on an engine, :mod:`.gather` writes the project-level tables (docs/guide/batch.md).
"""

from gazefusion.fusion.batch.plan import AoiSettings, Param, Task, expand_sessions, parse_sweep, plan_tasks
from gazefusion.fusion.batch.run import BatchInterrupted, BatchResult, run_batch
from gazefusion.fusion.batch.task import TaskOutcome, run_task

__all__ = [
    "AoiSettings",
    "BatchInterrupted",
    "BatchResult",
    "Param",
    "Task",
    "TaskOutcome",
    "expand_sessions",
    "parse_sweep",
    "plan_tasks",
    "run_batch",
    "run_task",
]
