"""Run a batch: plan, prepare the output folder, run the tasks on an engine, gather.

Engines: a local Dask cluster that the batch starts and stops (worker processes, one thread
each), an existing Dask cluster (a scheduler address, or a ``dask.distributed.Client`` the
caller made, e.g. on Kubernetes or an HPC queue through dask-jobqueue), or this process
alone (``workers=1``, no Dask). Every engine runs the same :func:`~.task.run_task`, so the
outputs are the same whichever ran them, in whatever order the tasks finished.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from tqdm import tqdm

from gazefusion.fusion.analyse import DEFAULT_MARGIN_DEG
from gazefusion.fusion.batch.gather import SUMMARY_FILE, gather
from gazefusion.fusion.batch.plan import (
    AoiSettings,
    Param,
    Task,
    check_aoi_settings,
    check_sweep_for_sessions,
    expand_sessions,
    parse_sweep,
    plan_tasks,
    session_names,
)
from gazefusion.fusion.batch.task import PART_SUFFIX, TaskOutcome, finished_outcome, run_task
from gazefusion.fusion.errors import ConfigError, GazefusionError, OutputError
from gazefusion.fusion.files import read_yaml, write_yaml_atomic
from gazefusion.fusion.version import software_version

if TYPE_CHECKING:
    from distributed import Client

log = logging.getLogger(__name__)

PRE_SPAWN_ENVIRON = "distributed.nanny.pre-spawn-environ"
"""Dask's configuration of the environment a worker process starts with."""
BATCH_FILE = "batch.yaml"
"""What the batch was asked to do, in its folder (a folder with one is a batch's)."""


class BatchResult(NamedTuple):
    """What a batch did.

    Attributes
    ----------
    out_dir : pathlib.Path
        The batch's folder.
    outcomes : list of TaskOutcome
        Every task's outcome in plan order (sessions as given, parameter sets in sweep order).
    skipped : frozenset of str
        The output folders of tasks an earlier run had finished (``resume``), not run again.
    wall_s : float
        Wall-clock time from the start to the tables written, s.
    engine : str
        What ran the tasks (``in process``, ``local Dask cluster of 2 workers``, a scheduler address).
    tables : list of pathlib.Path
        The project-level tables written, sessions.tsv first.
    """

    out_dir: Path
    outcomes: list[TaskOutcome]
    skipped: frozenset[str]
    wall_s: float
    engine: str
    tables: list[Path]

    def count(self, status: str) -> int:
        """How many tasks ended with a status.

        Parameters
        ----------
        status : str
            ``done``, ``failed`` or ``not run``.
        """
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    @property
    def session_s(self) -> float:
        """Session time replayed by this run (tasks an earlier run finished not counted), s."""
        return sum(o.duration_s for o in self.outcomes if o.status == "done" and o.task.out not in self.skipped)


class BatchInterrupted(GazefusionError):
    """Ctrl-C: the workers were stopped, the finished tasks' folders and the tables of them were kept.

    Parameters
    ----------
    message : str
        The one line: how many finished, where, and how to do the rest.
    result : BatchResult
        What was finished (the others are ``not run``).
    """

    exit_code = 130

    def __init__(self, message: str, result: BatchResult) -> None:
        super().__init__(message)
        self.result = result


def _installed_version() -> str:
    try:
        return importlib.metadata.version("gazefusion")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


# --- the output folder ---------------------------------------------------------------------------


def check_out_dir(out_dir: Path, params: Sequence[Param], aois: AoiSettings, overwrite: bool, resume: bool) -> bool:
    """Whether `out_dir` may be written as asked (nothing is changed); True if it holds a batch.

    Raises
    ------
    ConfigError
        ``overwrite`` with ``resume``; a file; a folder that holds a batch without either
        flag; a folder holding other things; ``resume`` with other sweep values or AOI
        settings than the batch it resumes.
    """
    if overwrite and resume:
        raise ConfigError(
            "--overwrite and --resume exclude each other: --resume keeps what finished, --overwrite discards it"
        )
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--out {out_dir} is a file: name a folder")
    holds_batch = (out_dir / BATCH_FILE).is_file()
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not holds_batch:
            raise ConfigError(f"--out {out_dir} holds other files and no batch: name a new or empty folder")
        if not (overwrite or resume):
            raise ConfigError(
                f"--out {out_dir} holds a batch already: --resume to finish it, --overwrite to replace it, "
                "or name another folder"
            )
    if holds_batch and resume:
        _check_same_settings(out_dir, params, aois)
    return holds_batch


