"""The `callpulse` command line: output shapes, flags and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from callpulse.cli import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_erlang_published_vector(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "erlang", "--calls", "100", "--interval-s", "1800", "--aht-s",
                        "180", "--target-s", "20", "--agents", "14", "--sl-goal", "0.8",
                        "--shrinkage", "0.3", "--json")
    assert code == 0
    got = json.loads(out)
    assert got["traffic_erlangs"] == 10.0
    assert got["p_wait"] == 0.1741
    assert got["service_level_ratio"] == 0.8884
    assert got["asa_s"] == 7.84
    assert round(got["occupancy_ratio"], 3) == 0.714
    assert (got["agents_needed"], got["positions_with_shrinkage"]) == (14, 20)


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "day.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


RING = ('{"v":1,"id":"r1","type":"ringing","ts":"2024-05-01T09:00:00+02:00","source":"s",'
        '"call_id":"c1","queue":"q"}')
ANSWER = ('{"v":1,"id":"a1","type":"answered","ts":"2024-05-01T09:00:30+02:00","source":"s",'
          '"call_id":"c1","queue":"q","agent":"x"}')


def test_replay_jsonl_counts_bad_lines_and_honours_flags(
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    path = _write(tmp_path, [RING, "not json", '{"v":1}', ANSWER])
    code, out, _ = _run(capsys, "replay", str(path), "--json", "--interval", "15m",
                        "--timezone", "Europe/Paris", "--sl-threshold-s", "30",
                        "--sl-formula", "answered_only")
    assert code == 0
    report = json.loads(out)
    assert report["rejected"] == {"missing_field": 1, "not_json": 1}
    q = report["queues"]["q"]
    assert q["total"]["answered_within_sl"] == 1  # 30 s wait, T = 30 s
    assert q["intervals"][0]["start"] == "2024-05-01T09:00:00+02:00"
    assert report["interval_s"] == 900 and report["sl_formula"] == "answered_only"


def test_replay_from_until_fix_the_range(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _write(tmp_path, [RING, ANSWER])
    code, out, _ = _run(capsys, "replay", str(path), "--json", "--from", "2024-05-01T06:00:00+00:00",
                        "--until", "2024-05-01T09:00:00+00:00")
    assert code == 0
    rows = json.loads(out)["queues"]["q"]["intervals"]
    assert [r["start"][11:16] for r in rows] == ["06:00", "07:00", "08:00"]
    assert [r["offered"] for r in rows] == [0, 1, 0]


def test_table_output_is_readable(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = _run(capsys, "replay", str(_write(tmp_path, [RING, ANSWER])))
    assert code == 0
    assert "queue q" in out and "total" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["replay", "/nonexistent/file.jsonl"], "cannot read"),
        (["replay", "{path}", "--timezone", "Mars/Olympus"], "unknown IANA time zone"),
        (["replay", "{path}", "--day-start", "25:00"], "day start"),
        (["erlang", "--calls", "-1", "--interval-s", "1800", "--aht-s", "180", "--target-s", "20"],
         "calls"),
    ],
)
def test_errors_are_one_line_and_non_zero(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], message: str,
) -> None:
    path = _write(tmp_path, [RING])
    code, out, err = _run(capsys, *[a.replace("{path}", str(path)) for a in argv])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err


def test_bad_flag_exits_non_zero(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["replay", "x", "--interval", "7m"])
    assert exc.value.code == 2
