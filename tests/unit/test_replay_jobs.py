"""`callpulse replay --jobs N`: the states split across processes, the report unchanged."""

from __future__ import annotations

import json
import os
import random
import threading
from pathlib import Path

import pytest

from callpulse.cli import main
from callpulse.config import Config
from callpulse.engine import Engine, shard_of
from callpulse.events import decode_event
from callpulse.inputs import read_events
from callpulse.queue import QueueParams
from producers.simulator import SimSettings, simulate

MORNING_MS = 1_763_971_200_000  # 2025-11-24T08:00:00Z


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three hours of five queues and forty agents, shuffled within the grace, with repeats."""
    events = list(simulate(SimSettings(start_ms=MORNING_MS, duration_s=3 * 3600, seed=7)))
    rng = random.Random(7)
    events += rng.sample(events, len(events) // 20)
    events.sort(key=lambda e: int(e["ts"]) + rng.randrange(50_000))  # type: ignore[call-overload]
    path = tmp_path_factory.mktemp("replay") / "day.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events) + "not json\n")
    return path


def _report(capsys: pytest.CaptureFixture[str], path: Path, jobs: int) -> dict[str, object]:
    assert main(["replay", str(path), "--json", "--interval", "15m", "--jobs", str(jobs)]) == 0
    report: dict[str, object] = json.loads(capsys.readouterr().out)
    return report


def test_any_number_of_jobs_gives_the_same_report(
        capsys: pytest.CaptureFixture[str], day: Path) -> None:
    one = _report(capsys, day, 1)
    assert len(one["queues"]) == 5 and len(one["agents"]) == 40  # type: ignore[arg-type]
    assert one["rejected"] == {"not_json": 1}
    for jobs in (2, 3):
        assert _report(capsys, day, jobs) == one


def test_shards_hold_every_state_once() -> None:
    events = [decode_event(json.dumps(e)) for e in simulate(
        SimSettings(start_ms=MORNING_MS, duration_s=1800, seed=2))]
    whole = Engine(Config(), QueueParams())
    whole.apply_all(events)  # type: ignore[arg-type]
    shards = [Engine(Config(), QueueParams(), shard=(i, 3)) for i in range(3)]
    for shard in shards:
        shard.apply_all(events)  # type: ignore[arg-type]
    for kind in ("queues", "agents"):
        held = [key for s in shards for key in getattr(s, kind)]
        assert sorted(held) == sorted(getattr(whole, kind))
    for i, shard in enumerate(shards):
        assert all(shard_of(t, q, 3) == i for t, q in shard.queues)
        assert shard.first_ts == whole.first_ts and shard.last_ts == whole.last_ts


def test_a_state_made_for_another_shards_key_takes_the_events_that_follow() -> None:
    """Engine.queue and Engine.agent make a state whatever the shard; once made, apply folds
    into it even where it had passed over that key as another shard's."""
    engine = Engine(Config(), QueueParams(), shard=(0, 2))
    queue = next(f"q{i}" for i in range(100) if shard_of("default", f"q{i}", 2) == 1)
    agent = next(f"a{i}" for i in range(100) if shard_of("default", f"a{i}", 2) == 1)
    common = {"v": 1, "source": "t", "queue": queue}
    engine.apply(decode_event(json.dumps({"type": "ringing", "id": "r1", "ts": MORNING_MS,
                                          "call_id": "c1", **common})))
    engine.apply(decode_event(json.dumps({"type": "agent_login", "id": "l1", "v": 1,
                                          "source": "t", "ts": MORNING_MS, "agent": agent,
                                          "queues": [queue]})))
    assert not engine.queues and not engine.agents  # another shard's
    q, a = engine.queue("default", queue), engine.agent("default", agent)
    engine.apply(decode_event(json.dumps({"type": "ringing", "id": "r2", "ts": MORNING_MS + 1,
                                          "call_id": "c2", **common})))
    engine.apply(decode_event(json.dumps({"type": "agent_ready", "id": "ok", "v": 1,
                                          "source": "t", "ts": MORNING_MS + 1, "agent": agent})))
    assert list(q.calls) == ["c2"]
    assert [eid for _, eid, _ in a.pending] == ["ok"]


def test_jobs_must_be_a_positive_number(capsys: pytest.CaptureFixture[str], day: Path) -> None:
    with pytest.raises(SystemExit):
        main(["replay", str(day), "--jobs", "0"])
    assert "--jobs" in capsys.readouterr().err


def test_an_error_stops_every_job_and_is_one_line(
        capsys: pytest.CaptureFixture[str], day: Path) -> None:
    code = main(["replay", str(day), "--jobs", "2", "--from", "2025-11-24T12:00:00+00:00",
                 "--until", "2025-11-24T11:00:00+00:00"])
    err = capsys.readouterr().err
    assert code == 2 and err == "callpulse: error: --until must be after --from\n"


def test_a_pipe_is_folded_once_whatever_the_jobs(
        capsys: pytest.CaptureFixture[str], day: Path, tmp_path: Path) -> None:
    """A pipe can be read once: with --jobs 3 it is not split between processes."""
    one = _report(capsys, day, 1)
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(day.read_bytes()))
    writer.start()
    code = main(["replay", str(fifo), "--format", "jsonl", "--json", "--interval", "15m",
                 "--jobs", "3"])
    writer.join()
    assert code == 0 and json.loads(capsys.readouterr().out) == one


def test_every_job_reads_the_bytes_the_file_had_at_the_start(tmp_path: Path) -> None:
    """A file still being written: each process stops where the file ended when the replay
    began (a line cut there counts as a bad line, in every process alike)."""
    lines = [json.dumps({"v": 1, "type": "ringing", "id": f"r{i}", "ts": 1_000 + i,
                         "source": "s", "call_id": f"c{i}", "queue": "q"}).encode() + b"\n"
             for i in range(3)]
    path = tmp_path / "growing.jsonl"
    path.write_bytes(b"".join(lines))
    rejected: dict[str, int] = {}
    got = list(read_events(path, "jsonl", rejected, len(lines[0]) + len(lines[1]) + 5))
    assert [e.id for e in got] == ["r0", "r1"] and rejected == {"not_json": 1}
    assert [e.id for e in read_events(path, "jsonl", {}, len(lines[0]))] == ["r0"]


def test_the_format_of_a_pipe_must_be_given(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)  # nobody writes: looking at it would block, then lose what it read
    assert main(["replay", str(fifo)]) == 2
    assert "give --format" in capsys.readouterr().err
