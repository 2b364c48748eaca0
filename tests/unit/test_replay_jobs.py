"""`callpulse replay --jobs N`: the states split across processes, the report unchanged."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from callpulse.cli import main
from callpulse.config import Config
from callpulse.engine import Engine, shard_of
from callpulse.events import decode_event
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


def test_jobs_must_be_a_positive_number(capsys: pytest.CaptureFixture[str], day: Path) -> None:
    with pytest.raises(SystemExit):
        main(["replay", str(day), "--jobs", "0"])
    assert "--jobs" in capsys.readouterr().err