def prepare_out_dir(
    out_dir: Path, tasks: Sequence[Task], holds_batch: bool, overwrite: bool, resume: bool
) -> list[TaskOutcome]:
    """Make the checked folder ready; returns the tasks an earlier run finished (with `resume`).

    Raises
    ------
    OutputError
        The folder cannot be made or cleared.
    """
    finished: list[TaskOutcome] = []
    try:
        if holds_batch and overwrite:
            _clear(out_dir)
        elif holds_batch and resume:
            for part in (out_dir / "sessions").glob(f"**/*{PART_SUFFIX}*"):
                shutil.rmtree(part, ignore_errors=True)  # a task a killed or interrupted run left half-written
            for task in tasks:
                outcome = finished_outcome(out_dir, task)
                if outcome is not None:
                    finished.append(outcome)
                elif (out_dir / task.out).exists():
                    shutil.rmtree(out_dir / task.out)  # not finished, or under another session: replayed again
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot prepare --out {out_dir}: {exc.strerror or exc}") from None
    return finished


def _clear(out_dir: Path) -> None:
    """Remove what a batch wrote (sessions/, batch.yaml, the tables and sidecars); leave anything else."""
    shutil.rmtree(out_dir / "sessions", ignore_errors=True)
    for entry in out_dir.iterdir():
        if entry.is_file() and (entry.name == BATCH_FILE or entry.suffix in (".tsv", ".json")):
            entry.unlink()


def _sweep_record(params: Sequence[Param]) -> dict[str, list[str]]:
    return {param.key: list(param.texts) for param in params}


def _aoi_record(aois: AoiSettings) -> dict[str, Any]:
    return {
        "file": None if aois.aoi_file is None else str(Path(aois.aoi_file).resolve()),
        "margin_deg": aois.margin_deg,
    }


def _check_same_settings(out_dir: Path, params: Sequence[Param], aois: AoiSettings) -> None:
    recorded = read_yaml(out_dir / BATCH_FILE, "batch", ConfigError)
    recorded = recorded if isinstance(recorded, dict) else {}
    before = recorded.get("sweep")
    if (before or {}) != _sweep_record(params):
        raise ConfigError(
            f"--resume: {out_dir} was run with --sweep {before or 'none'}, not {_sweep_record(params) or 'none'}: "
            "resume with the same sweep, or --overwrite"
        )
    before = recorded.get("aoi_metrics", _aoi_record(AoiSettings()))
    if before != _aoi_record(aois):
        raise ConfigError(
            f"--resume: {out_dir} was run with --aois {before.get('file') or 'none'} --margin-deg "
            f"{before.get('margin_deg')}, not {_aoi_record(aois)['file'] or 'none'} {aois.margin_deg:g}: "
            "resume with the same AOI settings, or --overwrite"
        )


# --- engines -----------------------------------------------------------------------------------


class Engine:
    """Runs tasks, yielding each outcome as it finishes; ``running`` is how many run now."""

    name = "in process"

    def __init__(self) -> None:
        self.running = 0

    def run(self, tasks: Sequence[Task], out_root: str, aois: AoiSettings) -> Iterator[TaskOutcome]:
        """Run the tasks one after another in this process."""
        for task in tasks:
            self.running = 1
            yield run_task(task, out_root, aois)
        self.running = 0

    def close(self) -> None:
        """Stop whatever the engine started."""


