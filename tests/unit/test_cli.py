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


def _event(kind: str, call: str, queue: str, at: str, **extra: object) -> str:
    return json.dumps({"v": 1, "id": f"{call}-{kind}", "type": kind, "ts": f"2024-05-01T{at}+02:00",
                       "source": "s", "call_id": call, "queue": queue, **extra})


QUEUE_LOG = Path(__file__).parents[1] / "fixtures" / "queue_log_all_events.log"
RING = _event("ringing", "c1", "q", "09:00:00")
ANSWER = _event("answered", "c1", "q", "09:00:30", agent="x")


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


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["replay", "x", "--interval", "7m"], "argument --interval: invalid choice: '7m'"),
        (["replay", "x", "--from", "yesterday"], "not an ISO 8601 time"),
        (["replay", "x", "--sl-formula", "nope"], "argument --sl-formula: invalid choice"),
        (["replay", "x", "--sl-threshold-s", "abc"], "invalid float value: 'abc'"),
        (["replay", "x", "--bogus"], "unrecognized arguments: --bogus"),
        (["replay"], "required: path"),
        (["erlang", "--calls", "10"], "required: --interval-s"),
    ],
)
def test_bad_flags_are_one_line_and_non_zero(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str,
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    assert exc.value.code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and "--help" in err, err



# Two queues: in q a call answered after 30 s and one abandoned after 12 s; in o a call
# answered after 30 s.
TWO_QUEUES = [
    RING, ANSWER,
    _event("ringing", "c2", "q", "09:40:00"), _event("abandoned", "c2", "q", "09:40:12"),
    _event("ringing", "c3", "o", "09:00:00"), _event("answered", "c3", "o", "09:00:30", agent="y"),
]
CONFIG = """
[defaults]
sl_threshold_s = 10

[queues.q]
sl_threshold_s = 40
short_abandon_s = 15
timezone = "Europe/Berlin"
sl_formula = "answered_only"
"""


def test_replay_config_sets_each_queue_and_flags_win_over_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    path = _write(tmp_path, TWO_QUEUES)
    config = tmp_path / "queues.toml"
    config.write_text(CONFIG)
    code, out, _ = _run(capsys, "replay", str(path), "--json", "--config", str(config))
    assert code == 0
    q, o = (json.loads(out)["queues"][name] for name in ("q", "o"))
    assert (q["sl_threshold_s"], q["timezone"], q["sl_formula"]) == (
        40, "Europe/Berlin", "answered_only")
    assert q["intervals"][0]["start"] == "2024-05-01T09:00:00+02:00"  # Berlin's hours
    assert (q["total"]["answered_within_sl"], q["total"]["short_abandoned"]) == (1, 1)
    assert q["total"]["service_level_ratio"] == 1.0  # answered_only: 1 of 1
    assert (o["sl_threshold_s"], o["timezone"]) == (10, "UTC")
    assert o["total"]["answered_within_sl"] == 0  # 30 s > the default 10 s

    code, out, _ = _run(capsys, "replay", str(path), "--json", "--config", str(config),
                        "--sl-threshold-s", "25", "--short-abandon-s", "5")
    q, o = (json.loads(out)["queues"][name] for name in ("q", "o"))
    assert (q["sl_threshold_s"], o["sl_threshold_s"]) == (25, 25)
    assert (q["total"]["answered_within_sl"], o["total"]["answered_within_sl"]) == (0, 0)
    assert q["total"]["short_abandoned"] == 0  # 12 s > 5 s


@pytest.mark.parametrize(
    ("flags", "starts"),
    [
        (["--interval", "30m"], ["09:00", "09:30"]),
        (["--interval", "15m"], ["09:00", "09:15", "09:30"]),
        (["--interval", "1d"], ["00:00"]),
        (["--interval", "1d", "--day-start", "06:30"], ["06:30"]),
        (["--interval", "1h", "--day-start", "06:30"], ["08:30", "09:30"]),
    ],
)
def test_replay_interval_and_day_start(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, flags: list[str], starts: list[str],
) -> None:
    path = _write(tmp_path, TWO_QUEUES[:4])
    code, out, _ = _run(capsys, "replay", str(path), "--json", "--timezone", "Europe/Berlin",
                        *flags)
    assert code == 0
    rows = json.loads(out)["queues"]["q"]["intervals"]
    assert [r["start"][11:16] for r in rows] == starts
    assert sum(r["offered"] for r in rows) == 2


def test_replay_short_abandon_threshold(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _write(tmp_path, TWO_QUEUES[:4])
    totals = [json.loads(_run(capsys, "replay", str(path), "--json", "--sl-threshold-s", "30",
                              *flags)[1])["queues"]["q"]["total"]
              for flags in ([], ["--short-abandon-s", "12"])]
    assert [t["short_abandoned"] for t in totals] == [0, 1]  # 12 s: within S = 12, not S = 5
    # excl_short_abandons: A<=T / (A + Ab - Ab<=S) = 1 / 2, then 1 / 1
    assert [t["service_level_ratio"] for t in totals] == [0.5, 1.0]


def test_replay_format_flag(capsys: pytest.CaptureFixture[str]) -> None:
    guessed = json.loads(_run(capsys, "replay", str(QUEUE_LOG), "--json")[1])
    named = json.loads(_run(capsys, "replay", str(QUEUE_LOG), "--json", "--format", "queue-log")[1])
    assert named == guessed and guessed["queues"]
    code, out, _ = _run(capsys, "replay", str(QUEUE_LOG), "--json", "--format", "jsonl")
    assert code == 0  # every line is rejected, with its reason; none is fatal
    report = json.loads(out)
    assert report["queues"] == {}
    assert sum(report["rejected"].values()) == len(QUEUE_LOG.read_text().splitlines())


def test_a_leading_byte_order_mark_is_not_content(
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    plain_jsonl = _write(tmp_path, TWO_QUEUES)
    for plain in (plain_jsonl, QUEUE_LOG):
        marked = tmp_path / f"bom-{plain.name}"
        marked.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
        reports = [json.loads(_run(capsys, "replay", str(p), "--json", "--jobs", "1")[1])
                   for p in (plain, marked)]
        assert reports[0] == reports[1] and reports[0]["queues"]
