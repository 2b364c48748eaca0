"""``callpulse replay``: fold a file of events and report on it, on one process or several.

With several jobs, each process reads and decodes the whole file and folds the queues and agents
of its own shard (:class:`callpulse.engine.Engine`'s ``shard``); the others send their states
back as state bytes (:mod:`callpulse.codec`) and this process reports on them all. The report is
the same whatever the number of jobs: each state sees exactly the events it would see alone.
"""

from __future__ import annotations

import multiprocessing
import os
import stat
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Final

from .codec import agent_from_bytes, agent_to_bytes, queue_from_bytes, queue_to_bytes
from .config import Config
from .engine import Engine
from .errors import CallpulseError, ConfigError
from .inputs import read_events
from .queue import QueueParams
from .report import build_report

# Below this size a file folds in about a second on one process; more jobs would mostly add
# the start of the others.
MIN_BYTES_PER_EXTRA_JOB: Final = 8 * 1024 * 1024


@dataclass(frozen=True)
class Plan:
    """Everything a replay needs; each job folds the same plan."""

    path: Path
    fmt: str
    config: Config
    params: QueueParams
    from_ms: int | None
    until_ms: int | None
    size_bytes: int | None = None  # read no further (set when several processes read it)

    def engine(self, shard: tuple[int, int]) -> Engine:
        d = self.config.defaults
        return Engine(self.config, self.params, agent_timezone=d.timezone,
                      agent_day_start_min=d.day_start_min, shard=shard)


def default_jobs(path: Path) -> int:
    """One job per CPU this process may use, for a regular file big enough to be worth it."""
    size = regular_size(path)
    if size is None:
        return 1  # a pipe; or reading it will say what is wrong
    return max(1, min(len(os.sched_getaffinity(0)), 1 + size // MIN_BYTES_PER_EXTRA_JOB))


def regular_size(path: Path) -> int | None:
    """The size of a regular file, or ``None`` for anything else (a pipe, a terminal)."""
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_size if stat.S_ISREG(status.st_mode) else None


def run(plan: Plan, jobs: int) -> dict[str, Any]:
    """Fold ``plan`` on ``jobs`` processes (this one included) and return the report.

    Several processes need a regular file (each reads it whole) and read only the bytes it had
    when the replay began, so a file still being written gives them all the same events. A pipe
    can be read once: it is folded on one process, whatever ``jobs`` says."""
    size = regular_size(plan.path) if jobs > 1 else None
    if size is None:
        jobs = 1
    else:
        plan = replace(plan, size_bytes=size)
    others: list[tuple[Connection, Any]] = []
    try:
        for index in range(1, jobs):
            others.append(_start(plan, (index, jobs)))
        engine, from_ms, until_ms = _fold(plan, (0, jobs))
        for conn, process in others:
            try:
                result = conn.recv()
            except EOFError:
                process.join()
                raise CallpulseError(f"a replay job stopped without its result (exit status "
                                     f"{process.exitcode})") from None
            _adopt(engine, plan, result)
    except BaseException:
        for _, process in others:  # an error or Ctrl-C here: the others' work is not wanted
            process.terminate()
        raise
    finally:
        for conn, process in others:
            conn.close()
            process.join()
    d = plan.config.defaults
    return build_report(
        engine, from_ms=from_ms, until_ms=until_ms, interval_s=plan.params.interval_ms // 1000,
        timezone=d.timezone, sl_formula=d.sl_formula, sl_threshold_s=d.sl_threshold_s,
    )


def _fold(plan: Plan, shard: tuple[int, int]) -> tuple[Engine, int, int]:
    """Fold the file into one shard's engine, finished at the end of the report's range."""
    engine = plan.engine(shard)
    engine.apply_all(read_events(plan.path, plan.fmt, engine.rejected, plan.size_bytes))
    first = engine.first_ts if engine.first_ts is not None else 0
    last = engine.last_ts if engine.last_ts is not None else first
    from_ms = plan.from_ms if plan.from_ms is not None else first
    until_ms = plan.until_ms if plan.until_ms is not None else last + 1
    if until_ms <= from_ms:
        raise ConfigError("--until must be after --from")
    engine.finish(until_ms)
    return engine, from_ms, until_ms


def _start(plan: Plan, shard: tuple[int, int]) -> tuple[Connection, Any]:
    # Fork: the job starts with this process's modules and plan, nothing to pickle on the way in.
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_job, args=(plan, shard, send), daemon=True)
    process.start()
    send.close()
    return receive, process


def _job(plan: Plan, shard: tuple[int, int], conn: Connection) -> None:
    """One other job: fold its shard and send its states back (or the error that stopped it)."""
    try:
        engine, _, _ = _fold(plan, shard)
        conn.send((
            None,
            [(t, n, queue_to_bytes(q)) for (t, n), q in engine.queues.items()],
            [(t, n, agent_to_bytes(a)) for (t, n), a in engine.agents.items()],
        ))
    except CallpulseError as exc:
        # The same error stops this process's own fold, which reports it; this one only
        # has to say it has no result.
        conn.send((str(exc), [], []))
    finally:
        conn.close()


def _adopt(engine: Engine, plan: Plan, result: tuple[str | None, list[Any], list[Any]]) -> None:
    """Take another job's states into ``engine``."""
    error, queues, agents = result
    if error is not None:
        raise CallpulseError(error)
    engine.adopt(
        [queue_from_bytes(data, plan.config.for_queue(tenant, name), plan.params)
         for tenant, name, data in queues],
        [agent_from_bytes(data, engine.agent_calendar(), grace_ms=plan.params.grace_ms,
                          keep_intervals_ms=plan.params.keep_intervals_ms)
         for _, _, data in agents])