class DaskEngine(Engine):
    """Tasks on a Dask cluster, collected with ``as_completed``.

    Parameters
    ----------
    client : distributed.Client
        The cluster's client.
    name : str
        What the cluster is, for the summary line.
    owned : list
        What to close at the end (the client and cluster this engine started). (default: ())
    """

    def __init__(self, client: Client, name: str, owned: Sequence[Any] = ()) -> None:
        super().__init__()
        self.client = client
        self.name = name
        self.owned = list(owned)
        self.futures: list[Any] = []

    def run(self, tasks: Sequence[Task], out_root: str, aois: AoiSettings) -> Iterator[TaskOutcome]:
        """Submit every task (longest sessions first, so the last ones are short), yield as they finish."""
        from distributed import as_completed

        by_future = {}
        for task in tasks:
            future = self.client.submit(
                run_task, task, out_root, aois, pure=False, key=f"gazefusion-replay-{task.out}-{os.urandom(4).hex()}"
            )
            by_future[future] = task
        self.futures = list(by_future)
        threads = max(1, sum(self.client.nthreads().values()))
        pending = len(tasks)
        self.running = min(pending, threads)
        for future in as_completed(self.futures, loop=self.client.loop):
            task = by_future[future]
            try:
                outcome = future.result()
            except Exception as exc:  # the task itself never raises: this is its worker dying, or the cluster
                outcome = TaskOutcome(task, "failed", _engine_failure(exc))
            pending -= 1
            threads = max(1, sum(self.client.nthreads().values()))
            self.running = min(pending, threads)
            yield outcome

    def close(self) -> None:
        """Cancel what has not run; close the client and the local cluster if this engine started them."""
        if self.futures:
            try:
                self.client.cancel(self.futures)
            except Exception:  # the cluster may be gone already; nothing left to cancel then
                log.debug("cancelling the batch's tasks failed", exc_info=True)
        for thing in reversed(self.owned):
            thing.close()
        self.owned = []


def _engine_failure(exc: Exception) -> str:
    from distributed.scheduler import KilledWorker

    if isinstance(exc, KilledWorker):
        return f"its worker process died {exc.allowed_failures + 1} times running it (out of memory, or killed)"
    return f"{type(exc).__name__}: {exc}"


def local_engine(workers: int) -> DaskEngine:
    """A local Dask cluster of `workers` processes with one thread each, started now.

    Its workers keep glibc's own malloc thresholds: Dask sets ``MALLOC_TRIM_THRESHOLD_`` in
    a worker's environment, which also fixes the threshold above which glibc maps memory
    afresh, so every frame-sized array is mapped, zero-filled and unmapped again: two
    replays took 0.7 s more system CPU with it, about 8 % (docs/benchmarks/batch.md).
    """
    import dask
    from distributed import Client, LocalCluster

    try:
        with dask.config.set({f"{PRE_SPAWN_ENVIRON}.MALLOC_TRIM_THRESHOLD_": None}):
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
                silence_logs=logging.ERROR,
            )
    except Exception as exc:
        raise GazefusionError(f"cannot start a local Dask cluster of {workers} workers: {exc}") from None
    client = Client(cluster, set_as_default=False)
    return DaskEngine(client, f"a local Dask cluster of {workers} worker processes", [client, cluster])


def scheduler_engine(address: str, timeout_s: float) -> DaskEngine:
    """A client of the Dask scheduler at `address`, checked: reachable, with workers that have this gazefusion.

    Raises
    ------
    ConfigError
        The address is not one, nothing answers there within `timeout_s`, no worker joins
        within it, or the workers lack gazefusion or have another version of it.
    """
    from distributed import Client

    try:
        client = Client(address, timeout=timeout_s, set_as_default=False)
    except ValueError as exc:
        raise ConfigError(f"--scheduler {address}: not a scheduler address ({exc}); expected tcp://HOST:PORT") from None
    except (OSError, TimeoutError) as exc:
        reason = str(exc).split(":")[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"cannot reach the Dask scheduler at {address} within {timeout_s:g} s ({reason}): "
            "check the address, or start one with `dask scheduler` and `dask worker ADDRESS`"
        ) from None
    try:
        try:
            client.wait_for_workers(1, timeout=timeout_s)
        except (TimeoutError, OSError):
            raise ConfigError(
                f"the Dask scheduler at {address} has no workers: start some with `dask worker {address}`"
            ) from None
        ours = _installed_version()
        try:
            theirs = client.run(importlib.metadata.version, "gazefusion")
        except Exception as exc:
            raise ConfigError(
                f"the Dask workers at {address} cannot run gazefusion ({type(exc).__name__}: {exc}): install it there"
            ) from None
        other = {worker: version for worker, version in theirs.items() if version != ours}
        if other:
            worker, version = next(iter(other.items()))
            raise ConfigError(
                f"Dask worker {worker} has gazefusion {version}, this is {ours}: install the same version on every worker"
            )
    except BaseException:
        client.close()
        raise
    return DaskEngine(client, f"the Dask cluster at {address}", [client])


def client_engine(client: Client) -> DaskEngine:
    """An engine on a client the caller made and keeps (it is not closed)."""
    return DaskEngine(client, f"the Dask cluster at {client.scheduler.address if client.scheduler else 'a client'}")


# --- the batch ---------------------------------------------------------------------------------


def _size(task: Task) -> int:
    """Bytes a task reads (video and gaze), to start the longest first."""
    total = 0
    for name in ("video.mjpeg", "gaze.tsv"):
        try:
            total += (Path(task.path) / name).stat().st_size
        except OSError:
            pass
    return total


def run_batch(
    sessions: Sequence[str | Path],
    out_dir: str | Path,
    sweep: Sequence[str] = (),
    *,
    client: Client | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    overwrite: bool = False,
    resume: bool = False,
    progress: bool = False,
    on_outcome: Callable[[TaskOutcome], None] | None = None,
    connect_timeout_s: float = 10.0,
    aoi_file: str | Path | None = None,
    margin_deg: float = DEFAULT_MARGIN_DEG,
) -> BatchResult:
    """Replay many sessions, each as one task, and gather their tables.

    Everything is checked before any task starts (sessions, sweep, engine, output folder).

    Parameters
    ----------
    sessions : Sequence of str or pathlib.Path
        Session folders and globs (``"data/p*/s*"``).
    out_dir : str or pathlib.Path
        The batch's folder: ``sessions/NAME[/PARAMS]/`` per task (what ``gazefusion replay
        --out`` writes), the project-level tables and ``sessions.tsv``; on a cluster, a
        folder every worker sees.
    sweep : Sequence of str
        ``KEY=V1,V2`` each; every session is replayed under every combination. (default: ())
    client : distributed.Client or None
        Run on this Dask cluster (the caller's: it is left open). (default: None)
    workers : int or None
        Without `client` or `scheduler`: worker processes of a local Dask cluster started
        and stopped here; 1 runs in this process without Dask; None: the number of CPUs.
        (default: None)
    scheduler : str or None
        Address of an existing Dask scheduler (``tcp://HOST:PORT``). (default: None)
    overwrite : bool
        Replace the batch in `out_dir`. (default: False)
    resume : bool
        Finish the batch in `out_dir`: tasks it finished are not run again. (default: False)
    progress : bool
        A progress bar on stderr (done, running, failed). (default: False)
    on_outcome : callable or None
        Called with each task's outcome as it finishes (e.g. to print the failed). (default: None)
    connect_timeout_s : float
        How long to wait for `scheduler` and its first worker, s. (default: 10.0)
    aoi_file : str, pathlib.Path or None
        AOIs per marker for the AOI metrics, instead of the marker library's (``gazefusion
        metrics --aois``). (default: None)
    margin_deg : float
        Margin around every AOI, degrees of visual angle. (default: `DEFAULT_MARGIN_DEG`)

    Raises
    ------
    ConfigError
        A bad session, sweep, engine or output folder (nothing has run).
    BatchInterrupted
        Ctrl-C: what finished is kept and gathered; ``resume`` finishes the rest.
    """
    started = time.monotonic()
    folders = expand_sessions([str(s) for s in sessions])
    params = parse_sweep(sweep)
    check_sweep_for_sessions(params, folders, session_names(folders))
    aois = check_aoi_settings(aoi_file, margin_deg, folders, params)
    tasks = plan_tasks(folders, params)
    if client is not None and scheduler is not None:
        raise ConfigError("a client and a scheduler address: give one of them")
    if workers is not None and (client is not None or scheduler is not None):
        raise ConfigError(
            "--workers sets the size of a local cluster; with --scheduler the cluster's own workers run the tasks"
        )
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers {workers}: expected a whole number >= 1")
    if not connect_timeout_s > 0:
        raise ConfigError(f"--connect-timeout {connect_timeout_s:g}: expected a number of seconds > 0")
    out = Path(out_dir).expanduser().resolve()
    for folder in folders:
        if out == folder or folder in out.parents:
            raise ConfigError(f"--out {out} is inside the session {folder}: write the batch elsewhere")
    holds_batch = check_out_dir(out, params, aois, overwrite, resume)
    # The engine before the folder is touched: an unreachable scheduler changes nothing.
    with ExitStack() as stack:
        if client is not None:
            engine: Engine = client_engine(client)
        elif scheduler is not None:
            engine = scheduler_engine(scheduler, connect_timeout_s)
        else:
            count = (os.cpu_count() or 1) if workers is None else workers
            engine = Engine() if count == 1 else local_engine(max(1, min(count, len(tasks))))
        stack.callback(engine.close)
        finished = prepare_out_dir(out, tasks, holds_batch, overwrite, resume)
        write_yaml_atomic(out / BATCH_FILE, _batch_record(tasks, params, aois, engine.name, "running"))
        done_before = {outcome.task.out for outcome in finished}
        pending = sorted((t for t in tasks if t.out not in done_before), key=_size, reverse=True)
        outcomes: dict[str, TaskOutcome] = {outcome.task.out: outcome for outcome in finished}
        interrupted = False
        bar = tqdm(
            total=len(tasks),
            initial=len(finished),
            unit="session",
            desc="batch",
            disable=not progress,
            leave=False,
            dynamic_ncols=True,
        )
        failed = 0
        try:
            for outcome in engine.run(pending, str(out), aois):
                outcomes[outcome.task.out] = outcome
                failed += outcome.status == "failed"
                bar.update(1)
                bar.set_postfix_str(f"running {engine.running}, failed {failed}", refresh=False)
                if on_outcome is not None:
                    on_outcome(outcome)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            bar.close()
        if interrupted:
            engine.close()  # the local cluster's workers stop now; what they had half-written is removed
            for part in (out / "sessions").glob(f"**/*{PART_SUFFIX}*"):
                shutil.rmtree(part, ignore_errors=True)
    # A task whose folder is complete but whose result had not come back when Ctrl-C came is done.
    ordered = [
        outcomes.get(task.out)
        or finished_outcome(out, task)
        or TaskOutcome(task, "not run", "the batch was interrupted (Ctrl-C) first")
        for task in tasks
    ]
    tables = gather(out, ordered, [param.key for param in params])
    result = BatchResult(out, ordered, frozenset(done_before), time.monotonic() - started, engine.name, tables)
    state = "interrupted" if interrupted else "finished"
    write_yaml_atomic(out / BATCH_FILE, _batch_record(tasks, params, aois, engine.name, state, result))
    if interrupted:
        raise BatchInterrupted(
            f"interrupted: {result.count('done')} of {len(tasks)} replays finished and kept in {out} "
            f"(tables of them written); rerun with --resume to do the rest",
            result,
        )
    return result


def _batch_record(
    tasks: Sequence[Task],
    params: Sequence[Param],
    aois: AoiSettings,
    engine: str,
    state: str,
    result: BatchResult | None = None,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "state": state,
        "time": _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds"),
        "software": {"name": "gazefusion", "version": software_version()},
        "engine": engine,
        "sweep": _sweep_record(params),
        "aoi_metrics": _aoi_record(aois),
        "sessions": {task.session: task.path for task in tasks},
        "summary_table": SUMMARY_FILE,
    }
    if result is not None:
        record["counts"] = {status: result.count(status) for status in ("done", "failed", "not run")}
        record["skipped"] = len(result.skipped)
        record["wall_s"] = round(result.wall_s, 3)
    return record
